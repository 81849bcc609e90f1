package amojo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of a WebhookHandler about the request rather than the body.
var (
	// ErrWebhookScope reports a verified webhook whose URL path does not end
	// in a scope id of the signed account: amoCRM fills the webhook URL's
	// last segment with the scope id, but the path is not signed, so the
	// handler takes it only when its account part is the body's account_id.
	ErrWebhookScope = errors.New("amojo: webhook scope refused")
	// ErrWebhookReadTimeout reports a body the sender did not finish sending
	// within the handler's read timeout (WithWebhookReadTimeout).
	ErrWebhookReadTimeout = errors.New("amojo: webhook body not received in time")
)

// The fixed texts a WebhookHandler answers with. None of them depends on the
// request, so nothing the sender sent (nor any secret) is ever echoed.
const (
	webhookTextOK            = "ok"
	webhookTextDuplicate     = "duplicate"
	webhookTextBadSignature  = "invalid signature"
	webhookTextTooLarge      = "body too large"
	webhookTextReadTimeout   = "body timeout"
	webhookTextMalformed     = "malformed body"
	webhookTextScope         = "wrong scope"
	webhookTextStale         = "stale event"
	webhookTextMethod        = "method not allowed"
	webhookTextNoSecret      = "webhook secret not configured"
	webhookTextMisconfigured = "webhook handler misconfigured"
	webhookTextHandlerError  = "handler error"
	webhookTextTimeout       = "handler timeout"
	webhookTextQueueFull     = "queue full"
	webhookTextClosed        = "shutting down"
)

// WebhookHandler receives amoCRM's chat webhooks. It is an http.Handler: mount
// it at the path of the webhook URL registered for the channel, whose last
// segment amoCRM fills with the scope id (https://host/path/:scope_id).
//
// For each request it checks the method (POST, else 405), reads the body
// within a size limit (413) and a deadline (408), verifies X-Signature (401),
// decodes the signed bytes (400), takes the scope id from the last path
// segment only if its account is the signed account_id (400), refuses an
// event outside the maximum age when one is set (400) and a repeat of an
// accepted event (200 "duplicate"), and hands the event to the callback.
// Every answer is a short fixed text. docs/webhooks.md describes the defaults
// and the server timeouts to set around the handler.
//
// By default the callback runs synchronously, bounded by the sync timeout, and
// its outcome decides the answer: 200 on nil, 500 on an error, 503 on timeout.
// With WithWebhookAsync the handler answers 200 once the event is queued in
// memory; with WithWebhookInbox, once it is stored durably (503 when it could
// not be), and the callback is called from the inbox, at least once, with
// retries. amoCRM sends each webhook once and never retries, so every event
// that is not handled is reported to the error handler or the log, never
// dropped quietly.
//
// A WebhookHandler is a small value around shared state: copies of it are the
// same handler. Formatted with fmt, log/slog or encoding/json it shows its
// mode and the number of its secrets, never the secrets.
type WebhookHandler struct {
	c *webhookCore
}

var _ http.Handler = WebhookHandler{}

// webhookCore is the state of a WebhookHandler.
type webhookCore struct {
	fn func(context.Context, *WebhookEvent) error
	// keys holds the secrets behind a pointer of its own: fmt cannot call
	// WebhookHandler's methods when the handler sits in an unexported
	// field, and prints the fields of what it reaches, but nested pointers
	// only as addresses.
	keys        *webhookKeys
	maxBody     int64
	syncTimeout time.Duration
	readTimeout time.Duration
	maxAge      time.Duration
	now         func() time.Time
	onError     func(*WebhookEvent, error)
	logger      *slog.Logger
	logLimit    logLimit
	dedup       *dedupSet // nil when off
	cfgErr      error
	cfgText     string
	noDeadline  sync.Once // the log line about a writer without deadlines

	queue    chan queuedEvent // nil in synchronous and inbox mode
	delivery *InboxDelivery   // nil without an inbox

	mu      sync.Mutex // guards closed, active and sends on queue
	closed  bool
	active  int           // workers, running synchronous callbacks, appends to the inbox
	drained chan struct{} // closed once closed and active is 0
	base    context.Context
	cancel  context.CancelFunc // cancels base when Close is done or gives up
}

