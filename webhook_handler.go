package amojo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWebhookMaxBody is the body size limit of a WebhookHandler unless
// WithMaxBodyBytes says otherwise.
const DefaultWebhookMaxBody = 1 << 20

// DefaultWebhookSyncTimeout bounds a synchronous callback so that amoCRM,
// which waits at most 5 seconds, gets its answer in time.
const DefaultWebhookSyncTimeout = 4 * time.Second

// The fixed texts a WebhookHandler answers with. None of them depends on the
// request, so nothing the sender sent (nor any secret) is ever echoed.
const (
	webhookTextOK            = "ok"
	webhookTextBadSignature  = "invalid signature"
	webhookTextTooLarge      = "body too large"
	webhookTextMalformed     = "malformed body"
	webhookTextMethod        = "method not allowed"
	webhookTextNoSecret      = "webhook secret not configured"
	webhookTextMisconfigured = "webhook handler misconfigured"
	webhookTextHandlerError  = "handler error"
	webhookTextTimeout       = "handler timeout"
	webhookTextQueueFull     = "queue full"
	webhookTextClosed        = "shutting down"
)

// WebhookOption configures a WebhookHandler.
type WebhookOption func(*webhookConfig) error

type webhookConfig struct {
	extraSecrets []string
	maxBody      int64
	syncTimeout  time.Duration
	async        bool
	queueSize    int
	workers      int
	onError      func(*WebhookEvent, error)
	logger       *slog.Logger
}

// WithWebhookSecrets accepts webhooks signed with any of extra as well as with
// the main secret, for the time a channel secret is being rotated. Empty
// secrets are a configuration error.
func WithWebhookSecrets(extra ...string) WebhookOption {
	return func(c *webhookConfig) error {
		for i, s := range extra {
			if s == "" {
				return invalid(fmt.Sprintf("WebhookSecrets[%d]", i), "empty")
			}
		}
		c.extraSecrets = append(c.extraSecrets, extra...)
		return nil
	}
}

// WithMaxBodyBytes limits the size of a webhook body (default
// DefaultWebhookMaxBody, 1 MiB); a larger body is answered 413.
func WithMaxBodyBytes(n int64) WebhookOption {
	return func(c *webhookConfig) error {
		if n <= 0 {
			return invalid("MaxBodyBytes", "not positive")
		}
		c.maxBody = n
		return nil
	}
}

// WithSyncTimeout bounds the callback in synchronous mode (default
// DefaultWebhookSyncTimeout, 4 s): its context expires after d, and the
// handler answers 503 at that point even if the callback has not returned.
// Keep d under 5 seconds, the time amoCRM waits for the answer.
func WithSyncTimeout(d time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if d <= 0 {
			return invalid("SyncTimeout", "not positive")
		}
		c.syncTimeout = d
		return nil
	}
}

// WithAsync makes the handler answer 200 as soon as the event is queued and
// run the callback on workers goroutines, which take events from a queue of
// queueSize events (0 hands events only to an idle worker). When the queue is
// full the webhook is answered 503 and reported with ErrWebhookQueueFull.
// Workers start with the handler; call Close to stop them.
func WithAsync(queueSize, workers int) WebhookOption {
	return func(c *webhookConfig) error {
		if queueSize < 0 {
			return invalid("Async.QueueSize", "negative")
		}
		if workers < 1 {
			return invalid("Async.Workers", "less than 1")
		}
		c.async, c.queueSize, c.workers = true, queueSize, workers
		return nil
	}
}

// WithErrorHandler sets the function told about every webhook that was not
// handled successfully: a callback error or panic, a full queue, a timeout, a
// webhook refused because of its signature, size or body, and a configuration
// error. ev is the event when there is one (nil for a refused request). It may
// be called from several goroutines at once and must not panic.
func WithErrorHandler(fn func(ev *WebhookEvent, err error)) WebhookOption {
	return func(c *webhookConfig) error {
		if fn == nil {
			return invalid("ErrorHandler", "nil")
		}
		c.onError = fn
		return nil
	}
}

