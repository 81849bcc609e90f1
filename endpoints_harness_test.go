package amojo

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateRequestGolden = flag.Bool("update-requests", false, "rewrite the golden request bodies in testdata/requests")

// The identifiers and secret of the amoCRM step-by-step page (chats-api.md §2.1).
const (
	vecSecret    = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
	vecChannelID = "344a5002-f8ca-454d-af3d-396180102ac7"
	vecAccountID = "52e591f7-c98f-4255-8495-827210138c81"
	vecScopeID   = vecChannelID + "_" + vecAccountID
)

// vecDate parses a Date header value of the vectors.
func vecDate(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// wireRequest is a request as the stub server saw it.
type wireRequest struct {
	Method  string
	Path    string // escaped
	Query   string
	Header  http.Header
	Body    []byte
	HasBody bool
}

// wireServer is an httptest server that records every request and answers
// with handler.
type wireServer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []wireRequest
	client *Client
	now    time.Time
}

// newWireServer starts a server answering with handler (called with the
// 0-based request number) and a client for channel vecChannelID whose clock
// is fixed at now. Retries are off.
func newWireServer(t *testing.T, now time.Time, handler func(n int, w http.ResponseWriter, r *http.Request)) *wireServer {
	t.Helper()
	s := &wireServer{t: t, now: now}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, wireRequest{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, HasBody: r.ContentLength != 0,
		})
		s.mu.Unlock()
		handler(n, w, r)
	}))
	t.Cleanup(s.srv.Close)
	c, err := NewClient(vecChannelID, vecSecret,
		WithBaseURL(s.srv.URL),
		WithHTTPClient(s.srv.Client()),
		WithClock(func() time.Time { return now }),
		WithRetry(NoRetry()),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

func (s *wireServer) requests() []wireRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wireRequest(nil), s.reqs...)
}

// only returns the single request the server received.
func (s *wireServer) only() wireRequest {
	s.t.Helper()
	reqs := s.requests()
	if len(reqs) != 1 {
		s.t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// answer replies with status code and body.
func answer(code int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// answerFile replies 200 with a fixture of testdata/responses.
func answerFile(t *testing.T, name string) func(int, http.ResponseWriter, *http.Request) {
	return answer(http.StatusOK, string(readResponse(t, name)))
}

// refuseAll fails the test on any request.
func refuseAll(t *testing.T) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	}
}

func readResponse(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkWire asserts method, escaped path, query and the four signed headers,
// recomputing Content-MD5 and X-Signature from what was received.
func checkWire(t *testing.T, r wireRequest, method, path, query string, now time.Time) {
	t.Helper()
	if r.Method != method {
		t.Errorf("method = %s, want %s", r.Method, method)
	}
	if r.Path != path {
		t.Errorf("path = %s, want %s", r.Path, path)
	}
	if r.Query != query {
		t.Errorf("query = %q, want %q", r.Query, query)
	}
	date := now.UTC().Format(time.RFC1123Z)
	if got := r.Header.Get("Date"); got != date {
		t.Errorf("Date = %q, want %q", got, date)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	md := referenceMD5(r.Body)
	if got := r.Header.Get("Content-MD5"); got != md {
		t.Errorf("Content-MD5 = %q, want %q", got, md)
	}
	sig := referenceSignature(vecSecret, method, md, "application/json", date, path)
	if got := r.Header.Get("X-Signature"); got != sig {
		t.Errorf("X-Signature = %q, want %q", got, sig)
	}
	if method == http.MethodGet && (len(r.Body) != 0 || r.HasBody) {
		t.Errorf("GET sent a body: %q", r.Body)
	}
}

// checkGolden compares body with testdata/requests/name byte for byte.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", "requests", name)
	if *updateRequestGolden {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-requests to create it)", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("body differs from %s\n got: %s\nwant: %s", path, body, want)
	}
}

// wantValidation asserts err is a *ValidationError naming field.
func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want *ValidationError for %s", err, err, field)
	}
	if ve.Field != field {
		t.Errorf("Field = %q, want %q (%v)", ve.Field, field, err)
	}
	if !strings.HasPrefix(err.Error(), "amojo: ") {
		t.Errorf("message %q lacks the amojo: prefix", err)
	}
}