// webhookKeys are the secrets a handler verifies signatures with.
type webhookKeys struct {
	secrets []string
}

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
	cfg := defaultWebhookConfig()
	var cfgErr error
	for i, opt := range opts {
		if opt == nil {
			cfgErr = firstErr(cfgErr, invalid(fmt.Sprintf("opts[%d]", i), "nil option"))
			continue
		}
		if err := opt(&cfg); err != nil {
			cfgErr = firstErr(cfgErr, err)
		}
	}
	c := &webhookCore{
		fn:          fn,
		keys:        &webhookKeys{secrets: append([]string{secret}, cfg.extraSecrets...)},
		maxBody:     cfg.maxBody,
		syncTimeout: cfg.syncTimeout,
		readTimeout: cfg.readTimeout,
		maxAge:      cfg.maxAge,
		now:         cfg.now,
		onError:     cfg.onError,
		logger:      cfg.logger,
		logLimit:    logLimit{lines: cfg.logLines, interval: cfg.logInterval},
		cfgText:     webhookTextMisconfigured,
		drained:     make(chan struct{}),
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	if c.onError == nil && c.logger == nil {
		c.logger = slog.Default()
	}
	if cfg.dedupWindow > 0 {
		c.dedup = newDedupSet(cfg.dedupWindow, cfg.dedupSize)
	}
	switch {
	case secret == "":
		c.cfgErr, c.cfgText = invalid("secret", "empty"), webhookTextNoSecret
	case fn == nil:
		c.cfgErr = invalid("fn", "nil")
	default:
		c.cfgErr = firstErr(cfgErr, cfg.inboxConflict())
	}
	if c.cfgErr != nil {
		c.lost(context.Background(), nil, c.cfgErr)
		return &WebhookHandler{c: c}
	}
	if cfg.inbox != nil {
		c.startInbox(cfg.inbox, cfg.deliveryOpts)
	}
	if cfg.async {
		c.queue = make(chan queuedEvent, cfg.queueSize)
		c.active = cfg.workers
		for range cfg.workers {
			go c.work()
		}
	}
	return &WebhookHandler{c: c}
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
func (h WebhookHandler) Err() error {
	if h.c == nil {
		return invalid("WebhookHandler", "not made by NewWebhookHandler")
	}
	return h.c.cfgErr
}

// String describes the handler without its secrets.
func (h WebhookHandler) String() string {
	if h.c == nil {
		return "amojo.WebhookHandler{}"
	}
	mode := "sync"
	switch {
	case h.c.queue != nil:
		mode = fmt.Sprintf("async, queue %d", cap(h.c.queue))
	case h.c.delivery != nil:
		mode = "inbox"
	}
	return fmt.Sprintf("amojo.WebhookHandler{%s, secrets: %d (redacted)}", mode, len(h.c.keys.secrets))
}

// Format writes String for every verb (%q quotes it), so that no verb, flag
// or Go-syntax form (%#v) shows the secrets.
func (h WebhookHandler) Format(f fmt.State, verb rune) {
	s := h.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// LogValue describes the handler to log/slog without its secrets.
func (h WebhookHandler) LogValue() slog.Value {
	async, queue, inbox, secrets := h.describe()
	return slog.GroupValue(slog.Bool("async", async), slog.Int("queue", queue), slog.Bool("inbox", inbox), slog.Int("secrets", secrets))
}

// MarshalJSON describes the handler without its secrets.
func (h WebhookHandler) MarshalJSON() ([]byte, error) {
	async, queue, inbox, secrets := h.describe()
	return json.Marshal(struct {
		Async   bool `json:"async"`
		Queue   int  `json:"queue"`
		Inbox   bool `json:"inbox"`
		Secrets int  `json:"secrets"`
	}{async, queue, inbox, secrets})
}

func (h WebhookHandler) describe() (async bool, queue int, inbox bool, secrets int) {
	if h.c == nil {
		return false, 0, false, 0
	}
	return h.c.queue != nil, cap(h.c.queue), h.c.delivery != nil, len(h.c.keys.secrets)
}

// Close stops the handler: later requests are answered 503, queued events are
// still handled, and Close waits for the workers and running callbacks to
// finish. If ctx ends first, callbacks' contexts are cancelled, events still
// queued are reported with ErrWebhookClosed instead of being handled, and
// Close returns ctx's error; the workers stop once their callbacks return to
// the cancellation (a callback that ignores it keeps running). The handler
// starts no other goroutine. Close also logs the count of refusals the log
// limit held back. Close may be called more than once.
//
// With WithWebhookInbox, Close waits for the appends in progress, then
// closes the delivery (InboxDelivery.Close): no more events are claimed,
// running callbacks finish, or are cancelled when ctx ends and their events
// made due again, and no goroutine of the delivery outlives Close. Events
// not delivered stay in the inbox for the next process. Close does not
// close the inbox.
func (h WebhookHandler) Close(ctx context.Context) error {
	c := h.c
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.queue != nil {
			close(c.queue)
		}
		if c.active == 0 {
			close(c.drained)
		}
	}
	c.mu.Unlock()
	defer func() {
		if c.logger != nil {
			c.logLimit.flush().log(context.Background(), c.logger)
		}
	}()
	var err error
	select {
	case <-c.drained:
	case <-ctx.Done():
		err = fmt.Errorf("amojo: closing webhook handler: %w", ctx.Err())
	}
	c.cancel()
	if c.delivery != nil {
		err = firstErr(err, c.delivery.Close(ctx))
	}
	return err
}

// leave marks a worker or synchronous callback done.
func (c *webhookCore) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
	if c.closed && c.active == 0 {
		close(c.drained)
	}
}

