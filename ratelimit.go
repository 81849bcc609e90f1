package amojo

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter decides whether a request may start. admit reads the clock
// once, under the limiter's lock; it records a request starting then and
// returns 0, or returns how long to wait before asking again and records
// nothing, so a caller that gives up waiting leaves no trace.
type rateLimiter interface {
	admit(clock func() time.Time) time.Duration
}

// tokenBucket is the limiter of WithRateLimit: perSecond requests per second
// with bursts of burst.
type tokenBucket struct {
	mu sync.Mutex
	l  *rate.Limiter
}

func newTokenBucket(perSecond float64, burst int) *tokenBucket {
	return &tokenBucket{l: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

func (b *tokenBucket) admit(clock func() time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := clock()
	res := b.l.ReserveN(now, 1) // burst ≥ 1: WithRateLimit checks it
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// windowLimiter admits at most n requests in any window of length per: a
// sliding log of the last n start times. It is stricter than a token bucket of
// the same rate and burst (which lets burst + rate·per through in the first
// window after a pause), so a server that counts requests per second, per
// sliding second or with a token bucket never sees more than n in a second.
type windowLimiter struct {
	mu    sync.Mutex
	n     int
	per   time.Duration
	times []time.Time // ring of the last n reserved start times
	next  int         // index of the oldest entry once the ring is full
}

func newWindowLimiter(n int, per time.Duration) *windowLimiter {
	return &windowLimiter{n: n, per: per, times: make([]time.Time, 0, n)}
}

// admit starts a request now if that keeps every window of length per at n
// requests or fewer (see rateLimiter).
func (w *windowLimiter) admit(clock func() time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := clock()
	if len(w.times) < w.n {
		w.times = append(w.times, now)
		return 0
	}
	if free := w.times[w.next].Add(w.per); free.After(now) {
		return free.Sub(now)
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % w.n
	return 0
}
