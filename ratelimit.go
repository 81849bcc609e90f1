package amojo

import (
	"sync"
	"time"
)

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

// reserve books the earliest start time at or after now that keeps every
// window of length per at n requests or fewer, and returns how long to wait
// for it. A booked slot is kept even if the caller gives up waiting: that only
// ever makes the limiter more conservative.
func (w *windowLimiter) reserve(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.times) < w.n {
		slot := now
		if k := len(w.times); k > 0 && w.times[k-1].After(slot) {
			slot = w.times[k-1]
		}
		w.times = append(w.times, slot)
		return slot.Sub(now)
	}
	slot := w.times[w.next].Add(w.per)
	if last := w.times[(w.next+w.n-1)%w.n]; last.After(slot) {
		slot = last
	}
	if now.After(slot) {
		slot = now
	}
	w.times[w.next] = slot
	w.next = (w.next + 1) % w.n
	return slot.Sub(now)
}