// ServeHTTP handles one webhook request: receive turns it into a verified,
// checked event or a refusal, and accept hands the event on and answers.
func (h WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	if c == nil {
		reply(w, http.StatusInternalServerError, webhookTextMisconfigured)
		return
	}
	ev, claim, ref := c.receive(w, r)
	if ref != nil {
		c.refuse(r.Context(), w, r, ref)
		return
	}
	c.accept(w, r, ev, claim)
}

// refusal is a request answered without handing an event to the callback.
type refusal struct {
	code  int
	text  string
	err   error         // nil for a wrong method, which is not reported
	ev    *WebhookEvent // the event, when it was verified and decoded
	level slog.Level
}

func refused(code int, text string, err error, ev *WebhookEvent) *refusal {
	return &refusal{code: code, text: text, err: err, ev: ev, level: slog.LevelWarn}
}

// receive is the path from a request to an event the handler may accept:
// read the body, verify its signature, decode the signed bytes, check the
// scope against the signed account, the event time against the maximum age,
// and refuse a repeat. The event it returns holds its place in the dedup
// memory (claim), which accept keeps or releases.
func (c *webhookCore) receive(w http.ResponseWriter, r *http.Request) (*WebhookEvent, dedupClaim, *refusal) {
	if c.cfgErr != nil {
		return nil, dedupClaim{}, &refusal{code: http.StatusInternalServerError, text: c.cfgText, err: c.cfgErr, level: slog.LevelError}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, dedupClaim{}, &refusal{code: http.StatusMethodNotAllowed, text: webhookTextMethod}
	}
	body, ref := c.readBody(w, r)
	if ref != nil {
		return nil, dedupClaim{}, ref
	}
	signed, err := VerifyWebhookBody(c.keys.secrets, body, r.Header.Get(WebhookSignatureHeader))
	if err != nil {
		return nil, dedupClaim{}, refused(http.StatusUnauthorized, webhookTextBadSignature, err, nil)
	}
	ev, err := ParseWebhook(signed)
	if err != nil {
		return nil, dedupClaim{}, refused(http.StatusBadRequest, webhookTextMalformed, err, nil)
	}
	if err := setScope(ev, r.URL); err != nil {
		return nil, dedupClaim{}, refused(http.StatusBadRequest, webhookTextScope, err, ev)
	}
	now := c.now()
	if err := checkAge(ev, now, c.maxAge); err != nil {
		return nil, dedupClaim{}, refused(http.StatusBadRequest, webhookTextStale, err, ev)
	}
	if c.dedup == nil {
		return ev, dedupClaim{}, nil
	}
	claim, ok := c.dedup.claim(ev, now)
	if !ok {
		// The first copy was accepted, so the sender gets the same answer.
		err := fmt.Errorf("%w within %v: not handled again", ErrWebhookReplay, c.dedup.window)
		return nil, dedupClaim{}, refused(http.StatusOK, webhookTextDuplicate, err, ev)
	}
	return ev, claim, nil
}

