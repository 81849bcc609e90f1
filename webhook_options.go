package amojo

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a WebhookHandler; the WithWebhook options change them.
const (
	// DefaultWebhookMaxBody is the body size limit (WithWebhookMaxBody).
	DefaultWebhookMaxBody = 1 << 20
	// DefaultWebhookSyncTimeout bounds a synchronous callback so that
	// amoCRM, which waits at most 5 seconds, gets its answer in time
	// (WithWebhookSyncTimeout).
	DefaultWebhookSyncTimeout = 4 * time.Second
	// DefaultWebhookReadTimeout bounds the reading of a webhook body
	// (WithWebhookReadTimeout). amoCRM's bodies are a few kilobytes and
	// arrive at once; a sender that trickles them is cut off.
	DefaultWebhookReadTimeout = 3 * time.Second
	// DefaultWebhookDedupWindow is how long an accepted event is remembered
	// to refuse a repeat of it (WithWebhookDedup).
	DefaultWebhookDedupWindow = time.Hour
	// DefaultWebhookDedupSize is how many accepted events are remembered at
	// most; beyond it the oldest are forgotten first (WithWebhookDedup).
	DefaultWebhookDedupSize = 10_000
	// DefaultWebhookLogInterval and DefaultWebhookLogLines bound the log
	// lines about refused webhooks: at most DefaultWebhookLogLines per
	// DefaultWebhookLogInterval, then one summary line (WithWebhookLogLimit).
	DefaultWebhookLogInterval = time.Minute
	DefaultWebhookLogLines    = 10
)

// WebhookOption configures a WebhookHandler. The options of the handler are
// named WithWebhook…, apart from the client Options; an invalid option makes
// the handler refuse every request (see NewWebhookHandler).
type WebhookOption func(*webhookConfig) error

type webhookConfig struct {
	extraSecrets []string
	maxBody      int64
	syncTimeout  time.Duration
	readTimeout  time.Duration
	maxAge       time.Duration // 0: the event time is not checked
	dedupWindow  time.Duration // 0: no dedup
	dedupSize    int
	async        bool
	queueSize    int
	workers      int
	onError      func(*WebhookEvent, error)
	logger       *slog.Logger
	logInterval  time.Duration
	logLines     int
	now          func() time.Time

	syncTimeoutSet bool             // WithWebhookSyncTimeout was given
	inbox          Inbox            // WithWebhookInbox; nil without
	deliveryOpts   []DeliveryOption // for the inbox's delivery
}

func defaultWebhookConfig() webhookConfig {
	return webhookConfig{
		maxBody:     DefaultWebhookMaxBody,
		syncTimeout: DefaultWebhookSyncTimeout,
		readTimeout: DefaultWebhookReadTimeout,
		dedupWindow: DefaultWebhookDedupWindow,
		dedupSize:   DefaultWebhookDedupSize,
		logInterval: DefaultWebhookLogInterval,
		logLines:    DefaultWebhookLogLines,
		now:         time.Now,
	}
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

// WithWebhookMaxBody limits the size of a webhook body (default
// DefaultWebhookMaxBody, 1 MiB); a larger body is answered 413.
func WithWebhookMaxBody(n int64) WebhookOption {
	return func(c *webhookConfig) error {
		if n <= 0 {
			return invalid("WebhookMaxBody", "not positive")
		}
		c.maxBody = n
		return nil
	}
}

// WithWebhookSyncTimeout bounds the callback in synchronous mode (default
// DefaultWebhookSyncTimeout, 4 s): its context expires after d, and the
// handler answers 503 at that point even if the callback has not returned.
// Keep d under 5 seconds, the time amoCRM waits for the answer. With
// WithWebhookInbox there is no synchronous callback, and this option is a
// configuration error.
func WithWebhookSyncTimeout(d time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if d <= 0 {
			return invalid("WebhookSyncTimeout", "not positive")
		}
		c.syncTimeout, c.syncTimeoutSet = d, true
		return nil
	}
}

// WithWebhookAsync makes the handler answer 200 as soon as the event is
// queued and run the callback on workers goroutines, which take events from a
// queue of queueSize events (0 hands events only to an idle worker). When the
// queue is full the webhook is answered 503 and reported with
// ErrWebhookQueueFull. Workers start with the handler; call Close to stop
// them. The queue is in memory: an event queued when the process dies is
// lost, though amoCRM got its 200. WithWebhookInbox keeps events durably
// instead, and cannot be combined with this option.
func WithWebhookAsync(queueSize, workers int) WebhookOption {
	return func(c *webhookConfig) error {
		if queueSize < 0 {
			return invalid("WebhookAsync.QueueSize", "negative")
		}
		if workers < 1 {
			return invalid("WebhookAsync.Workers", "less than 1")
		}
		c.async, c.queueSize, c.workers = true, queueSize, workers
		return nil
	}
}

