package amojotest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestLatency(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer(WithRateLimit(0, 0))
	var mu sync.Mutex
	var waits []time.Duration
	s.wait = func(_ context.Context, d time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return true
	}
	s.Start()
	defer s.Close()
	s.SetLatency(AllRoutes, 300*time.Millisecond)
	s.SetLatency(RouteUsers, 2*time.Second)
	get := func(path string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token())
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get("/api/v4/account"); st != 200 {
		t.Errorf("account %d", st)
	}
	if st := get("/api/v4/users"); st != 200 {
		t.Errorf("users %d", st)
	}
	s.SetLatency(AllRoutes, 0)
	get("/api/v4/account")
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0] != 300*time.Millisecond || waits[1] != 2*time.Second {
		t.Errorf("waits %v", waits)
	}
}

// TestLatencyEndsOnClose checks that a delayed request does not hold Close.
func TestLatencyEndsOnClose(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer()
	entered := make(chan struct{})
	s.wait = func(ctx context.Context, d time.Duration) bool {
		close(entered)
		return s.sleep(ctx, d)
	}
	s.Start()
	s.SetLatency(RouteAccount, time.Hour)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", s.URL+"/api/v4/account", nil)
		resp, err := s.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	s.Close()
	if err := <-done; err == nil {
		t.Error("a request delayed by an hour succeeded")
	}
	if r := s.Requests(); len(r) != 1 || !r[0].Dropped {
		t.Errorf("log %+v", r)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s.sleep(ctx, time.Hour) {
		t.Error("sleep ignored a cancelled context")
	}
	if !s.sleep(t.Context(), time.Nanosecond) {
		t.Error("short sleep failed")
	}
	s.Close()
	if s.sleep(t.Context(), time.Hour) {
		t.Error("sleep ignored Close")
	}
}
