package amojo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Option configures a Client or a CRMClient. Options are validated by the
// constructor, which returns the first error; their order does not matter.
type Option func(*options) error

type options struct {
	baseURL    *url.URL
	httpClient *http.Client
	now        func() time.Time
	retry      RetryPolicy
	rateSet    bool
	rateLimit  float64
	rateBurst  int
	logger     *slog.Logger
	userAgent  string
	// insecureHTTP allows an http:// base URL for a host that is not loopback.
	insecureHTTP bool
	// sleep waits for d or until ctx is done; tests replace it.
	sleep func(ctxDone <-chan struct{}, d time.Duration) bool
	// waitNow is the clock of the rate limiter, which measures the time
	// really waited: time.Now, unless a test replaces sleep (testWait), when
	// it follows now.
	waitNow  func() time.Time
	testWait bool
	oauth    oauthOptions // read by the OAuth calls only (oauth.go)
}

// DefaultTimeout bounds every request attempt when WithHTTPClient is not used.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "amojo-go/1"

// WithBaseURL sets the server the client talks to: DefaultBaseURL,
// KommoBaseURL, or any https URL (a proxy). A path in the URL is kept as a
// prefix. Plain http:// is accepted for loopback hosts (127.0.0.0/8, ::1,
// localhost: a test server, amojotest) and, for any other host, only with
// WithInsecureHTTP. An unparsable URL or one without scheme and host makes the
// constructor fail.
func WithBaseURL(rawURL string) Option {
	return func(o *options) error {
		u, err := parseBaseURL(rawURL)
		if err != nil {
			return err
		}
		o.baseURL = u
		return nil
	}
}

func parseBaseURL(rawURL string) (*url.URL, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, invalid("BaseURL", "empty")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, invalid("BaseURL", "not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("BaseURL", "scheme must be http or https")
	}
	if u.Host == "" {
		return nil, invalid("BaseURL", "no host")
	}
	if u.User != nil {
		return nil, invalid("BaseURL", "must not carry credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, invalid("BaseURL", "must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// WithInsecureHTTP allows a plain http:// base URL for a host that is not
// loopback, such as a proxy on a trusted network that adds TLS on its way to
// amoCRM. Without it such a URL makes the constructor fail, because over plain
// HTTP anyone on the path reads the Bearer token and can replay a signed
// chats request for 15 minutes. Loopback URLs (127.0.0.0/8, ::1, localhost)
// never need it.
func WithInsecureHTTP() Option {
	return func(o *options) error {
		o.insecureHTTP = true
		return nil
	}
}

// checkScheme refuses a plain http:// URL for a host that is not loopback,
// unless WithInsecureHTTP allows it.
func (o *options) checkScheme() error {
	if o.baseURL == nil || o.baseURL.Scheme != "http" || o.insecureHTTP || isLoopbackHost(o.baseURL.Hostname()) {
		return nil
	}
	return invalid("BaseURL", "http:// to a host that is not loopback sends credentials in clear; use https, or allow it with WithInsecureHTTP")
}

// isLoopbackHost reports whether host is localhost or an address in
// 127.0.0.0/8 or ::1 (IPv4-mapped forms included).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// WithHTTPClient sets the *http.Client used to send requests; a nil client is
// an error. The client sends with a copy of it and never changes hc itself. Its
// Timeout bounds each attempt (a zero Timeout gets DefaultTimeout per attempt,
// so no call can hang forever). Its cookie jar and CheckRedirect are never
// used: redirects are never followed (see APIError.Location).
//
// Without this option each client has its own transport with net/http's
// default settings (proxy from the environment, HTTP/2 when the server offers
// it) and an idle pool of 64 connections per host, enough for the SDK's own
// concurrency, so concurrent calls reuse connections instead of paying a TLS
// handshake each; CloseIdleConnections releases them.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error {
		if hc == nil {
			return invalid("HTTPClient", "nil")
		}
		o.httpClient = hc
		return nil
	}
}

// WithClock sets the clock used for the signed Date header and Retry-After
// dates. Tests pass a fixed clock to get reproducible signatures. The rate
// limiter keeps measuring real time, so a clock that stands still never
// blocks it.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return invalid("Clock", "nil")
		}
		o.now = now
		return nil
	}
}

