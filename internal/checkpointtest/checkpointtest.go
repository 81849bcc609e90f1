// Package checkpointtest is the behaviour every importer.Checkpoint
// implementation shares, as one test suite: Run it against a new checkpoint.
// The reference is importer.CheckpointState.Apply: after any sequence of
// Records, Load must give what applying the same entries to a zero state
// gives, in the same process and after the checkpoint is opened again.
package checkpointtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo/importer"
)

// Open returns a new, empty checkpoint and a function that opens the same
// storage again, as a new process would (closing the one open before, if it
// must be), and returns the checkpoint to use from then on.
type Open func(t *testing.T) (cp importer.Checkpoint, reopen func() importer.Checkpoint)

// Options tunes the suite to an implementation.
type Options struct {
	// Long is the number of msgids recorded in one conversation by the
	// LongConversation test (default 5000).
	Long int
}

// pendingAt is a time of a pending contact: whole microseconds, which every
// checkpoint keeps exactly (PostgreSQL keeps no finer).
var pendingAt = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)

// Run runs the suite against checkpoints from open.
func Run(t *testing.T, open Open, opts Options) {
	if opts.Long == 0 {
		opts.Long = 5000
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint)
	}{
		{"UnknownConversationIsZero", unknownIsZero},
		{"EachEntryAsApplyDefinesIt", eachEntry},
		{"RandomEntriesAsApply", func(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
			randomEntries(t, cp, reopen)
		}},
		{"ConcurrentConversations", concurrentConversations},
		{"LoadReturnsACopy", loadCopy},
		{"LongConversation", func(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
			longConversation(t, cp, reopen, opts.Long)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cp, reopen := open(t)
			tc.fn(t, cp, reopen)
		})
	}
}

// Equal reports whether two states hold the same facts: a nil and an empty
// Sent are the same, times are compared as instants.
func Equal(a, b importer.CheckpointState) bool {
	return a.ScopeID == b.ScopeID && a.ChatID == b.ChatID && a.ContactID == b.ContactID && a.Linked == b.Linked &&
		a.Done == b.Done && a.Digest == b.Digest && a.ContactPending == b.ContactPending &&
		a.ContactPendingAt.Equal(b.ContactPendingAt) && slices.Equal(a.Sent, b.Sent)
}

// Describe prints a state for a failure message, with at most a few msgids.
func Describe(s importer.CheckpointState) string {
	sent := fmt.Sprint(s.Sent)
	if len(s.Sent) > 6 {
		sent = fmt.Sprintf("[%s %s %s … %s] (%d)", s.Sent[0], s.Sent[1], s.Sent[2], s.Sent[len(s.Sent)-1], len(s.Sent))
	}
	return fmt.Sprintf("{scope %q chat %q contact %d linked %v pending %v at %v done %v digest %q sent %s}",
		s.ScopeID, s.ChatID, s.ContactID, s.Linked, s.ContactPending, s.ContactPendingAt, s.Done, s.Digest, sent)
}

// expect checks that cp has want for the conversation id.
func expect(t *testing.T, cp importer.Checkpoint, id string, want importer.CheckpointState, when string) {
	t.Helper()
	got, err := cp.Load(t.Context(), id)
	if err != nil {
		t.Fatalf("%s: Load(%q): %v", when, id, err)
	}
	if !Equal(got, want) {
		t.Fatalf("%s: Load(%q)\n got %s\nwant %s", when, id, Describe(got), Describe(want))
	}
}

func record(t *testing.T, cp importer.Checkpoint, id string, e importer.CheckpointEntry) {
	t.Helper()
	if err := cp.Record(t.Context(), id, e); err != nil {
		t.Fatalf("Record(%q, %+v): %v", id, e, err)
	}
}

func unknownIsZero(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
	expect(t, cp, "never-recorded", importer.CheckpointState{}, "new checkpoint")
	record(t, cp, "other", importer.CheckpointEntry{ChatID: "chat"})
	expect(t, cp, "never-recorded", importer.CheckpointState{}, "after recording another conversation")
	expect(t, reopen(), "never-recorded", importer.CheckpointState{}, "reopened")
}

// eachEntry records the entries the importer writes, one kind at a time,
// checking the state after each one and after reopening.
func eachEntry(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
	steps := []importer.CheckpointEntry{
		{ScopeID: "scope", ChatID: "chat-1"},
		{ContactPending: true, ContactPendingAt: pendingAt},
		{ContactNotCreated: true},
		{ContactPending: true}, // a pending mark without its time (older checkpoints)
		{ContactPending: true, ContactPendingAt: pendingAt.Add(time.Minute)},
		{ContactID: 77},
		{ContactID: 77, Linked: true},
		{MsgID: "m-1"},
		{MsgID: "m-2"},
		{MsgID: "m-1"}, // a repeat changes nothing
		{Done: true, Digest: "digest-1"},
		{Done: true, Digest: "digest-1"},
		{MsgID: "m-3"}, // more messages: not done any more
		{MsgID: "m-3"},
		{Done: true, Digest: "digest-2"},
		{ChatID: "chat-2"}, // any other fact undoes Done too
		{ContactPending: true, ContactPendingAt: pendingAt, ContactID: 78},
		{ScopeID: "scope-2", MsgID: "m-4", Linked: true},
		{MsgID: "m-5", Done: true, Digest: "digest-3"},
	}
	var want importer.CheckpointState
	for i, e := range steps {
		record(t, cp, "c-1", e)
		want.Apply(e)
		expect(t, cp, "c-1", want, fmt.Sprintf("after entry %d %+v", i, e))
		if i%4 == 3 {
			cp = reopen()
			expect(t, cp, "c-1", want, fmt.Sprintf("reopened after entry %d", i))
		}
	}
	expect(t, reopen(), "c-1", want, "reopened at the end")
}