// WithWebhookLogger logs the same failures WithErrorHandler reports (refused
// requests at warning level, lost or failed events at error level) with the
// scope id, event kind and account id; bodies, secrets and signatures are
// never logged. Without this option and without WithErrorHandler, failures
// are logged to slog.Default(), so that none goes unnoticed.
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(c *webhookConfig) error {
		if l == nil {
			return invalid("WebhookLogger", "nil")
		}
		c.logger = l
		return nil
	}
}

// WebhookHandler receives amoCRM's chat webhooks. It is an http.Handler: mount
// it at the path of the webhook URL registered for the channel, whose last
// segment amoCRM fills with the scope id. For each request it checks the
// method (POST, else 405), limits the body (413), verifies X-Signature against
// the raw body (401), decodes the event (400), sets the event's ScopeID from
// the last path segment, and hands the event to the callback. Every answer is
// a short fixed text.
//
// By default the callback runs synchronously, bounded by the sync timeout, and
// its outcome decides the answer: 200 on nil, 500 on an error, 503 on timeout.
// With WithAsync the handler answers 200 once the event is queued. amoCRM
// sends each webhook once and never retries, so every event that is not
// handled is reported to the error handler or the log, never dropped quietly.
type WebhookHandler struct {
	fn          func(context.Context, *WebhookEvent) error
	secrets     []string
	maxBody     int64
	syncTimeout time.Duration
	onError     func(*WebhookEvent, error)
	logger      *slog.Logger
	cfgErr      error
	cfgText     string

	queue chan queuedEvent // nil in synchronous mode

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	base   context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers and running synchronous callbacks
}

var _ http.Handler = (*WebhookHandler)(nil)

type queuedEvent struct {
	ctx context.Context
	ev  *WebhookEvent
}

// NewWebhookHandler returns a handler that verifies webhooks with secret (the
// channel secret) and passes each event to fn. fn gets a context that carries
// the request's values but is not cancelled when the sender hangs up; it is
// cancelled at the sync timeout (synchronous mode) or when Close gives up.
//
// A configuration error (empty secret, nil fn, an invalid option) does not
// panic: the handler then answers every request 500 ("webhook secret not
// configured" or "webhook handler misconfigured") and reports the error; Err
// returns it, so a server can refuse to start.
func NewWebhookHandler(secret string, fn func(ctx context.Context, ev *WebhookEvent) error, opts ...WebhookOption) *WebhookHandler {
	c := webhookConfig{maxBody: DefaultWebhookMaxBody, syncTimeout: DefaultWebhookSyncTimeout}
	var cfgErr error
	for i, opt := range opts {
		if opt == nil {
			cfgErr = firstErr(cfgErr, invalid(fmt.Sprintf("opts[%d]", i), "nil option"))
			continue
		}
		if err := opt(&c); err != nil {
			cfgErr = firstErr(cfgErr, err)
		}
	}
	h := &WebhookHandler{
		fn:          fn,
		secrets:     append([]string{secret}, c.extraSecrets...),
		maxBody:     c.maxBody,
		syncTimeout: c.syncTimeout,
		onError:     c.onError,
		logger:      c.logger,
		cfgText:     webhookTextMisconfigured,
	}
	h.base, h.cancel = context.WithCancel(context.Background())
	if h.onError == nil && h.logger == nil {
		h.logger = slog.Default()
	}
	switch {
	case secret == "":
		h.cfgErr, h.cfgText = invalid("secret", "empty"), webhookTextNoSecret
	case fn == nil:
		h.cfgErr = invalid("fn", "nil")
	default:
		h.cfgErr = cfgErr
	}
	if h.cfgErr != nil {
		h.report(context.Background(), nil, h.cfgErr)
		return h
	}
	if c.async {
		h.queue = make(chan queuedEvent, c.queueSize)
		h.wg.Add(c.workers)
		for range c.workers {
			go h.work()
		}
	}
	return h
}

