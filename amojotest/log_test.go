package amojotest_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
)

// answerWatch copies the fake's request log at the moment each answer
// begins to go out, or the connection closes without one: the moment the
// client can see the answer or its loss. It watches the connections of a
// listener the fake is served on.
type answerWatch struct {
	srv  *amojotest.Server
	mu   sync.Mutex
	logs [][]amojotest.Request // one per answer or loss, in order
}

// newWatchedEnv is an env whose fake is served by an httptest server on a
// watched listener.
func newWatchedEnv(t *testing.T, opts ...amojotest.Option) (*env, *answerWatch) {
	t.Helper()
	c := newClock(t0)
	srv := amojotest.NewUnstartedServer(append([]amojotest.Option{amojotest.WithClock(c.Now), amojotest.WithRateClock(c.Now)}, opts...)...)
	w := &answerWatch{srv: srv}
	ts := httptest.NewUnstartedServer(srv)
	ts.Listener = watchedListener{Listener: ts.Listener, w: w}
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &env{t: t, srv: srv, clock: c, base: ts.URL, hc: ts.Client()}, w
}

func (w *answerWatch) take() {
	log := w.srv.Requests()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logs = append(w.logs, log)
}

// last returns the log as it was at the latest answer or loss.
func (w *answerWatch) last(t *testing.T) []amojotest.Request {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.logs) == 0 {
		t.Fatal("no answer went out")
	}
	return w.logs[len(w.logs)-1]
}

type watchedListener struct {
	net.Listener
	w *answerWatch
}

func (l watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, w: l.w}, nil
}

// watchedConn takes the log at its first write or close after each read of
// a request: the first byte of the answer, or the loss of it.
type watchedConn struct {
	net.Conn
	w     *answerWatch
	mu    sync.Mutex
	armed bool
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.armed = true
		c.mu.Unlock()
	}
	return n, err
}

func (c *watchedConn) fire() {
	c.mu.Lock()
	armed := c.armed
	c.armed = false
	c.mu.Unlock()
	if armed {
		c.w.take()
	}
}

func (c *watchedConn) Write(b []byte) (int, error) {
	c.fire()
	return c.Conn.Write(b)
}

func (c *watchedConn) Close() error {
	c.fire()
	return c.Conn.Close()
}

// TestFaultsAreLoggedBeforeTheClientSeesThem checks, for an answer and for
// each fault, that the request and its outcome are in Requests() before the
// client can see the answer or the loss of the connection.
func TestFaultsAreLoggedBeforeTheClientSeesThem(t *testing.T) {
	t.Parallel()
	e, w := newWatchedEnv(t, noLimit)
	scope := e.connect()
	message := map[string]any{"event_type": "new_message", "payload": map[string]any{
		"timestamp": t0.Unix(), "msgid": "m-1", "conversation_id": "c",
		"sender": map[string]any{"id": "u", "name": "U"}, "message": map[string]any{"type": "text", "text": "x"},
	}}
	for _, tt := range []struct {
		name    string
		fault   func()
		method  string
		path    string
		body    any
		route   amojotest.Route
		status  int
		dropped bool
	}{
		{name: "answer", method: "GET", path: custom + scope + "/chats/x/history", route: amojotest.RouteHistory, status: 204},
		{name: "no route", method: "GET", path: "/nowhere", status: 404},
		{name: "FailNext", fault: func() { e.srv.FailNext(amojotest.RouteTyping, 1, 503, "1") },
			method: "POST", path: custom + scope + "/typing", body: `{}`, route: amojotest.RouteTyping, status: 503},
		{name: "DropNext", fault: func() { e.srv.DropNext(amojotest.RouteCreateChat, 1) },
			method: "POST", path: custom + scope + "/chats", body: `{}`, route: amojotest.RouteCreateChat, dropped: true},
		{name: "DropNextResponse", fault: func() { e.srv.DropNextResponse(amojotest.RouteMessage, 1) },
			method: "POST", path: custom + scope, body: message, route: amojotest.RouteMessage, status: 200, dropped: true},
	} {
		if tt.fault != nil {
			tt.fault()
		}
		s := e.sign(tt.method, tt.path, "", tt.body)
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, e.url()+s.path, bytes.NewReader(s.body))
		req.Header = s.header
		resp, err := e.client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err != nil) != tt.dropped {
			t.Fatalf("%s: err %v", tt.name, err)
		}
		log := w.last(t)
		if len(log) != len(e.srv.Requests()) {
			t.Fatalf("%s: %d requests logged when the client saw the outcome, %d after", tt.name, len(log), len(e.srv.Requests()))
		}
		got := log[len(log)-1]
		if got.Route != tt.route || got.Path != tt.path || got.StatusCode != tt.status || got.Dropped != tt.dropped {
			t.Errorf("%s: logged %s %s status %d dropped %v when the client saw the outcome", tt.name, got.Route, got.Path, got.StatusCode, got.Dropped)
		}
	}
}

// TestDropNextOverHTTP2IsLogged: over HTTP/2 a drop resets the stream (the
// handler aborts with a panic) and is logged all the same.
func TestDropNextOverHTTP2IsLogged(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewUnstartedServer()
	defer srv.Close()
	ts := httptest.NewUnstartedServer(srv)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	get := func() (int, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/api/v4/account", nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		resp, err := ts.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("served over %s", resp.Proto)
		}
		return resp.StatusCode, nil
	}
	srv.DropNext(amojotest.RouteAccount, 1)
	if st, err := get(); err == nil {
		t.Fatalf("dropped request answered %d", st)
	}
	log := srv.Requests()
	if len(log) != 1 || log[0].Route != amojotest.RouteAccount || !log[0].Dropped || log[0].StatusCode != 0 {
		t.Fatalf("log after the drop %+v", log)
	}
	if st, err := get(); err != nil || st != 200 {
		t.Fatalf("next request: %d %v", st, err)
	}
	if log = srv.Requests(); len(log) != 2 || log[1].Dropped || log[1].StatusCode != 200 {
		t.Errorf("log %+v", log)
	}
}
