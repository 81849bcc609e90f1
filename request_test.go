package amojo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testSecret = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"

// fakeClock is a clock that only moves when a test sleeper advances it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2021, 12, 16, 13, 15, 29, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sleepRecorder replaces waiting: it records each requested delay and
// advances the fake clock instead of sleeping.
type sleepRecorder struct {
	mu     sync.Mutex
	clock  *fakeClock
	delays []time.Duration
}

func (s *sleepRecorder) sleep(done <-chan struct{}, d time.Duration) bool {
	select {
	case <-done:
		return false
	default:
	}
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	if s.clock != nil {
		s.clock.Advance(d)
	}
	return true
}

func (s *sleepRecorder) Delays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

// withTestSleep replaces the client's waiting (back-off and rate limit).
func withTestSleep(f func(done <-chan struct{}, d time.Duration) bool) Option {
	return func(o *options) error {
		o.sleep, o.testWait = f, true
		return nil
	}
}

// recordedRequest is what a test server saw.
type recordedRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// scriptServer answers with the given handlers in turn (the last one repeats)
// and records every request.
type scriptServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recordedRequest
}

func newScriptServer(t *testing.T, steps ...http.HandlerFunc) *scriptServer {
	t.Helper()
	s := &scriptServer{}
	var n atomic.Int64
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		s.mu.Unlock()
		i := int(n.Add(1)) - 1
		if i >= len(steps) {
			i = len(steps) - 1
		}
		steps[i](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) Requests() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedRequest(nil), s.reqs...)
}

func status(code int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func newTestClient(t *testing.T, baseURL string, opts ...Option) (*Client, *sleepRecorder, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	sl := &sleepRecorder{clock: clock}
	all := append([]Option{WithBaseURL(baseURL), WithClock(clock.Now), withTestSleep(sl.sleep)}, opts...)
	c, err := NewClient("344a5002-f8ca-454d-af3d-396180102ac7", testSecret, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl, clock
}

func postPing(ctx context.Context, c *Client, out any) (int, error) {
	return c.r.do(ctx, request{method: http.MethodPost, path: "/v2/origin/custom/scope", in: map[string]string{"ping": "pong"}, out: out})
}

// checkSigned verifies the four amojo headers of a recorded request with the
// reference implementation.
func checkSigned(t *testing.T, r recordedRequest) {
	t.Helper()
	md := referenceMD5(r.Body)
	if got := r.Header.Get("Content-MD5"); got != md {
		t.Errorf("Content-MD5 = %q, want %q", got, md)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	date := r.Header.Get("Date")
	if _, err := time.Parse(time.RFC1123Z, date); err != nil || !strings.HasSuffix(date, " +0000") {
		t.Errorf("Date = %q, want RFC 1123 with +0000", date)
	}
	want := referenceSignature(testSecret, r.Method, md, "application/json", date, r.Path)
	if got := r.Header.Get("X-Signature"); got != want {
		t.Errorf("X-Signature = %q, want %q", got, want)
	}
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(503, ""), status(200, `{"ok":true}`))
	c, sl, _ := newTestClient(t, srv.URL)
	var out struct{ OK bool }
	st, err := postPing(t.Context(), c, &out)
	if err != nil || st != 200 || !out.OK {
		t.Fatalf("do = %d, %v, %+v", st, err, out)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d attempts, want 2", len(reqs))
	}
	for _, r := range reqs {
		if string(r.Body) != `{"ping":"pong"}` {
			t.Errorf("body = %s", r.Body)
		}
		checkSigned(t, r)
	}
	if d := sl.Delays(); len(d) != 1 || d[0] < DefaultRetryPolicy().BaseDelay/2 || d[0] > DefaultRetryPolicy().BaseDelay {
		t.Errorf("back-off delays = %v, want one in [%v, %v]", d, DefaultRetryPolicy().BaseDelay/2, DefaultRetryPolicy().BaseDelay)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	clockDate := newFakeClock().Now().Add(7 * time.Second).Format(http.TimeFormat)
	cases := []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "3", 3 * time.Second},
		{"http date", clockDate, 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptServer(t, status(429, "", "Retry-After", tc.header), status(200, ""))
			c, sl, _ := newTestClient(t, srv.URL)
			if _, err := postPing(t.Context(), c, nil); err != nil {
				t.Fatal(err)
			}
			if d := sl.Delays(); len(d) != 1 || d[0] != tc.want {
				t.Fatalf("delays = %v, want [%v]", d, tc.want)
			}
			// The retry is signed afresh: a Date tc.want later, and a
			// signature over it.
			reqs := srv.Requests()
			d0, _ := time.Parse(time.RFC1123Z, reqs[0].Header.Get("Date"))
			d1, _ := time.Parse(time.RFC1123Z, reqs[1].Header.Get("Date"))
			if d1.Sub(d0) != tc.want {
				t.Errorf("Dates %v and %v, want %v apart", d0, d1, tc.want)
			}
			for _, r := range reqs {
				checkSigned(t, r)
			}
		})
	}
}

