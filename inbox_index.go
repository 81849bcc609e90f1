package amojo

import (
	"cmp"
	"container/heap"
	"crypto/rand"
	"slices"
	"strings"
	"time"
)

// inboxState is where an event is in its life.
type inboxState uint8

const (
	stateReady   inboxState = iota // due at entry.due
	stateClaimed                   // leased until entry.due
	stateDead                      // parked at entry.due, until Requeue
	stateDone                      // delivered at entry.due; only the id is kept
)

// inboxEntry is one event of an inboxIndex.
type inboxEntry struct {
	ev    InboxEvent // Token and LeaseUntil are those of the current claim
	state inboxState
	due   time.Time
	seq   uint64 // order of arrival, to break ties of due
	ver   uint64 // bumped whenever due changes; heap items of older versions are stale
}

// inboxIndex is the state of an inbox in memory, shared by MemoryInbox and
// FileInbox (which rebuilds it from its file). Its methods apply a decision
// already checked; they are deterministic, so that replaying a FileInbox's
// records gives the same state. It is not safe for concurrent use.
type inboxIndex struct {
	entries map[string]*inboxEntry
	due     dueHeap // the ready and claimed entries
	active  int     // ready and claimed entries
	done    []doneRef
	seq     uint64
}

type doneRef struct {
	id string
	at time.Time
}

func newInboxIndex() *inboxIndex {
	return &inboxIndex{entries: make(map[string]*inboxEntry)}
}

// has reports whether id is known, in any state.
func (x *inboxIndex) has(id string) bool {
	_, ok := x.entries[id]
	return ok
}

// add inserts a new event in state st (ready, claimed or dead) due at due.
// It returns false, changing nothing, when the id is known.
func (x *inboxIndex) add(ev InboxEvent, st inboxState, due time.Time) bool {
	if x.has(ev.ID) {
		return false
	}
	x.seq++
	e := &inboxEntry{ev: ev, state: st, due: due, seq: x.seq}
	x.entries[ev.ID] = e
	if st == stateReady || st == stateClaimed {
		x.active++
		x.push(e)
	}
	return true
}

// addDone inserts the tombstone of an event delivered at at.
func (x *inboxIndex) addDone(id string, at time.Time) {
	if x.has(id) {
		return
	}
	x.seq++
	x.entries[id] = &inboxEntry{ev: InboxEvent{ID: id}, state: stateDone, due: at, seq: x.seq}
	x.done = append(x.done, doneRef{id, at})
}

// dueIDs returns up to n ids of events due at now, oldest due first.
func (x *inboxIndex) dueIDs(now time.Time, n int) []string {
	var ids []string
	var keep []dueItem
	for len(ids) < n && len(x.due) > 0 {
		it := x.due[0]
		e, ok := x.entries[it.id]
		if !ok || e.ver != it.ver || (e.state != stateReady && e.state != stateClaimed) {
			heap.Pop(&x.due) // stale
			continue
		}
		if e.due.After(now) {
			break
		}
		keep = append(keep, heap.Pop(&x.due).(dueItem))
		ids = append(ids, it.id)
	}
	for _, it := range keep {
		heap.Push(&x.due, it)
	}
	return ids
}

// claim leases the events ids until until under token.
func (x *inboxIndex) claim(ids []string, token string, until time.Time) {
	for _, id := range ids {
		e, ok := x.entries[id]
		if !ok || (e.state != stateReady && e.state != stateClaimed) {
			continue
		}
		e.state = stateClaimed
		e.ev.Attempts++
		e.ev.Token, e.ev.LeaseUntil = token, until
		e.due = until
		x.push(e)
	}
}

// event returns a copy of the event id as a claimer sees it.
func (x *inboxIndex) event(id string) InboxEvent {
	ev := x.entries[id].ev
	ev.Body = slices.Clone(ev.Body)
	return ev
}

// checkClaim reports whether token is the current claim of id.
func (x *inboxIndex) checkClaim(id, token string) error {
	e, ok := x.entries[id]
	switch {
	case !ok:
		return ErrInboxNotFound
	case e.state != stateClaimed || e.ev.Token != token || token == "":
		return ErrInboxLeaseLost
	}
	return nil
}

