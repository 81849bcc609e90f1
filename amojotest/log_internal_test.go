package amojotest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// getAccount sends an authorised GET /api/v4/account and fails the test if
// it is answered: the tests here lose it.
func getAccount(t *testing.T, s *Server, path string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := s.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s answered %d", path, resp.StatusCode)
	}
}

// TestLatencyIsLoggedWhileItLasts: a delayed request is in the log from its
// arrival, so a client that gives up during the delay finds it there; its
// loss is logged before the connection closes.
func TestLatencyIsLoggedWhileItLasts(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer()
	during := make(chan []Request, 1)
	s.wait = func(context.Context, time.Duration) bool {
		during <- s.Requests()
		return false // the delay ends as when the client gives up
	}
	s.Start()
	defer s.Close()
	s.SetLatency(RouteAccount, time.Minute)
	getAccount(t, s, "/api/v4/account")
	log := <-during
	if len(log) != 1 || log[0].Route != RouteAccount || log[0].StatusCode != 0 || log[0].Dropped {
		t.Errorf("log during the delay %+v", log)
	}
	if log = s.Requests(); len(log) != 1 || !log[0].Dropped || log[0].StatusCode != 0 {
		t.Errorf("log when the client saw the loss %+v", log)
	}
}

// TestPanicIsLogged: a handler that panics answers nothing (net/http closes
// the connection) and is logged as dropped, before the client sees it.
func TestPanicIsLogged(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer()
	s.mux.Handle("GET /api/v4/panics", s.faulty("panics", true, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // net/http does not print this one
	})))
	s.mux.Handle("GET /api/v4/panics-late", s.faulty("panics-late", true, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic(http.ErrAbortHandler)
	})))
	s.Start()
	defer s.Close()
	getAccount(t, s, "/api/v4/panics")
	getAccount(t, s, "/api/v4/panics-late")
	log := s.Requests()
	if len(log) != 2 || log[0].Route != "panics" || !log[0].Dropped || log[0].StatusCode != 0 ||
		log[1].Route != "panics-late" || !log[1].Dropped || log[1].StatusCode != http.StatusAccepted {
		t.Errorf("log %+v", log)
	}
}
