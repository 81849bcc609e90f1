package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBody bounds a successful response body read into memory.
const maxResponseBody = 16 << 20

// RetryError is returned when a call gave up after more than one attempt. It
// wraps the last attempt's error, so errors.As(err, &apiErr) and
// errors.Is(err, ErrRateLimited) still see it.
type RetryError struct {
	Attempts int
	Err      error
}

// Error returns the last error's message followed by the number of attempts.
func (e *RetryError) Error() string {
	return fmt.Sprintf("%s (gave up after %d attempts)", e.Err.Error(), e.Attempts)
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Err }

// authorizeFunc adds credentials to a request carrying body at time now.
type authorizeFunc func(ctx context.Context, req *http.Request, body []byte, now time.Time) error

// requester is the single request path shared by Client and CRMClient:
// marshal once, then per attempt rate-limit, authorize (sign), send, decode,
// classify and back off.
type requester struct {
	o         *options
	hc        *http.Client
	limiter   rateLimiter // nil: no limit
	authorize authorizeFunc
	rest      bool // REST v4: a 403 is "forbidden", never a bad signature
	// rejected, when set, is told about each request answered 401; the
	// call is then sent once more (see TokenRefresher).
	rejected func(ctx context.Context, sent *http.Request)
}

// newRequester builds the request path; defaultLimit applies unless
// WithRateLimit says otherwise (nil: no limit).
func newRequester(o *options, defaultLimit rateLimiter, auth authorizeFunc) *requester {
	r := &requester{o: o, hc: sendingClient(o.httpClient), authorize: auth, limiter: defaultLimit}
	if o.rateSet {
		r.limiter = nil
		if o.rateLimit > 0 {
			r.limiter = newTokenBucket(o.rateLimit, o.rateBurst)
		}
	}
	return r
}

// request describes one API call.
type request struct {
	method string
	path   string     // escaped path below the base URL, starting with "/"
	query  url.Values // not signed
	in     any        // marshalled to JSON once; nil sends no body
	out    any        // decoded from a 2xx body when non-nil and the body is not empty
	// notIdempotent marks a call that the server may have carried out even
	// when its answer was lost (a network error, 502, 503 or 504), and that
	// carries no id the server could recognise on a repeat: creating
	// contacts. Such a call is retried only after a 429, which amoCRM answers
	// without doing anything.
	notIdempotent bool
	// beforeSend, when set, is called right before each attempt is sent:
	// after the rate-limit wait and any back-off, with the request signed,
	// and given the client's clock. Its error ends the call with that
	// attempt unsent.
	beforeSend func(ctx context.Context, now time.Time) error
}

// do runs req and returns the final HTTP status. Any status outside 2xx is
// returned as an error.
func (r *requester) do(ctx context.Context, req request) (int, error) {
	var body []byte
	if req.in != nil {
		b, err := json.Marshal(req.in)
		if err != nil {
			return 0, fmt.Errorf("amojo: %s %s: encode request: %w", req.method, req.path, err)
		}
		body = b
	}
	fullURL := r.o.baseURL.String() + req.path
	if len(req.query) > 0 {
		fullURL += "?" + req.query.Encode()
	}
	signedPath := r.o.baseURL.EscapedPath() + req.path

	policy := r.o.retry
	resent401 := false
	for attempt := 1; ; attempt++ {
		if err := r.waitRate(ctx); err != nil {
			return 0, r.wrapAttempts(fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, err), attempt-1)
		}
		start := r.o.waitNow()
		status, err := r.attempt(ctx, req, fullURL, signedPath, body)
		r.log(ctx, slog.LevelDebug, "amojo request", req.method, signedPath, status, attempt, start, err)
		if err == nil {
			return status, nil
		}
		if ctx.Err() != nil {
			return status, r.wrapAttempts(fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, ctx.Err()), attempt)
		}
		if status == http.StatusUnauthorized && r.rejected != nil && !resent401 {
			resent401 = true // once: a second 401 is the answer
			r.log(ctx, slog.LevelInfo, "amojo retry", req.method, signedPath, status, attempt, start, err, slog.String("reason", "token rejected"))
			continue
		}
		delay, retry := r.backoff(err, attempt)
		if req.notIdempotent && !errors.Is(err, ErrRateLimited) {
			retry = false
		}
		if !retry || attempt >= policy.MaxAttempts {
			return status, r.wrapAttempts(err, attempt)
		}
		r.log(ctx, slog.LevelInfo, "amojo retry", req.method, signedPath, status, attempt, start, err, slog.Duration("delay", delay))
		if !r.o.sleep(ctx.Done(), delay) {
			return status, r.wrapAttempts(fmt.Errorf("amojo: %s %s: %w (while waiting to retry: %w)", req.method, signedPath, ctx.Err(), err), attempt)
		}
	}
}

func (r *requester) wrapAttempts(err error, attempts int) error {
	if attempts <= 1 {
		return err
	}
	return &RetryError{Attempts: attempts, Err: err}
}

// waitRate blocks until the rate limiter admits one more request. Time is
// measured with waitNow, the clock of the time really waited.
func (r *requester) waitRate(ctx context.Context) error {
	if r.limiter == nil {
		return nil
	}
	for {
		d := r.limiter.admit(r.o.waitNow)
		if d <= 0 {
			return nil
		}
		if !r.o.sleep(ctx.Done(), d) {
			return ctx.Err()
		}
	}
}