// extend moves the lease of a claimed event.
func (x *inboxIndex) extend(id string, until time.Time) {
	if e, ok := x.entries[id]; ok && e.state == stateClaimed {
		e.due, e.ev.LeaseUntil = until, until
		x.push(e)
	}
}

// settleDone marks id delivered at at, keeping only its id.
func (x *inboxIndex) settleDone(id string, at time.Time) {
	e, ok := x.entries[id]
	if !ok {
		x.addDone(id, at)
		return
	}
	if e.state == stateDone {
		return
	}
	if e.state == stateReady || e.state == stateClaimed {
		x.active--
	}
	e.state, e.due, e.ev = stateDone, at, InboxEvent{ID: id}
	e.ver++
	x.done = append(x.done, doneRef{id, at})
}

// settleFail makes a claimed event due again at at, or dead (parked at at).
func (x *inboxIndex) settleFail(id, reason string, at time.Time, dead bool) {
	e, ok := x.entries[id]
	if !ok || e.state == stateDone {
		return
	}
	e.ev.LastError, e.ev.Token, e.ev.LeaseUntil = reason, "", time.Time{}
	e.due = at
	if dead {
		if e.state != stateDead {
			x.active--
		}
		e.state = stateDead
		e.ver++
		return
	}
	if e.state == stateDead {
		x.active++
	}
	e.state = stateReady
	x.push(e)
}

// isDead reports whether id is a dead event.
func (x *inboxIndex) isDead(id string) bool {
	e, ok := x.entries[id]
	return ok && e.state == stateDead
}

// requeue makes a dead event due at at, with no attempts.
func (x *inboxIndex) requeue(id string, at time.Time) {
	e, ok := x.entries[id]
	if !ok || e.state != stateDead {
		return
	}
	e.state, e.due = stateReady, at
	e.ev.Attempts = 0
	x.active++
	x.push(e)
}

// deadEvents returns up to n dead events with ids after after, in id order.
func (x *inboxIndex) deadEvents(after string, n int) []InboxEvent {
	var out []InboxEvent
	for id, e := range x.entries {
		if e.state == stateDead && id > after {
			out = append(out, e.ev)
		}
	}
	slices.SortFunc(out, func(a, b InboxEvent) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > n {
		out = out[:n]
	}
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out
}

// purge forgets the tombstones of events delivered before before.
func (x *inboxIndex) purge(before time.Time) {
	i := 0
	for ; i < len(x.done) && x.done[i].at.Before(before); i++ {
		if e, ok := x.entries[x.done[i].id]; ok && e.state == stateDone {
			delete(x.entries, x.done[i].id)
		}
	}
	x.done = x.done[i:]
}

// len returns how many entries the index holds, tombstones included.
func (x *inboxIndex) len() int { return len(x.entries) }

// sorted returns the entries in order of arrival.
func (x *inboxIndex) sorted() []*inboxEntry {
	out := make([]*inboxEntry, 0, len(x.entries))
	for _, e := range x.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *inboxEntry) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// push queues e's current due time, rebuilding the heap when stale items
// outnumber the live ones.
func (x *inboxIndex) push(e *inboxEntry) {
	e.ver++
	heap.Push(&x.due, dueItem{due: e.due, seq: e.seq, id: e.ev.ID, ver: e.ver})
	if len(x.due) > 2*x.active+64 {
		x.due = x.due[:0]
		for _, e := range x.entries {
			if e.state == stateReady || e.state == stateClaimed {
				x.due = append(x.due, dueItem{due: e.due, seq: e.seq, id: e.ev.ID, ver: e.ver})
			}
		}
		heap.Init(&x.due)
	}
}

// dueItem is an entry's due time as it was when pushed.
type dueItem struct {
	due time.Time
	seq uint64
	id  string
	ver uint64
}

// dueHeap orders items by due time, then arrival.
type dueHeap []dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// newClaimToken returns a random claim token.
func newClaimToken() string { return rand.Text() }
