package amojotest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

// t0 is the time of the server's clock in most tests.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// clock is a settable clock shared by a test and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a started fake with a settable clock. base and hc, when set, are
// the address and client to use instead of the fake's own.
type env struct {
	t     *testing.T
	srv   *amojotest.Server
	clock *clock
	base  string
	hc    *http.Client
}

func (e *env) url() string {
	if e.base != "" {
		return e.base
	}
	return e.srv.URL
}

func (e *env) client() *http.Client {
	if e.hc != nil {
		return e.hc
	}
	return e.srv.HTTPClient()
}

func newEnv(t *testing.T, opts ...amojotest.Option) *env {
	t.Helper()
	c := newClock(t0)
	srv := amojotest.NewServer(append([]amojotest.Option{amojotest.WithClock(c.Now), amojotest.WithRateClock(c.Now)}, opts...)...)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, clock: c}
}

// result is a response read whole.
type result struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// handSign signs the five lines with crypto/hmac, independently of any
// signer in the module.
func handSign(secret, method, contentMD5, contentType, date, path string) string {
	m := hmac.New(sha1.New, []byte(secret))
	io.WriteString(m, method+"\n"+contentMD5+"\n"+contentType+"\n"+date+"\n"+path)
	return hex.EncodeToString(m.Sum(nil))
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// bodyBytes turns a test body (nil, string, []byte or a value) into bytes.
func bodyBytes(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signed is an amojo request with its signed headers, ready to be tampered
// with before send.
type signed struct {
	method, path, query string
	body                []byte
	header              http.Header
}

// sign builds a correctly signed amojo request for the default channel at the
// env's clock.
func (e *env) sign(method, path, query string, body any) *signed {
	e.t.Helper()
	b := bodyBytes(e.t, body)
	date := e.clock.Now().Format(time.RFC1123Z)
	md := md5hex(b)
	h := http.Header{}
	h.Set("Date", date)
	h.Set("Content-Type", "application/json")
	h.Set("Content-MD5", md)
	h.Set("X-Signature", handSign(e.srv.Channel().Secret, method, md, "application/json", date, path))
	return &signed{method: method, path: path, query: query, body: b, header: h}
}

func (e *env) send(s *signed) result {
	e.t.Helper()
	u := e.url() + s.path
	if s.query != "" {
		u += "?" + s.query
	}
	req, err := http.NewRequestWithContext(e.t.Context(), s.method, u, bytes.NewReader(s.body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = s.header
	return e.do(req)
}

func (e *env) do(req *http.Request) result {
	e.t.Helper()
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// amojo sends a correctly signed request.
func (e *env) amojo(method, path, query string, body any) result {
	e.t.Helper()
	return e.send(e.sign(method, path, query, body))
}

// rest sends a REST v4 request with token (none when empty).
func (e *env) rest(method, path, query string, body any, token string) result {
	e.t.Helper()
	u := e.url() + path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(bodyBytes(e.t, body))
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

const custom = "/v2/origin/custom/"

// connect connects the default channel and account with v2 webhooks.
func (e *env) connect() string {
	e.t.Helper()
	r := e.amojo("POST", custom+e.srv.Channel().ID+"/connect", "", map[string]any{
		"account_id": e.srv.Account().AmojoID, "title": "Test", "hook_api_version": "v2",
	})
	if r.status != 200 {
		e.t.Fatalf("connect: %d %s", r.status, r.body)
	}
	return e.srv.ScopeID()
}

// incoming sends an incoming text message and returns the answer.
func (e *env) incoming(scope, conv, msgid, text string, at time.Time) result {
	e.t.Helper()
	return e.amojo("POST", custom+scope, "", map[string]any{
		"event_type": "new_message",
		"payload": map[string]any{
			"timestamp": at.Unix(), "msec_timestamp": at.UnixMilli(), "msgid": msgid, "conversation_id": conv,
			"sender":  map[string]any{"id": "client-1", "name": "Client", "profile": map[string]any{"phone": "+79151112233"}},
			"message": map[string]any{"type": "text", "text": text},
		},
	})
}

// mustStatus fails unless r has the status.
func mustStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// errorCode returns the error_code of an amojo error body.
func errorCode(t *testing.T, r result) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	m := r.json(t)
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("no error_description in %s", r.body)
	}
	code, _ := m["error_code"].(string)
	return code
}
