package amojo

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// restFakeClock is a virtual clock for a known number of goroutines. A
// goroutine that sleeps waits until the clock reaches its deadline; the clock
// moves to the earliest deadline only when every goroutine is either asleep or
// finished, so no goroutine ever observes a time its sleep did not reach.
type restFakeClock struct {
	mu       sync.Mutex
	cond     *sync.Cond
	now      time.Time
	total    int
	finished int
	sleepers []*restSleeper
}

type restSleeper struct {
	until time.Time
	wake  chan struct{}
}

func newRestFakeClock(start time.Time, goroutines int) *restFakeClock {
	c := &restFakeClock{now: start, total: goroutines}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *restFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *restFakeClock) Sleep(done <-chan struct{}, d time.Duration) bool {
	c.mu.Lock()
	s := &restSleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return true
	case <-done:
		return false
	}
}

// finish marks one goroutine as done.
func (c *restFakeClock) finish() {
	c.mu.Lock()
	c.finished++
	c.cond.Broadcast()
	c.mu.Unlock()
}

// run advances the clock until every goroutine has finished.
func (c *restFakeClock) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.finished+len(c.sleepers) < c.total {
			c.cond.Wait()
		}
		if c.finished == c.total {
			return
		}
		next := c.sleepers[0].until
		for _, s := range c.sleepers {
			if s.until.Before(next) {
				next = s.until
			}
		}
		if next.After(c.now) {
			c.now = next
		}
		kept := c.sleepers[:0]
		for _, s := range c.sleepers {
			if s.until.After(c.now) {
				kept = append(kept, s)
			} else {
				close(s.wake)
			}
		}
		c.sleepers = kept
	}
}

// restBurst runs n concurrent Account calls on a client made with opts and a
// fake clock, and returns the fake time at which the server saw each request.
func restBurst(t *testing.T, n int, opts ...Option) []time.Duration {
	t.Helper()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clk := newRestFakeClock(start, n)
	c, s := restSetup(t, append([]Option{WithClock(clk.Now), withTestSleep(clk.Sleep)}, opts...)...)
	var mu sync.Mutex
	var seen []time.Duration
	body := restFixture(t, "account_response.json")
	s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, clk.Now().Sub(start))
		mu.Unlock()
		restReply(200, body)(w, r)
	})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			defer clk.finish()
			if _, err := c.Account(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	clk.run()
	wg.Wait()
	slices.Sort(seen)
	return seen
}

// restMaxInWindow returns the most requests in any half-open window [t, t+w).
func restMaxInWindow(times []time.Duration, w time.Duration) int {
	best := 0
	for i, t0 := range times {
		n := 0
		for _, t1 := range times[i:] {
			if t1 < t0+w {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestCRMRateLimitDefault(t *testing.T) {
	t.Parallel()
	seen := restBurst(t, 20)
	if len(seen) != 20 {
		t.Fatalf("server saw %d requests, want 20", len(seen))
	}
	if n := restMaxInWindow(seen, time.Second); n > DefaultCRMRateLimit {
		t.Errorf("%d requests within one second, want at most %d; times %v", n, DefaultCRMRateLimit, seen)
	}
	// Not slower than needed: 7 at once, 7 a second later, 6 after two seconds.
	want := make([]time.Duration, 0, 20)
	for i := range 20 {
		want = append(want, time.Duration(i/7)*time.Second)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("request times %v\nwant %v", seen, want)
	}
}

func TestCRMRateLimitOptions(t *testing.T) {
	t.Parallel()
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		seen := restBurst(t, 20, WithRateLimit(0, 0))
		if len(seen) != 20 || seen[19] != 0 {
			t.Errorf("times %v, want all at once", seen)
		}
	})
	t.Run("token bucket 7/7 lets 13 through in the first second", func(t *testing.T) {
		t.Parallel()
		// Why the default is a window, not a token bucket of the same numbers:
		// the bucket lets burst + rate·1s through in the first second.
		seen := restBurst(t, 20, WithRateLimit(DefaultCRMRateLimit, DefaultCRMRateLimit))
		if n := restMaxInWindow(seen, time.Second); n != 13 {
			t.Errorf("%d requests within one second, want 13; times %v", n, seen)
		}
	})
	t.Run("token bucket", func(t *testing.T) {
		t.Parallel()
		// 2 per second with burst 1: one request every 500ms.
		seen := restBurst(t, 5, WithRateLimit(2, 1))
		want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}
		if !slices.Equal(seen, want) {
			t.Errorf("times %v, want %v", seen, want)
		}
	})
}

func TestWindowLimiter(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	w := newWindowLimiter(3, time.Second)
	steps := []struct {
		now  int // ms
		wait time.Duration
	}{
		{0, 0}, {100, 0}, {200, 0}, // burst of 3
		{300, 700 * time.Millisecond}, // full until 1000 (first + 1s); nothing booked
		{1000, 0},                     // the first request's second is over
		{1050, 50 * time.Millisecond}, // next free at 1100
		{1100, 0},                     //
		{5000, 0},                     // long pause: free again
		{5000, 0},                     //
		{5000, 0},                     //
		{5000, time.Second},           // free at 6000
		{5500, 500 * time.Millisecond},
		{6000, 0}, // callers that gave up waiting left no booking behind
	}
	for i, s := range steps {
		if got := w.admit(func() time.Time { return at(s.now) }); got != s.wait {
			t.Errorf("step %d at %dms: wait %v, want %v", i, s.now, got, s.wait)
		}
	}
}

func TestTokenBucketBooksNothingWhileWaiting(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) func() time.Time {
		return func() time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	}
	b := newTokenBucket(2, 1) // one request every 500ms
	if d := b.admit(at(0)); d != 0 {
		t.Fatalf("first request waits %v", d)
	}
	// Callers that ask and give up do not push the next slot back.
	for range 5 {
		if d := b.admit(at(100)); d != 400*time.Millisecond {
			t.Fatalf("wait %v, want 400ms", d)
		}
	}
	if d := b.admit(at(500)); d != 0 {
		t.Fatalf("at 500ms: wait %v, want 0", d)
	}
}