// randomEntry returns an entry of one to three facts, as the importer
// writes them and as it never does.
func randomEntry(rng *rand.Rand, msgids int) importer.CheckpointEntry {
	var e importer.CheckpointEntry
	for range 1 + rng.IntN(3) {
		switch rng.IntN(12) {
		case 0:
			e.ScopeID = fmt.Sprintf("scope-%d", rng.IntN(2))
		case 1:
			e.ChatID = fmt.Sprintf("chat-%d", rng.IntN(3))
		case 2:
			e.ContactID = int64(1 + rng.IntN(3))
		case 3:
			e.Linked = true
		case 4:
			e.ContactPending = true
			if rng.IntN(4) > 0 {
				e.ContactPendingAt = pendingAt.Add(time.Duration(rng.IntN(1e6)) * time.Microsecond)
			}
		case 5:
			e.ContactNotCreated = true
		case 6:
			e.Done, e.Digest = true, fmt.Sprintf("digest-%d", rng.IntN(3))
		default:
			e.MsgID = fmt.Sprintf("m-%d", rng.IntN(msgids))
		}
	}
	return e
}

// randomEntries records random entries into a few conversations and
// compares each with Apply's state, also after reopening.
func randomEntries(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
	rng := rand.New(rand.NewPCG(3, 5))
	ids := []string{"a", "b", "+79001112233", "conversation with spaces and ünïcode"}
	want := map[string]*importer.CheckpointState{}
	for _, id := range ids {
		want[id] = &importer.CheckpointState{}
	}
	for i := range 400 {
		id := ids[rng.IntN(len(ids))]
		e := randomEntry(rng, 40)
		record(t, cp, id, e)
		want[id].Apply(e)
		if i%50 == 49 {
			for _, id := range ids {
				expect(t, cp, id, *want[id], fmt.Sprintf("after %d entries", i+1))
			}
		}
		if i%150 == 149 {
			cp = reopen()
		}
	}
	cp = reopen()
	for _, id := range ids {
		expect(t, cp, id, *want[id], "reopened at the end")
	}
}

// concurrentConversations records into several conversations from as many
// goroutines at once, as the importer's workers do.
func concurrentConversations(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint) {
	const conversations, entries = 8, 60
	want := make([]importer.CheckpointState, conversations)
	var wg sync.WaitGroup
	for g := range conversations {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			id := fmt.Sprintf("conv-%d", g)
			for range entries {
				e := randomEntry(rng, 30)
				if err := cp.Record(t.Context(), id, e); err != nil {
					t.Errorf("Record(%q): %v", id, err)
					return
				}
				want[g].Apply(e)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for g := range conversations {
		expect(t, cp, fmt.Sprintf("conv-%d", g), want[g], "after concurrent records")
	}
	cp = reopen()
	for g := range conversations {
		expect(t, cp, fmt.Sprintf("conv-%d", g), want[g], "reopened")
	}
}

func loadCopy(t *testing.T, cp importer.Checkpoint, _ func() importer.Checkpoint) {
	record(t, cp, "c", importer.CheckpointEntry{MsgID: "m-1"})
	record(t, cp, "c", importer.CheckpointEntry{MsgID: "m-2"})
	st, err := cp.Load(t.Context(), "c")
	if err != nil {
		t.Fatal(err)
	}
	st.Sent[0] = "changed"
	st.Apply(importer.CheckpointEntry{MsgID: "m-3"})
	var want importer.CheckpointState
	want.Apply(importer.CheckpointEntry{MsgID: "m-1"})
	want.Apply(importer.CheckpointEntry{MsgID: "m-2"})
	expect(t, cp, "c", want, "after changing a loaded state")
}

// longConversation records n msgids into one conversation, in the order of
// a long import, then finishes it: Load gives them all in order, and Done
// drops them.
func longConversation(t *testing.T, cp importer.Checkpoint, reopen func() importer.Checkpoint, n int) {
	record(t, cp, "long", importer.CheckpointEntry{ScopeID: "scope", ChatID: "chat"})
	want := importer.CheckpointState{ScopeID: "scope", ChatID: "chat"}
	for i := range n {
		id := fmt.Sprintf("m-%07d", n-i) // not in sorted order
		record(t, cp, "long", importer.CheckpointEntry{MsgID: id})
		want.Apply(importer.CheckpointEntry{MsgID: id})
	}
	record(t, cp, "long", importer.CheckpointEntry{MsgID: fmt.Sprintf("m-%07d", n/2)})
	expect(t, cp, "long", want, fmt.Sprintf("after %d msgids", n))
	cp = reopen()
	expect(t, cp, "long", want, fmt.Sprintf("reopened after %d msgids", n))
	record(t, cp, "long", importer.CheckpointEntry{Done: true, Digest: "d"})
	want.Apply(importer.CheckpointEntry{Done: true, Digest: "d"})
	expect(t, cp, "long", want, "done")
	expect(t, reopen(), "long", want, "done, reopened")
}
