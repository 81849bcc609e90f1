package amojo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// restToken is the token the test clients send.
const restToken = "test-token-5f2836a8"

// restBase is the path prefix the test server mounts the API under, so a
// request to a hard-coded absolute path misses it.
const restBase = "/crm"

// restRecorded is one request as the test server saw it.
type restRecorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// restServer is an httptest server with a mux under restBase that records
// every request.
type restServer struct {
	*httptest.Server
	mux  *http.ServeMux
	mu   sync.Mutex
	reqs []restRecorded
}

func (s *restServer) requests() []restRecorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]restRecorded(nil), s.reqs...)
}

// handle mounts h at "METHOD /api/…" below restBase.
func (s *restServer) handle(method, path string, h http.HandlerFunc) {
	s.mux.HandleFunc(method+" "+restBase+path, h)
}

// restSetup starts a test server and returns a CRM client for it, with no
// retries waiting for real (a recording no-op sleeper) unless opts say otherwise.
func restSetup(t *testing.T, opts ...Option) (*CRMClient, *restServer) {
	t.Helper()
	s := &restServer{mux: http.NewServeMux()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, restRecorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	base := []Option{withTestSleep(func(<-chan struct{}, time.Duration) bool { return true })}
	c, err := NewCRMClient(s.URL+restBase, StaticToken(restToken), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// restFixture reads testdata/rest/name.
func restFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rest", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restCompact returns the fixture name as compact JSON: the exact bytes the
// client is expected to send.
func restCompact(t testing.TB, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, restFixture(t, name)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.Bytes()
}

// restReply answers with status and body as application/hal+json or, for
// errors, application/problem+json.
func restReply(status int, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		ct := "application/hal+json"
		if status >= 400 {
			ct = "application/problem+json"
		}
		if len(body) > 0 {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// restCheckHeaders asserts the headers every REST request must carry.
func restCheckHeaders(t *testing.T, r restRecorded) {
	t.Helper()
	if got := r.Header.Get("Authorization"); got != "Bearer "+restToken {
		t.Errorf("%s %s: Authorization = %q", r.Method, r.Path, got)
	}
	if got := r.Header.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
		t.Errorf("%s %s: Content-Type = %q, want exactly application/json", r.Method, r.Path, got)
	}
	if got := r.Header.Values("Cookie"); len(got) != 0 {
		t.Errorf("%s %s: sent cookies %q", r.Method, r.Path, got)
	}
	if r.Method == http.MethodGet && len(r.Body) != 0 {
		t.Errorf("GET %s sent a body %q", r.Path, r.Body)
	}
}
