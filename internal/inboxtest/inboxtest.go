// Package inboxtest is the behaviour every amojo.Inbox implementation shares,
// as one test suite: Run it against a new inbox.
package inboxtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
)

// Clock is a clock that moves only when told.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant (whole microseconds, which
// PostgreSQL keeps exactly).
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// NewInbox returns a new, empty inbox whose leases and due times follow now
// and whose retention is amojo.DefaultInboxRetention.
type NewInbox func(t *testing.T, now func() time.Time) amojo.Inbox

// Event returns the n-th test event of scope, received at at.
func Event(scope string, n int, at time.Time) amojo.InboxEvent {
	body := fmt.Appendf(nil, `{"account_id":"acc","time":%d,"message":{"message":{"id":"m-%d","type":"text","text":"hi %d"}}}`, at.Unix(), n, n)
	return amojo.NewInboxEvent(scope, body, fmt.Sprintf("%040x", n), at)
}

const lease = 30 * time.Second

// Run runs the suite against inboxes from newInbox.
func Run(t *testing.T, newInbox NewInbox) {
	tests := []struct {
		name string
		fn   func(t *testing.T, in amojo.Inbox, clk *Clock)
	}{
		{"AppendIsIdempotentByID", appendIdempotent},
		{"AppendValidates", appendValidates},
		{"AppendedEventIsDueAtOnce", appendDueAtOnce},
		{"ClaimIsExclusiveOldestFirst", claimExclusive},
		{"ExpiredLeaseIsReclaimed", leaseExpiry},
		{"ExtendKeepsTheLease", extendLease},
		{"DoneIsNeverRedelivered", doneNeverRedelivered},
		{"FailRetriesThenDeadThenRequeue", failRetryDead},
		{"DeadPages", deadPages},
		{"UnknownIDs", unknownIDs},
		{"RetentionForgetsDoneIDs", retention},
		{"ConcurrentClaimersEachEventOnce", concurrentClaimers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := NewClock()
			tc.fn(t, newInbox(t, clk.Now), clk)
		})
	}
}

func mustAppend(t *testing.T, in amojo.Inbox, ev amojo.InboxEvent) {
	t.Helper()
	added, err := in.Append(t.Context(), ev)
	if err != nil || !added {
		t.Fatalf("Append(%s) = %v, %v; want true, nil", ev.ID, added, err)
	}
}

func mustClaim(t *testing.T, in amojo.Inbox, n, want int) []amojo.InboxEvent {
	t.Helper()
	evs, err := in.Claim(t.Context(), n, lease)
	if err != nil {
		t.Fatalf("Claim(%d): %v", n, err)
	}
	if len(evs) != want {
		t.Fatalf("Claim(%d) = %d events %v, want %d", n, len(evs), ids(evs), want)
	}
	return evs
}

func ids(evs []amojo.InboxEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func appendIdempotent(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	ev := Event("scope-1", 1, clk.Now())
	mustAppend(t, in, ev)
	for _, again := range []amojo.InboxEvent{ev, amojo.NewInboxEvent(ev.ScopeID, ev.Body, "other", clk.Now().Add(time.Second))} {
		added, err := in.Append(ctx, again)
		if err != nil || added {
			t.Fatalf("Append of a known id = %v, %v; want false, nil", added, err)
		}
	}
	// The same body for another scope is another event.
	mustAppend(t, in, amojo.NewInboxEvent("scope-2", ev.Body, ev.Signature, clk.Now()))
	got := mustClaim(t, in, 10, 2)
	c := got[0]
	if c.ID != ev.ID || c.ScopeID != ev.ScopeID || string(c.Body) != string(ev.Body) || c.Signature != ev.Signature || !c.ReceivedAt.Equal(ev.ReceivedAt) {
		t.Errorf("claimed %+v, want the event appended first %+v", c, ev)
	}
	if c.Attempts != 1 || c.Token == "" || !c.LeaseUntil.Equal(clk.Now().Add(lease)) {
		t.Errorf("claim: attempts %d, token %q, lease until %v; want 1, a token, %v", c.Attempts, c.Token, c.LeaseUntil, clk.Now().Add(lease))
	}
	if got[0].Token == "" || got[1].ID == got[0].ID {
		t.Errorf("claimed %v", ids(got))
	}
	c.Body[0] = 'X' // the caller's copy
	mustClaim(t, in, 10, 0)
	clk.Advance(lease + time.Second)
	again := mustClaim(t, in, 1, 1)
	if again[0].Body[0] == 'X' {
		t.Error("changing a claimed body changed the stored one")
	}
}

func appendValidates(t *testing.T, in amojo.Inbox, clk *Clock) {
	ev := Event("s", 1, clk.Now())
	for field, bad := range map[string]amojo.InboxEvent{
		"InboxEvent.ID":         {ScopeID: "s", Body: ev.Body, ReceivedAt: ev.ReceivedAt},
		"InboxEvent.Body":       {ID: "x", ScopeID: "s", ReceivedAt: ev.ReceivedAt},
		"InboxEvent.ReceivedAt": {ID: "x", ScopeID: "s", Body: ev.Body},
	} {
		_, err := in.Append(t.Context(), bad)
		var ve *amojo.ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("Append without %s: %v, want a ValidationError naming it", field, err)
		}
	}
	if _, err := in.Claim(t.Context(), 0, lease); err == nil {
		t.Error("Claim(0) did not fail")
	}
	if _, err := in.Claim(t.Context(), 1, 0); err == nil {
		t.Error("Claim with no lease did not fail")
	}
}