// attempt sends one signed request and decodes its answer.
func (r *requester) attempt(ctx context.Context, req request, fullURL, signedPath string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, fullURL, rd)
	if err != nil {
		return 0, fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, err)
	}
	hreq.Header["User-Agent"] = []string{r.o.userAgent}
	hreq.Header["Accept"] = []string{"application/json"}
	if err := r.authorize(ctx, hreq, body, r.o.now()); err != nil {
		return 0, fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, err)
	}
	if err := checkHeaders(hreq.Header); err != nil {
		// net/http would refuse it before dialling: no retry can cure it.
		return 0, fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, err)
	}
	if req.beforeSend != nil {
		if err := req.beforeSend(ctx, r.o.now()); err != nil {
			return 0, fmt.Errorf("amojo: %s %s: %w", req.method, signedPath, err)
		}
	}
	resp, err := r.hc.Do(hreq)
	if err != nil {
		return 0, &networkError{method: req.method, path: signedPath, err: err}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorDecode))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		e := newAPIError(req.method, signedPath, resp, data, r.o.now(), credentials(hreq.Header)...)
		e.rest = r.rest
		if resp.StatusCode == http.StatusUnauthorized && r.rejected != nil {
			r.rejected(ctx, hreq)
		}
		return resp.StatusCode, e
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return resp.StatusCode, &networkError{method: req.method, path: signedPath, err: err}
	}
	if len(data) > maxResponseBody {
		return resp.StatusCode, fmt.Errorf("amojo: %s %s: response body over %d bytes", req.method, signedPath, maxResponseBody)
	}
	if resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	if req.out == nil {
		// Nothing to decode, but an answer that is not JSON (a captive
		// portal's page, a proxy's error) did not come from amoCRM.
		if !json.Valid(data) {
			return resp.StatusCode, &DecodeError{Method: req.method, Path: signedPath, StatusCode: resp.StatusCode, Err: notJSON(resp.Header)}
		}
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(data, req.out); err != nil {
		return resp.StatusCode, &DecodeError{Method: req.method, Path: signedPath, StatusCode: resp.StatusCode, Err: err}
	}
	return resp.StatusCode, nil
}

// notJSON describes a body that is not JSON by its media type, which is the
// only part of a Content-Type header that cannot carry arbitrary text.
func notJSON(h http.Header) error {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil {
		return fmt.Errorf("body is not JSON (%s)", mt)
	}
	return errors.New("body is not JSON")
}

// checkHeaders reports a header value that net/http refuses to send: one
// with a control character other than tab, such as a token with a NUL byte.
// The error names the header, never its value.
func checkHeaders(h http.Header) error {
	for name, values := range h {
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("header %s has a control character in its value", name)
			}
		}
	}
	return nil
}

// validHeaderValue reports whether v may be sent as a header value: no
// control character but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// baseURL returns the base URL the requester sends to ("" for the zero
// value of a client, so that printing one never panics).
func (r *requester) baseURL() string {
	if r == nil {
		return ""
	}
	return r.o.baseURL.String()
}

// closeIdleConnections closes the idle connections of the client's transport.
func (r *requester) closeIdleConnections() { r.hc.CloseIdleConnections() }

// DecodeError reports a 2xx response whose body is not the JSON expected.
type DecodeError struct {
	Method     string
	Path       string
	StatusCode int
	Err        error
}

// Error returns "amojo: METHOD PATH: decode STATUS response: …".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("amojo: %s %s: decode %d response: %v", e.Method, e.Path, e.StatusCode, e.Err)
}

// Unwrap returns the JSON error.
func (e *DecodeError) Unwrap() error { return e.Err }

// networkError is a failure to send or to read the answer; it is retried.
type networkError struct {
	method, path string
	err          error
}

func (e *networkError) Error() string {
	return fmt.Sprintf("amojo: %s %s: %v", e.method, e.path, e.err)
}

func (e *networkError) Unwrap() error { return e.err }

// backoff decides whether err is worth another attempt and how long to wait.
func (r *requester) backoff(err error, attempt int) (time.Duration, bool) {
	p := r.o.retry
	var ne *networkError
	var ae *APIError
	switch {
	case errors.As(err, &ne):
	case errors.As(err, &ae):
		switch ae.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		default:
			return 0, false
		}
		if ae.RetryAfter > 0 {
			if ae.RetryAfter > p.MaxRetryAfter {
				return 0, false
			}
			return ae.RetryAfter, true
		}
	default:
		return 0, false
	}
	return jitteredBackoff(p.BaseDelay, p.MaxDelay, attempt), true
}

// jitteredBackoff is the wait after the attempt-th failure: a capped
// exponential back-off with equal jitter, with ceiling = min(maxDelay,
// base·2^(attempt-1)) a time between ceiling/2 and ceiling. Half fixed, half
// random, so concurrent clients spread out without ever retrying at once.
func jitteredBackoff(base, maxDelay time.Duration, attempt int) time.Duration {
	ceiling := base
	for i := 1; i < attempt && ceiling < maxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxDelay)
	if ceiling <= 0 {
		return 0
	}
	half := ceiling / 2
	return half + time.Duration(rand.Int64N(int64(ceiling-half)+1))
}

func (r *requester) log(ctx context.Context, level slog.Level, msg, method, path string, status, attempt int, start time.Time, err error, extra ...slog.Attr) {
	l := r.o.logger
	if l == nil || !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6+len(extra))
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int("attempt", attempt),
		slog.Duration("elapsed", r.o.waitNow().Sub(start)),
	)
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		// Status and code only: amoCRM's messages and validation details
		// often repeat the phone, e-mail or text that was sent.
		if ae.Code != "" {
			attrs = append(attrs, slog.String("code", ae.Code))
		}
	case err != nil:
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = append(attrs, extra...)
	l.LogAttrs(ctx, level, msg, attrs...)
}
