package amojo

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of the replay protection of a WebhookHandler.
var (
	// ErrWebhookReplay reports a verified event that repeats one the handler
	// accepted within its dedup window (WithWebhookDedup): amoCRM never
	// sends a webhook twice, so it is a replay or a proxy's copy. It is
	// answered 200 "duplicate" and not handled again.
	ErrWebhookReplay = errors.New("amojo: webhook repeated")
	// ErrWebhookStale reports a verified event whose signed time is outside
	// the handler's maximum age (WithWebhookMaxAge), or missing.
	ErrWebhookStale = errors.New("amojo: webhook outside its maximum age")
)

// checkAge refuses an event whose signed time is more than maxAge from now.
func checkAge(ev *WebhookEvent, now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		return nil
	}
	if ev.Time.IsZero() {
		return fmt.Errorf("%w: no time", ErrWebhookStale)
	}
	switch age := now.Sub(ev.Time); {
	case age > maxAge:
		return fmt.Errorf("%w: older than %v", ErrWebhookStale, maxAge)
	case age < -maxAge:
		return fmt.Errorf("%w: more than %v ahead of the clock", ErrWebhookStale, maxAge)
	}
	return nil
}

// dedupKey identifies an accepted event: a hash of its signed bytes, or of
// its scope and message id.
type dedupKey [sha256.Size]byte

// eventKeys returns the keys under which ev is remembered: its signed bytes,
// and for a message its scope and amojo message id.
func eventKeys(ev *WebhookEvent) (keys [2]dedupKey, n int) {
	h := sha256.New()
	h.Write([]byte("body\x00"))
	h.Write(ev.Raw)
	h.Sum(keys[0][:0])
	n = 1
	if ev.Message != nil && ev.Message.Message.ID != "" {
		h.Reset()
		h.Write([]byte("message\x00"))
		h.Write([]byte(ev.ScopeID))
		h.Write([]byte{0})
		h.Write([]byte(ev.Message.Message.ID))
		h.Sum(keys[1][:0])
		n = 2
	}
	return keys, n
}

// dedupSet remembers accepted events for a window, at most size of them.
// Entries expire lazily, when the set is used; there is no goroutine.
type dedupSet struct {
	window time.Duration
	size   int

	mu    sync.Mutex
	seq   uint64
	owner map[dedupKey]uint64 // key → seq of the live entry that holds it
	order []dedupEntry        // oldest first from head; released entries stay until dropped
	head  int
	live  int
}

type dedupEntry struct {
	seq  uint64
	at   time.Time
	keys [2]dedupKey
	n    int
}

// dedupClaim is an event's place in a dedupSet; the zero claim holds none.
type dedupClaim struct {
	set   *dedupSet
	entry dedupEntry
}

func newDedupSet(window time.Duration, size int) *dedupSet {
	return &dedupSet{window: window, size: size, owner: make(map[dedupKey]uint64)}
}

// claim remembers ev at now and returns its claim; ok is false when one of
// its keys is remembered already (a repeat).
func (d *dedupSet) claim(ev *WebhookEvent, now time.Time) (c dedupClaim, ok bool) {
	keys, n := eventKeys(ev)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	for _, k := range keys[:n] {
		if _, seen := d.owner[k]; seen {
			return dedupClaim{}, false
		}
	}
	for d.live >= d.size {
		d.dropOldest()
	}
	d.seq++
	e := dedupEntry{seq: d.seq, at: now, keys: keys, n: n}
	for _, k := range keys[:n] {
		d.owner[k] = e.seq
	}
	d.order = append(d.order, e)
	d.live++
	return dedupClaim{set: d, entry: e}, true
}

// release forgets the claimed event, so that a copy of it can be accepted.
func (c dedupClaim) release() {
	if c.set == nil {
		return
	}
	c.set.mu.Lock()
	defer c.set.mu.Unlock()
	c.set.forget(c.entry)
	// Released entries wait in order until they expire; keep them from
	// piling up when many events are released.
	if len(c.set.order)-c.set.head > 2*c.set.size {
		c.set.compact()
	}
}

// expire drops the entries older than the window.
func (d *dedupSet) expire(now time.Time) {
	for d.head < len(d.order) && now.Sub(d.order[d.head].at) >= d.window {
		d.dropOldest()
	}
}

// dropOldest drops the oldest entry, live or released.
func (d *dedupSet) dropOldest() {
	d.forget(d.order[d.head])
	d.order[d.head] = dedupEntry{}
	d.head++
	if d.head == len(d.order) {
		d.order, d.head = d.order[:0], 0
	} else if d.head >= 64 && d.head > len(d.order)/2 {
		d.order, d.head = append(d.order[:0], d.order[d.head:]...), 0
	}
}

// forget removes e's keys if e still holds them.
func (d *dedupSet) forget(e dedupEntry) {
	if d.owner[e.keys[0]] != e.seq {
		return // released before, or never held
	}
	for _, k := range e.keys[:e.n] {
		delete(d.owner, k)
	}
	d.live--
}

// compact drops the released entries from order.
func (d *dedupSet) compact() {
	kept := d.order[:0]
	for _, e := range d.order[d.head:] {
		if d.owner[e.keys[0]] == e.seq {
			kept = append(kept, e)
		}
	}
	clear(d.order[len(kept):])
	d.order, d.head = kept, 0
}

// len returns how many events are remembered.
func (d *dedupSet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.live
}