// readBody reads the body within the size limit and the read deadline.
func (c *webhookCore) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *refusal) {
	tooLarge := refused(http.StatusRequestEntityTooLarge, webhookTextTooLarge, ErrWebhookTooLarge, nil)
	if r.ContentLength > c.maxBody {
		return nil, tooLarge
	}
	timeout := c.readTimeout
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 {
		timeout = min(timeout, srv.ReadTimeout) // never extend the server's limit
	}
	deadline := time.Now().Add(timeout)
	if err := http.NewResponseController(w).SetReadDeadline(deadline); err != nil {
		c.noDeadline.Do(func() {
			if c.logger != nil {
				c.logger.LogAttrs(r.Context(), slog.LevelDebug, "amojo webhook: the ResponseWriter cannot set a read deadline; a body that stalls is bounded only by the server's ReadTimeout")
			}
		})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, &deadlineReader{r: r.Body, deadline: deadline}, c.maxBody))
	if err == nil {
		// No need to lift the deadline: an HTTP/1 server does so when the
		// body ends, and for HTTP/2 it only concerns the body.
		return body, nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, tooLarge
	}
	if isTimeout(err) {
		w.Header().Set("Connection", "close")
		return nil, refused(http.StatusRequestTimeout, webhookTextReadTimeout, fmt.Errorf("%w (%v)", ErrWebhookReadTimeout, timeout), nil)
	}
	return nil, refused(http.StatusBadRequest, webhookTextMalformed, fmt.Errorf("%w: reading: %w", ErrMalformedWebhook, err), nil)
}

// deadlineReader fails once its deadline has passed, even when the connection
// has none: a sender that trickles the body is cut off at the next byte.
type deadlineReader struct {
	r        io.ReadCloser
	deadline time.Time
}

func (d *deadlineReader) Close() error { return d.r.Close() }

func (d *deadlineReader) Read(p []byte) (int, error) {
	if !time.Now().Before(d.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	return d.r.Read(p)
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// setScope sets ev.ScopeID from the last segment of the request path, checked
// against the signed account id. A webhook that names no account gets no
// scope: there is nothing signed to check one against.
func setScope(ev *WebhookEvent, u *url.URL) error {
	ev.ScopeID = ""
	if ev.AccountID == "" {
		return nil
	}
	scope, err := webhookScope(u.EscapedPath(), ev.AccountID)
	if err != nil {
		return err
	}
	ev.ScopeID = scope
	return nil
}

// webhookScope returns the scope id that is the last segment of escapedPath,
// unescaped (so an escaped "/" inside it survives), if its account part is
// accountID. A path that ends in "/" has no scope id.
func webhookScope(escapedPath, accountID string) (string, error) {
	seg := escapedPath[strings.LastIndexByte(escapedPath, '/')+1:]
	if seg == "" {
		return "", fmt.Errorf("%w: no scope id at the end of the URL path", ErrWebhookScope)
	}
	scope, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("%w: the last segment of the URL path is badly escaped", ErrWebhookScope)
	}
	_, account, ok := SplitScopeID(scope)
	if !ok {
		return "", fmt.Errorf("%w: the last segment of the URL path is not a scope id", ErrWebhookScope)
	}
	if account != accountID {
		return "", fmt.Errorf("%w: its account is not the signed account_id", ErrWebhookScope)
	}
	return scope, nil
}

// accept hands a received event on: to the inbox (200 once stored), to the
// queue (asynchronous mode, 200 once queued) or to the callback (synchronous
// mode, answered with its outcome). An event that is not handed on, or whose
// callback fails, is released from the dedup memory, so that a copy of it may
// still be handled.
func (c *webhookCore) accept(w http.ResponseWriter, r *http.Request, ev *WebhookEvent, claim dedupClaim) {
	ctx := r.Context()
	evCtx := context.WithoutCancel(ctx)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		claim.release()
		c.lost(ctx, ev, fmt.Errorf("%w: event not handled", ErrWebhookClosed))
		reply(w, http.StatusServiceUnavailable, webhookTextClosed)
		return
	}
	if c.queue != nil {
		select {
		case c.queue <- queuedEvent{ctx: evCtx, ev: ev}:
			c.mu.Unlock()
			reply(w, http.StatusOK, webhookTextOK)
		default:
			c.mu.Unlock()
			claim.release()
			c.lost(ctx, ev, ErrWebhookQueueFull)
			reply(w, http.StatusServiceUnavailable, webhookTextQueueFull)
		}
		return
	}
	c.active++
	c.mu.Unlock()
	if c.delivery != nil {
		c.store(w, r, ev, claim)
		return
	}
	c.serveSync(w, evCtx, ev, claim)
}