// appendDueAtOnce: an event received by a process whose clock is ahead of
// the inbox's (another replica, a handler with a clock of its own) is due at
// once all the same, and keeps the time it was received.
func appendDueAtOnce(t *testing.T, in amojo.Inbox, clk *Clock) {
	ahead := Event("s", 1, clk.Now().Add(time.Minute))
	mustAppend(t, in, ahead)
	got := mustClaim(t, in, 5, 1)[0]
	if got.ID != ahead.ID || !got.ReceivedAt.Equal(ahead.ReceivedAt) {
		t.Errorf("claimed %s received at %v, want %s received at %v", got.ID, got.ReceivedAt, ahead.ID, ahead.ReceivedAt)
	}
}

func claimExclusive(t *testing.T, in amojo.Inbox, clk *Clock) {
	base := clk.Now()
	var want []string
	for i := range 3 {
		ev := Event("s", i, base.Add(time.Duration(i)*time.Millisecond))
		mustAppend(t, in, ev)
		want = append(want, ev.ID)
	}
	clk.Advance(time.Second)
	a := mustClaim(t, in, 2, 2)
	b := mustClaim(t, in, 5, 1)
	mustClaim(t, in, 5, 0)
	if got := append(ids(a), ids(b)...); !slices.Equal(got, want) {
		t.Errorf("claimed %v, want oldest first %v", got, want)
	}
	if a[0].Token == "" || a[0].Token == b[0].Token {
		t.Errorf("tokens %q and %q of two claims", a[0].Token, b[0].Token)
	}
}

func leaseExpiry(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	mustAppend(t, in, Event("s", 1, clk.Now()))
	first := mustClaim(t, in, 1, 1)[0]
	clk.Advance(lease - time.Second)
	mustClaim(t, in, 1, 0)
	clk.Advance(2 * time.Second)
	second := mustClaim(t, in, 1, 1)[0]
	if second.ID != first.ID || second.Token == first.Token || second.Attempts != 2 {
		t.Fatalf("reclaimed %s token %q attempts %d; want %s with a new token, attempt 2", second.ID, second.Token, second.Attempts, first.ID)
	}
	if err := in.Done(ctx, first.ID, first.Token); !errors.Is(err, amojo.ErrInboxLeaseLost) {
		t.Errorf("Done with the expired claim: %v, want ErrInboxLeaseLost", err)
	}
	if err := in.Fail(ctx, first.ID, first.Token, amojo.InboxFailure{Dead: true}); !errors.Is(err, amojo.ErrInboxLeaseLost) {
		t.Errorf("Fail with the expired claim: %v, want ErrInboxLeaseLost", err)
	}
	if err := in.Done(ctx, second.ID, second.Token); err != nil {
		t.Fatalf("Done with the current claim: %v", err)
	}
}

func extendLease(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	mustAppend(t, in, Event("s", 1, clk.Now()))
	c := mustClaim(t, in, 1, 1)[0]
	clk.Advance(lease - time.Second)
	if err := in.Extend(ctx, c.ID, c.Token, lease); err != nil {
		t.Fatal(err)
	}
	if err := in.Extend(ctx, c.ID, "not-the-token", lease); !errors.Is(err, amojo.ErrInboxLeaseLost) {
		t.Errorf("Extend with another token: %v, want ErrInboxLeaseLost", err)
	}
	clk.Advance(lease - time.Second)
	mustClaim(t, in, 1, 0)
	clk.Advance(2 * time.Second)
	mustClaim(t, in, 1, 1)
	if err := in.Extend(ctx, c.ID, c.Token, lease); !errors.Is(err, amojo.ErrInboxLeaseLost) {
		t.Errorf("Extend of a lease another claim took: %v, want ErrInboxLeaseLost", err)
	}
}

// deliverOne appends an event, claims it and settles it as done.
func deliverOne(t *testing.T, in amojo.Inbox, clk *Clock) (ev, c amojo.InboxEvent) {
	t.Helper()
	ev = Event("s", 1, clk.Now())
	mustAppend(t, in, ev)
	c = mustClaim(t, in, 1, 1)[0]
	if err := in.Done(t.Context(), c.ID, c.Token); err != nil {
		t.Fatal(err)
	}
	return ev, c
}

func doneNeverRedelivered(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	ev, c := deliverOne(t, in, clk)
	if err := in.Done(ctx, c.ID, c.Token); !errors.Is(err, amojo.ErrInboxLeaseLost) {
		t.Errorf("second Done: %v, want ErrInboxLeaseLost", err)
	}
	for range 3 {
		clk.Advance(lease * 2)
		mustClaim(t, in, 10, 0)
	}
	if added, err := in.Append(ctx, ev); err != nil || added {
		t.Errorf("Append of a delivered event = %v, %v; want false, nil", added, err)
	}
	mustClaim(t, in, 10, 0)
	if dead, err := in.Dead(ctx, "", 10); err != nil || len(dead) != 0 {
		t.Errorf("Dead = %v, %v; want none", ids(dead), err)
	}
}