// firstErr keeps the first error.
func firstErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// Err returns the configuration error that makes the handler refuse every
// request, or nil.
func (h *WebhookHandler) Err() error { return h.cfgErr }

// String describes the handler without its secrets.
func (h *WebhookHandler) String() string {
	mode := "sync"
	if h.queue != nil {
		mode = fmt.Sprintf("async, queue %d", cap(h.queue))
	}
	return fmt.Sprintf("amojo.WebhookHandler{%s, secrets: %d (redacted)}", mode, len(h.secrets))
}

// LogValue describes the handler to log/slog without its secrets.
func (h *WebhookHandler) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("async", h.queue != nil), slog.Int("secrets", len(h.secrets)))
}

// Close stops the handler: later requests are answered 503, queued events are
// still handled, and Close waits for the workers and running callbacks to
// finish. If ctx ends first, callbacks' contexts are cancelled, events still
// queued are reported with ErrWebhookClosed instead of being handled, and
// Close returns ctx's error. Close may be called more than once.
func (h *WebhookHandler) Close(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		if h.queue != nil {
			close(h.queue)
		}
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		h.cancel()
		return nil
	case <-ctx.Done():
		h.cancel()
		return fmt.Errorf("amojo: closing webhook handler: %w", ctx.Err())
	}
}

// ServeHTTP handles one webhook request.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.cfgErr != nil {
		h.report(ctx, nil, h.cfgErr)
		reply(w, http.StatusInternalServerError, h.cfgText)
		return
	}
	if r.Method != http.MethodPost {
		if h.logger != nil {
			h.logger.LogAttrs(ctx, slog.LevelDebug, "amojo webhook: method not allowed", slog.String("method", r.Method))
		}
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, webhookTextMethod)
		return
	}
	if r.ContentLength > h.maxBody {
		h.report(ctx, nil, ErrWebhookTooLarge)
		reply(w, http.StatusRequestEntityTooLarge, webhookTextTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.report(ctx, nil, ErrWebhookTooLarge)
			reply(w, http.StatusRequestEntityTooLarge, webhookTextTooLarge)
			return
		}
		h.report(ctx, nil, fmt.Errorf("%w: reading: %w", ErrMalformedWebhook, err))
		reply(w, http.StatusBadRequest, webhookTextMalformed)
		return
	}
	if err := VerifyWebhookAny(h.secrets, body, r.Header.Get(WebhookSignatureHeader)); err != nil {
		h.report(ctx, nil, err)
		reply(w, http.StatusUnauthorized, webhookTextBadSignature)
		return
	}
	ev, err := ParseWebhook(body)
	if err != nil {
		h.report(ctx, nil, err)
		reply(w, http.StatusBadRequest, webhookTextMalformed)
		return
	}
	ev.ScopeID = lastPathSegment(r.URL)

	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		h.report(ctx, ev, fmt.Errorf("%w: event not handled", ErrWebhookClosed))
		reply(w, http.StatusServiceUnavailable, webhookTextClosed)
		return
	}
	evCtx := context.WithoutCancel(ctx)
	if h.queue != nil {
		select {
		case h.queue <- queuedEvent{ctx: evCtx, ev: ev}:
			h.mu.RUnlock()
			reply(w, http.StatusOK, webhookTextOK)
		default:
			h.mu.RUnlock()
			h.report(ctx, ev, ErrWebhookQueueFull)
			reply(w, http.StatusServiceUnavailable, webhookTextQueueFull)
		}
		return
	}
	h.wg.Add(1)
	h.mu.RUnlock()
	h.serveSync(w, evCtx, ev)
}