// RetryPolicy says how often and how long a client retries. It retries network
// errors and the statuses 429, 502, 503 and 504, never 400, 401, 403 or 404.
// Between attempts it waits a capped exponential back-off with equal jitter:
// with ceiling = min(MaxDelay, BaseDelay·2^(attempt-1)), a time between
// ceiling/2 and ceiling; or exactly the server's Retry-After when it sends one
// (up to MaxRetryAfter; a longer one ends the retries).
type RetryPolicy struct {
	MaxAttempts   int           // total attempts including the first; 1 disables retries
	BaseDelay     time.Duration // first back-off ceiling; 0 means the default
	MaxDelay      time.Duration // cap of the back-off; 0 means the default
	MaxRetryAfter time.Duration // longest Retry-After honoured; 0 means the default
}

// DefaultRetryPolicy returns the policy used unless WithRetry says otherwise:
// 4 attempts, back-off from 250ms up to 5s, Retry-After honoured up to one
// minute.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   4,
		BaseDelay:     250 * time.Millisecond,
		MaxDelay:      5 * time.Second,
		MaxRetryAfter: time.Minute,
	}
}

// NoRetry returns a policy of a single attempt per call.
func NoRetry() RetryPolicy { return RetryPolicy{MaxAttempts: 1} }

// WithRetry sets the retry policy. MaxAttempts must be at least 1 and the
// durations must not be negative; a zero duration takes its value from
// DefaultRetryPolicy, so RetryPolicy{MaxAttempts: 6} keeps the default delays.
func WithRetry(policy RetryPolicy) Option {
	return func(o *options) error {
		p := policy // a copy: the option may be applied many times, concurrently
		if p.MaxAttempts < 1 {
			return invalid("RetryPolicy.MaxAttempts", "must be at least 1")
		}
		if p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 {
			return invalid("RetryPolicy", "negative duration")
		}
		def := DefaultRetryPolicy()
		if p.BaseDelay == 0 {
			p.BaseDelay = def.BaseDelay
		}
		if p.MaxDelay == 0 {
			p.MaxDelay = max(def.MaxDelay, p.BaseDelay)
		}
		if p.MaxRetryAfter == 0 {
			p.MaxRetryAfter = def.MaxRetryAfter
		}
		if p.MaxDelay < p.BaseDelay {
			p.MaxDelay = p.BaseDelay
		}
		o.retry = p
		return nil
	}
}

// WithRateLimit limits the client to perSecond requests per second with bursts
// of burst, shared by every goroutine using the client. A perSecond of 0 turns
// the limit off. The CRM client defaults to at most 7 requests in any
// one-second window (amoCRM's REST limit; see CRMClient), which this option
// replaces by a token bucket; the amojo client has no limit by default (none
// is documented).
func WithRateLimit(perSecond float64, burst int) Option {
	return func(o *options) error {
		if perSecond < 0 {
			return invalid("RateLimit", "negative rate")
		}
		if perSecond > 0 && burst < 1 {
			return invalid("RateLimit.Burst", "must be at least 1")
		}
		o.rateSet, o.rateLimit, o.rateBurst = true, perSecond, burst
		return nil
	}
}

// WithLogger logs each request attempt at debug level and each retry at
// info level: method, path, status, attempt and duration. Bodies, headers,
// secrets, tokens and signatures are never logged. Logging is off by default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalid("Logger", "nil")
		}
		o.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent header. An empty value or one with a
// control character is an error.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		if strings.TrimSpace(ua) == "" || strings.ContainsAny(ua, "\r\n") {
			return invalid("UserAgent", "empty or multi-line")
		}
		if !validHeaderValue(ua) {
			return invalid("UserAgent", "contains a control character")
		}
		o.userAgent = ua
		return nil
	}
}

func buildOptions(defaultBase string, opts []Option) (*options, error) {
	o := &options{
		now:       time.Now,
		retry:     DefaultRetryPolicy(),
		userAgent: DefaultUserAgent,
		sleep:     sleepCtx,
	}
	if defaultBase != "" {
		u, err := parseBaseURL(defaultBase)
		if err != nil {
			return nil, err
		}
		o.baseURL = u
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		if err := opt(o); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				return nil, err
			}
			return nil, fmt.Errorf("amojo: option %d: %w", i, err)
		}
	}
	if err := o.checkScheme(); err != nil {
		return nil, err
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: DefaultTimeout, Transport: newDefaultTransport()}
	}
	o.waitNow = time.Now
	if o.testWait {
		o.waitNow = o.now
	}
	return o, nil
}

// sleepCtx waits for d; it returns false if done closes first.
func sleepCtx(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