func failRetryDead(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	mustAppend(t, in, Event("s", 1, clk.Now()))
	c := mustClaim(t, in, 1, 1)[0]
	if err := in.Fail(ctx, c.ID, c.Token, amojo.InboxFailure{Reason: "boom 1", RetryAt: clk.Now().Add(5 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	mustClaim(t, in, 1, 0)
	clk.Advance(time.Second)
	c = mustClaim(t, in, 1, 1)[0]
	if c.Attempts != 2 || c.LastError != "boom 1" {
		t.Errorf("retried: attempts %d, last error %q; want 2, boom 1", c.Attempts, c.LastError)
	}
	if err := in.Fail(ctx, c.ID, c.Token, amojo.InboxFailure{Reason: "boom 2", Dead: true}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	mustClaim(t, in, 1, 0)
	dead, err := in.Dead(ctx, "", 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("Dead = %v, %v; want the event", ids(dead), err)
	}
	if d := dead[0]; d.ID != c.ID || d.LastError != "boom 2" || d.Attempts != 2 || string(d.Body) != string(c.Body) {
		t.Errorf("dead event %+v", d)
	}
	if err := in.Requeue(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := in.Requeue(ctx, c.ID); !errors.Is(err, amojo.ErrInboxNotFound) {
		t.Errorf("Requeue of an event not dead: %v, want ErrInboxNotFound", err)
	}
	c = mustClaim(t, in, 1, 1)[0]
	if c.Attempts != 1 {
		t.Errorf("requeued event claimed with attempts %d, want 1", c.Attempts)
	}
	if dead, err := in.Dead(ctx, "", 10); err != nil || len(dead) != 0 {
		t.Errorf("Dead after Requeue = %v, %v", ids(dead), err)
	}
	if err := in.Done(ctx, c.ID, c.Token); err != nil {
		t.Fatal(err)
	}
}

func deadPages(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	for i := range 5 {
		mustAppend(t, in, Event("s", i, clk.Now()))
	}
	var want []string
	for _, c := range mustClaim(t, in, 5, 5) {
		want = append(want, c.ID)
		if err := in.Fail(ctx, c.ID, c.Token, amojo.InboxFailure{Reason: "no", Dead: true}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	p1, err := in.Dead(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := in.Dead(ctx, p1[len(p1)-1].ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(ids(p1), ids(p2)...); !slices.Equal(got, want) {
		t.Errorf("pages %v + %v, want %v", ids(p1), ids(p2), want)
	}
	var all []string
	for ev, err := range amojo.AllDeadInboxEvents(ctx, in) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ev.ID)
	}
	if !slices.Equal(all, want) {
		t.Errorf("AllDeadInboxEvents = %v, want %v", all, want)
	}
}

func unknownIDs(t *testing.T, in amojo.Inbox, _ *Clock) {
	ctx := t.Context()
	for name, err := range map[string]error{
		"Done":    in.Done(ctx, "nope", "token"),
		"Fail":    in.Fail(ctx, "nope", "token", amojo.InboxFailure{Dead: true}),
		"Extend":  in.Extend(ctx, "nope", "token", lease),
		"Requeue": in.Requeue(ctx, "nope"),
	} {
		if !errors.Is(err, amojo.ErrInboxNotFound) {
			t.Errorf("%s of an unknown id: %v, want ErrInboxNotFound", name, err)
		}
	}
}

func retention(t *testing.T, in amojo.Inbox, clk *Clock) {
	ctx := t.Context()
	ev, _ := deliverOne(t, in, clk)
	clk.Advance(amojo.DefaultInboxRetention - time.Minute)
	mustClaim(t, in, 1, 0)
	if added, _ := in.Append(ctx, ev); added {
		t.Fatal("a delivered id was forgotten within the retention")
	}
	clk.Advance(2 * time.Minute)
	mustClaim(t, in, 1, 0) // the inbox forgets while it claims
	mustAppend(t, in, ev)
	mustClaim(t, in, 1, 1)
}

func concurrentClaimers(t *testing.T, in amojo.Inbox, clk *Clock) {
	const events, claimers = 200, 8
	ctx := t.Context()
	for i := range events {
		mustAppend(t, in, Event("s", i, clk.Now()))
	}
	var mu sync.Mutex
	seen := make(map[string]int)
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for range claimers {
		wg.Go(func() {
			for {
				evs, err := in.Claim(ctx, 3, lease)
				if err != nil {
					errs <- err
					return
				}
				if len(evs) == 0 {
					return
				}
				for _, ev := range evs {
					mu.Lock()
					seen[ev.ID]++
					mu.Unlock()
					if err := in.Done(ctx, ev.ID, ev.Token); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != events {
		t.Errorf("%d events claimed, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s claimed %d times", id, n)
		}
	}
	mustClaim(t, in, 10, 0)
}