func TestRetryAfterBeyondLimitIsNotWaited(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(429, "", "Retry-After", "3600"))
	c, sl, _ := newTestClient(t, srv.URL)
	_, err := postPing(t.Context(), c, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.RetryAfter != time.Hour || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
	if len(srv.Requests()) != 1 || len(sl.Delays()) != 0 {
		t.Fatalf("attempts = %d, delays = %v", len(srv.Requests()), sl.Delays())
	}
}

func TestNeverRetried(t *testing.T) {
	t.Parallel()
	for _, code := range []int{400, 401, 403, 404, 409, 422, 500} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			srv := newScriptServer(t, status(code, `{"error_code":"E1","error_description":"nope"}`))
			c, sl, _ := newTestClient(t, srv.URL)
			_, err := postPing(t.Context(), c, nil)
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.StatusCode != code || ae.Code != "E1" || ae.Message != "nope" || ae.Method != "POST" || ae.Path != "/v2/origin/custom/scope" {
				t.Errorf("APIError = %+v", ae)
			}
			var re *RetryError
			if errors.As(err, &re) {
				t.Errorf("single attempt wrapped in RetryError: %v", err)
			}
			if n := len(srv.Requests()); n != 1 || len(sl.Delays()) != 0 {
				t.Errorf("attempts = %d, want 1", n)
			}
		})
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(502, "bad gateway"), status(503, ""), status(504, `{"message":"gateway timeout"}`))
	c, sl, _ := newTestClient(t, srv.URL)
	_, err := postPing(t.Context(), c, nil)
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 4 {
		t.Fatalf("err = %v, want RetryError after 4 attempts", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 504 || ae.Message != "gateway timeout" {
		t.Fatalf("last error = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "amojo: POST /v2/origin/custom/scope: 504") || !strings.Contains(err.Error(), "4 attempts") {
		t.Errorf("message = %q", err.Error())
	}
	d := sl.Delays()
	if len(d) != 3 {
		t.Fatalf("delays = %v", d)
	}
	for i, ceil := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		if d[i] < ceil/2 || d[i] > ceil {
			t.Errorf("delay %d = %v, want within [%v, %v]", i, d[i], ceil/2, ceil)
		}
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	// 1s, 2s, then capped at 3s (doubling would give 4s).
	r := &requester{o: &options{retry: RetryPolicy{MaxAttempts: 50, BaseDelay: time.Second, MaxDelay: 3 * time.Second, MaxRetryAfter: time.Minute}}}
	err := &APIError{StatusCode: 503}
	for attempt := 1; attempt < 50; attempt++ {
		ceiling := min(time.Second<<min(attempt-1, 10), 3*time.Second)
		seen := map[time.Duration]bool{}
		for range 20 {
			d, ok := r.backoff(err, attempt)
			if !ok || d < ceiling/2 || d > ceiling {
				t.Fatalf("attempt %d: delay %v, retry %v; want within [%v, %v]", attempt, d, ok, ceiling/2, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("attempt %d: no jitter, always %v", attempt, seen)
		}
	}
}

func TestContextCancelledDuringBackoffReturnsPromptly(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(503, ""))
	// Real waiting (the default sleeper) with an hour-long back-off; the
	// test only learns when the wait begins.
	waiting := make(chan struct{})
	var once sync.Once
	realSleep := func(done <-chan struct{}, d time.Duration) bool {
		once.Do(func() { close(waiting) })
		return sleepCtx(done, d)
	}
	c, err := NewClient("ch", "secret", WithBaseURL(srv.URL), withTestSleep(realSleep),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Hour, MaxDelay: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := postPing(ctx, c, nil)
		done <- err
	}()
	<-waiting
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != 503 {
			t.Errorf("err = %v, want it to keep the last APIError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("call did not return after the context was cancelled")
	}
}

func TestNetworkErrorIsRetried(t *testing.T) {
	t.Parallel()
	drop := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	srv := newScriptServer(t, drop, status(200, `{}`))
	c, _, _ := newTestClient(t, srv.URL)
	if _, err := postPing(t.Context(), c, nil); err != nil {
		t.Fatalf("err = %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Fatalf("attempts = %d; the retry must resend the same bytes", len(reqs))
	}
}

func TestDecodeErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, `{"ok":`))
	c, _, _ := newTestClient(t, srv.URL)
	var out struct{ OK bool }
	_, err := postPing(t.Context(), c, &out)
	var de *DecodeError
	if !errors.As(err, &de) || de.StatusCode != 200 || len(srv.Requests()) != 1 {
		t.Fatalf("err = %v, attempts %d", err, len(srv.Requests()))
	}
}

func TestGetSendsNoBodyAndSignsEmptyMD5(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(204, ""))
	c, _, _ := newTestClient(t, srv.URL+"/prefix/")
	q := url.Values{"limit": {"50"}, "offset": {"0"}}
	st, err := c.r.do(t.Context(), request{method: http.MethodGet, path: "/v2/origin/custom/s/chats/c%2Fd/history", query: q, out: &struct{}{}})
	if err != nil || st != 204 {
		t.Fatalf("do = %d, %v", st, err)
	}
	r := srv.Requests()[0]
	if len(r.Body) != 0 || r.Header.Get("Content-Length") != "" && r.Header.Get("Content-Length") != "0" {
		t.Errorf("GET sent a body: %q", r.Body)
	}
	if r.RawQuery != "limit=50&offset=0" {
		t.Errorf("query = %q", r.RawQuery)
	}
	if r.Header.Get("Content-MD5") != emptyMD5 {
		t.Errorf("Content-MD5 = %q", r.Header.Get("Content-MD5"))
	}
	// The signed path is the escaped path including the base URL's prefix.
	want := referenceSignature(testSecret, "GET", emptyMD5, "application/json", r.Header.Get("Date"), "/prefix/v2/origin/custom/s/chats/c%2Fd/history")
	if got := r.Header.Get("X-Signature"); got != want {
		t.Errorf("X-Signature = %s, want %s", got, want)
	}
	if ua := r.Header.Get("User-Agent"); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestNoCookiesAreSent(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, `{}`))
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "session_id", Value: "s3cr3t"}})
	c, _, _ := newTestClient(t, srv.URL, WithHTTPClient(&http.Client{Jar: jar}))
	if _, err := postPing(t.Context(), c, nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Header.Get("Cookie"); got != "" {
		t.Fatalf("Cookie header sent: %q", got)
	}
}

func TestLoggingNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(503, `{"message":"later"}`), status(200, `{}`))
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _, _ := newTestClient(t, srv.URL, WithLogger(logger))
	body := map[string]string{"text": "private message text", "phone": "+79151112233"}
	if _, err := c.r.do(t.Context(), request{method: "POST", path: "/v2/origin/custom/scope", in: body}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "amojo retry") || !strings.Contains(out, "status=200") {
		t.Errorf("log lacks the retry or the final status:\n%s", out)
	}
	sig := srv.Requests()[0].Header.Get("X-Signature")
	for _, secret := range []string{testSecret, sig, "private message text", "+79151112233"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if s := c.String(); strings.Contains(s, testSecret) {
		t.Errorf("String() shows the secret: %s", s)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, `{"ok":true}`))
	c, _, _ := newTestClient(t, srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			var out struct{ OK bool }
			if _, err := postPing(t.Context(), c, &out); err != nil || !out.OK {
				errs <- errors.Join(err, errors.New("not ok"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, r := range srv.Requests() {
		checkSigned(t, r)
	}
}

func TestRateLimitSpacesRequests(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	sl := &sleepRecorder{clock: clock}
	var mu sync.Mutex
	var seen []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		seen = append(seen, clock.Now())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient("ch", "secret", WithBaseURL(srv.URL), WithClock(clock.Now), withTestSleep(sl.sleep), WithRateLimit(2, 1))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := postPing(t.Context(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(seen); i++ {
		if gap := seen[i].Sub(seen[i-1]); gap < 500*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart at 2/s", i-1, i, gap)
		}
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, channel, secret string
		opts                  []Option
		field                 string
	}{
		{"empty channel", "", "s", nil, "channelID"},
		{"channel with space", "a b", "s", nil, "channelID"},
		{"empty secret", "c", "", nil, "secret"},
		{"secret with newline", "c", "s\n", nil, "secret"},
		{"empty base URL", "c", "s", []Option{WithBaseURL("")}, "BaseURL"},
		{"relative base URL", "c", "s", []Option{WithBaseURL("amojo.amocrm.ru")}, "BaseURL"},
		{"ftp base URL", "c", "s", []Option{WithBaseURL("ftp://amojo.amocrm.ru")}, "BaseURL"},
		{"base URL with query", "c", "s", []Option{WithBaseURL("https://h/?a=1")}, "BaseURL"},
		{"unparsable base URL", "c", "s", []Option{WithBaseURL("http://[::1")}, "BaseURL"},
		{"nil http client", "c", "s", []Option{WithHTTPClient(nil)}, "HTTPClient"},
		{"nil clock", "c", "s", []Option{WithClock(nil)}, "Clock"},
		{"zero attempts", "c", "s", []Option{WithRetry(RetryPolicy{})}, "RetryPolicy.MaxAttempts"},
		{"negative rate", "c", "s", []Option{WithRateLimit(-1, 1)}, "RateLimit"},
		{"zero burst", "c", "s", []Option{WithRateLimit(5, 0)}, "RateLimit.Burst"},
		{"nil logger", "c", "s", []Option{WithLogger(nil)}, "Logger"},
		{"empty user agent", "c", "s", []Option{WithUserAgent(" ")}, "UserAgent"},
		{"nil option", "c", "s", []Option{nil}, "opts[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClient(tc.channel, tc.secret, tc.opts...)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want ValidationError on %s", err, tc.field)
			}
			if !strings.HasPrefix(err.Error(), "amojo: ") {
				t.Errorf("message %q lacks the amojo: prefix", err)
			}
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient("ch", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != DefaultBaseURL || c.r.hc.Timeout != DefaultTimeout || c.r.limiter != nil {
		t.Errorf("defaults: base %s timeout %v limiter %v", c.BaseURL(), c.r.hc.Timeout, c.r.limiter)
	}
	k, err := NewClient("ch", "secret", WithBaseURL(KommoBaseURL+"/"))
	if err != nil || k.BaseURL() != KommoBaseURL {
		t.Errorf("Kommo base = %v, %v", k, err)
	}
}

func TestScopeID(t *testing.T) {
	t.Parallel()
	s := ScopeID("344a5002-f8ca-454d-af3d-396180102ac7", "52e591f7-c98f-4255-8495-827210138c81")
	if s != "344a5002-f8ca-454d-af3d-396180102ac7_52e591f7-c98f-4255-8495-827210138c81" {
		t.Fatalf("ScopeID = %s", s)
	}
	ch, acc, ok := SplitScopeID(s)
	if !ok || ch != "344a5002-f8ca-454d-af3d-396180102ac7" || acc != "52e591f7-c98f-4255-8495-827210138c81" {
		t.Fatalf("SplitScopeID = %s %s %v", ch, acc, ok)
	}
	for _, bad := range []string{"", "nounderscore", "_x", "x_"} {
		if _, _, ok := SplitScopeID(bad); ok {
			t.Errorf("SplitScopeID(%q) ok", bad)
		}
	}
}