// WithWebhookErrorHandler sets the function told about every webhook that was
// not handled successfully:
//
//   - a request refused before there is an event (ev is nil): a bad
//     signature (ErrInvalidSignature), a body too large (ErrWebhookTooLarge),
//     not sent in time (ErrWebhookReadTimeout) or not a JSON object
//     (ErrMalformedWebhook), and a configuration error;
//   - a verified event refused (ev is set): its scope is not of its account
//     (ErrWebhookScope; ev.ScopeID is then empty), it is too old
//     (ErrWebhookStale) or a repeat (ErrWebhookReplay);
//   - an accepted event that was lost or failed (ev is set): a callback
//     error or panic, a full queue, a timeout, a handler closing;
//   - with WithWebhookInbox, an event not stored (ErrWebhookNotStored),
//     and, unless the delivery options report elsewhere, an event parked
//     as dead after its last attempt (ErrInboxDead), a claim lost to
//     another worker (ErrInboxLeaseLost) and a failure of the inbox itself
//     (ev is nil). The event id of these is InboxEventID(ev.ScopeID, ev.Raw).
//
// Every refusal reaches fn, however many there are; only the log is limited
// (WithWebhookLogLimit). fn may be called from several goroutines at once and
// must not panic.
func WithWebhookErrorHandler(fn func(ev *WebhookEvent, err error)) WebhookOption {
	return func(c *webhookConfig) error {
		if fn == nil {
			return invalid("WebhookErrorHandler", "nil")
		}
		c.onError = fn
		return nil
	}
}

// WithWebhookLogger logs the same failures WithWebhookErrorHandler reports
// (refused requests and events at warning level, limited by
// WithWebhookLogLimit; lost or failed events at error level, each one) with
// the scope id, event kind and account id; bodies, secrets and signatures are
// never logged. Without this option and without WithWebhookErrorHandler,
// failures are logged to slog.Default(), so that none goes unnoticed.
func WithWebhookLogger(l *slog.Logger) WebhookOption {
	return func(c *webhookConfig) error {
		if l == nil {
			return invalid("WebhookLogger", "nil")
		}
		c.logger = l
		return nil
	}
}

// WithWebhookReadTimeout bounds the time a sender may take to send the body
// (default DefaultWebhookReadTimeout, 3 s), counted from when the handler
// starts reading it; a body not received by then is answered 408 and
// reported with ErrWebhookReadTimeout. The handler sets the connection's read
// deadline through http.ResponseController (never for longer than the
// server's ReadTimeout), and also stops at the first byte a trickling sender
// sends after it. Behind a ResponseWriter that cannot set deadlines (a
// wrapper without Unwrap) a body that stalls completely is bounded only by
// the server's ReadTimeout; the handler logs that once, at debug level. See
// docs/webhooks.md for the server timeouts to set as well.
func WithWebhookReadTimeout(d time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if d <= 0 {
			return invalid("WebhookReadTimeout", "not positive")
		}
		c.readTimeout = d
		return nil
	}
}

// WithWebhookMaxAge refuses events whose signed time ("time", WebhookEvent.Time)
// is more than d away from the handler's clock, in the past or the future, and
// events without a time: they are answered 400 and reported with
// ErrWebhookStale. It is off by default, because amoCRM delays webhooks to
// slow receivers by an undocumented amount. Together with dedup it closes the
// replay window: with d at most half the dedup window, every replay is either
// too old or remembered. 15 minutes, the window amoCRM itself allows for a
// request's Date, is a reasonable choice.
func WithWebhookMaxAge(d time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if d <= 0 {
			return invalid("WebhookMaxAge", "not positive")
		}
		c.maxAge = d
		return nil
	}
}

// WithWebhookDedup sets how accepted events are remembered to refuse repeats:
// for window (default DefaultWebhookDedupWindow, 1 hour), and at most size of
// them (default DefaultWebhookDedupSize; the oldest are forgotten first).
// amoCRM sends every webhook once and never retries, so a repeat is a replay
// or a copy made by a proxy. A repeat is a webhook with the signed bytes of
// one already accepted, or a message with the scope and message id of one
// already accepted. It is answered 200 "duplicate" (the first copy was
// accepted), not handed to the callback, and reported with ErrWebhookReplay.
// An event answered with an error (queue full, closing, callback error) is
// forgotten, so that a copy of it can still be handled. WithWebhookDedup(0, 0)
// turns dedup off. Memory is bounded by size; expiry is lazy (no goroutine).
func WithWebhookDedup(window time.Duration, size int) WebhookOption {
	return func(c *webhookConfig) error {
		switch {
		case window == 0 && size == 0:
		case window <= 0:
			return invalid("WebhookDedup.Window", "not positive")
		case size <= 0:
			return invalid("WebhookDedup.Size", "not positive")
		}
		c.dedupWindow, c.dedupSize = window, size
		return nil
	}
}

// WithWebhookLogLimit bounds the log lines about refused webhooks (a bad
// signature, a malformed body, a replay and so on): at most lines per
// interval (defaults DefaultWebhookLogLines per DefaultWebhookLogInterval);
// the refusals beyond are counted, and one summary line with the counts per
// reason is logged with the first refusal after the interval, or by Close.
// lines may be 0 (summaries only). The error handler still gets every
// refusal. Lost or failed events are always logged, each one.
func WithWebhookLogLimit(lines int, interval time.Duration) WebhookOption {
	return func(c *webhookConfig) error {
		if lines < 0 {
			return invalid("WebhookLogLimit.Lines", "negative")
		}
		if interval <= 0 {
			return invalid("WebhookLogLimit.Interval", "not positive")
		}
		c.logLines, c.logInterval = lines, interval
		return nil
	}
}

// WithWebhookClock sets the clock against which event times are checked
// (WithWebhookMaxAge), dedup entries expire and log intervals end; default
// time.Now. Use the clock of a fake amoCRM whose clock is frozen. The body's
// read deadline always follows the real clock, as the network does.
func WithWebhookClock(now func() time.Time) WebhookOption {
	return func(c *webhookConfig) error {
		if now == nil {
			return invalid("WebhookClock", "nil")
		}
		c.now = now
		return nil
	}
}