// serveSync runs the callback and answers with its outcome, or at the sync
// timeout if the callback is still running then.
func (h *WebhookHandler) serveSync(w http.ResponseWriter, evCtx context.Context, ev *WebhookEvent) {
	ctx, cancel := context.WithTimeout(evCtx, h.syncTimeout)
	stop := context.AfterFunc(h.base, cancel)
	const (
		pending = iota
		returned
		abandoned
	)
	var state atomic.Int32
	res := make(chan error, 1)
	go func() {
		defer h.wg.Done()
		defer cancel()
		defer stop()
		err := h.call(ctx, ev)
		if state.CompareAndSwap(pending, returned) {
			res <- err
			return
		}
		// The request was answered at the timeout; report what came later,
		// unless it only echoes the expired context.
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			h.report(evCtx, ev, err)
		}
	}()
	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		if state.CompareAndSwap(pending, abandoned) {
			h.timedOut(w, evCtx, ev)
			return
		}
		err = <-res
	}
	switch {
	case err == nil:
		reply(w, http.StatusOK, webhookTextOK)
	case ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
		// The callback gave up because its context ended: that is the
		// timeout (or Close), not an error of its own.
		h.timedOut(w, evCtx, ev)
	default:
		h.report(evCtx, ev, err)
		reply(w, http.StatusInternalServerError, webhookTextHandlerError)
	}
}

// timedOut answers a synchronous webhook whose callback ran out of time.
func (h *WebhookHandler) timedOut(w http.ResponseWriter, ctx context.Context, ev *WebhookEvent) {
	if h.base.Err() != nil {
		h.report(ctx, ev, fmt.Errorf("%w: callback cancelled", ErrWebhookClosed))
		reply(w, http.StatusServiceUnavailable, webhookTextClosed)
		return
	}
	h.report(ctx, ev, fmt.Errorf("%w after %v", ErrWebhookTimeout, h.syncTimeout))
	reply(w, http.StatusServiceUnavailable, webhookTextTimeout)
}

// work is one asynchronous worker: it handles queued events until Close.
func (h *WebhookHandler) work() {
	defer h.wg.Done()
	for q := range h.queue {
		if h.base.Err() != nil {
			h.report(q.ctx, q.ev, fmt.Errorf("%w: event not handled", ErrWebhookClosed))
			continue
		}
		ctx, cancel := context.WithCancel(q.ctx)
		stop := context.AfterFunc(h.base, cancel)
		if err := h.call(ctx, q.ev); err != nil {
			h.report(q.ctx, q.ev, err)
		}
		stop()
		cancel()
	}
}

// call runs the callback, turning a panic into an error.
func (h *WebhookHandler) call(ctx context.Context, ev *WebhookEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("amojo: webhook callback panicked: %v", p)
		}
	}()
	return h.fn(ctx, ev)
}

// report tells the error handler and the logger about a failure.
func (h *WebhookHandler) report(ctx context.Context, ev *WebhookEvent, err error) {
	if h.onError != nil {
		h.onError(ev, err)
	}
	if h.logger == nil {
		return
	}
	level := slog.LevelError
	if ev == nil && (errors.Is(err, ErrInvalidSignature) || errors.Is(err, ErrWebhookTooLarge) || errors.Is(err, ErrMalformedWebhook)) {
		level = slog.LevelWarn
	}
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if ev != nil {
		attrs = append(attrs,
			slog.String("kind", string(ev.Kind)),
			slog.String("scope_id", ev.ScopeID),
			slog.String("account_id", ev.AccountID))
	}
	h.logger.LogAttrs(ctx, level, "amojo webhook not handled", attrs...)
}

// reply writes one of the fixed answer texts.
func reply(w http.ResponseWriter, code int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text+"\n")
}

// lastPathSegment returns the last non-empty segment of u's path, unescaped,
// so that an escaped "/" inside the scope id survives.
func lastPathSegment(u *url.URL) string {
	p := strings.TrimRight(u.EscapedPath(), "/")
	seg := p[strings.LastIndexByte(p, '/')+1:]
	if s, err := url.PathUnescape(seg); err == nil {
		return s
	}
	return seg
}