// serveSync runs the callback and answers with its outcome, or at the sync
// timeout if the callback is still running then.
func (c *webhookCore) serveSync(w http.ResponseWriter, evCtx context.Context, ev *WebhookEvent, claim dedupClaim) {
	ctx, cancel := context.WithTimeout(evCtx, c.syncTimeout)
	stop := context.AfterFunc(c.base, cancel)
	const (
		pending = iota
		returned
		abandoned
	)
	var state atomic.Int32
	res := make(chan error, 1)
	go func() {
		defer c.leave()
		defer cancel()
		defer stop()
		err := c.call(ctx, ev)
		if state.CompareAndSwap(pending, returned) {
			res <- err
			return
		}
		// The request was answered at the timeout; report what came later,
		// unless it only echoes the expired context.
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			c.lost(evCtx, ev, err)
		}
	}()
	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		if state.CompareAndSwap(pending, abandoned) {
			c.timedOut(w, evCtx, ev, claim)
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
		c.timedOut(w, evCtx, ev, claim)
	default:
		claim.release()
		c.lost(evCtx, ev, err)
		reply(w, http.StatusInternalServerError, webhookTextHandlerError)
	}
}

// timedOut answers a synchronous webhook whose callback ran out of time. The
// event stays in the dedup memory: its callback may still be running.
func (c *webhookCore) timedOut(w http.ResponseWriter, ctx context.Context, ev *WebhookEvent, claim dedupClaim) {
	if c.base.Err() != nil {
		claim.release()
		c.lost(ctx, ev, fmt.Errorf("%w: callback cancelled", ErrWebhookClosed))
		reply(w, http.StatusServiceUnavailable, webhookTextClosed)
		return
	}
	c.lost(ctx, ev, fmt.Errorf("%w after %v", ErrWebhookTimeout, c.syncTimeout))
	reply(w, http.StatusServiceUnavailable, webhookTextTimeout)
}

// work is one asynchronous worker: it handles queued events until Close.
func (c *webhookCore) work() {
	defer c.leave()
	for q := range c.queue {
		if c.base.Err() != nil {
			c.lost(q.ctx, q.ev, fmt.Errorf("%w: event not handled", ErrWebhookClosed))
			continue
		}
		ctx, cancel := context.WithCancel(q.ctx)
		stop := context.AfterFunc(c.base, cancel)
		if err := c.call(ctx, q.ev); err != nil {
			c.lost(q.ctx, q.ev, err)
		}
		stop()
		cancel()
	}
}

// call runs the callback, turning a panic into an error.
func (c *webhookCore) call(ctx context.Context, ev *WebhookEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("amojo: webhook callback panicked: %v", p)
		}
	}()
	return c.fn(ctx, ev)
}

// refuse reports a refusal to the error handler, logs it within the log
// limit, and answers.
func (c *webhookCore) refuse(ctx context.Context, w http.ResponseWriter, r *http.Request, ref *refusal) {
	switch {
	case ref.err == nil:
		if c.logger != nil {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "amojo webhook: method not allowed", slog.String("method", r.Method))
		}
	default:
		if c.onError != nil {
			c.onError(ref.ev, ref.err)
		}
		if c.logger != nil && c.logger.Enabled(ctx, ref.level) {
			ok, sum := c.logLimit.admit(c.now(), refusalReason(ref.err), ref.level)
			sum.log(ctx, c.logger)
			if ok {
				c.logLine(ctx, ref.level, "amojo webhook refused", ref.ev, ref.err)
			}
		}
	}
	reply(w, ref.code, ref.text)
}

// lost reports an event that was accepted but not handled, or a configuration
// error, to the error handler and the log (each one, at error level).
func (c *webhookCore) lost(ctx context.Context, ev *WebhookEvent, err error) {
	if c.onError != nil {
		c.onError(ev, err)
	}
	c.logLine(ctx, slog.LevelError, "amojo webhook not handled", ev, err)
}

// logLine logs one failure with what identifies its event; never the body.
func (c *webhookCore) logLine(ctx context.Context, level slog.Level, msg string, ev *WebhookEvent, err error) {
	if c.logger == nil || !c.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if ev != nil {
		attrs = append(attrs,
			slog.String("kind", string(ev.Kind)),
			slog.String("scope_id", ev.ScopeID),
			slog.String("account_id", ev.AccountID))
	}
	c.logger.LogAttrs(ctx, level, msg, attrs...)
}

// reply writes one of the fixed answer texts.
func reply(w http.ResponseWriter, code int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text+"\n")
}
