package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestCheckpointClaimsAreExclusive: a conversation claimed by one
// checkpoint (another pool, as another process has) is refused to the
// others, naming the holder, until it is released; a checkpoint does not
// claim a conversation twice.
func TestCheckpointClaimsAreExclusive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn).Checkpoint("imp"), openDSN(t, dsn).Checkpoint("imp")
	if err := a.Claim(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	err := b.Claim(ctx, "c-1")
	want := regexp.MustCompile(`^pgstore: checkpoint "imp": conversation "c-1": claimed by ` + regexp.QuoteMeta(fmt.Sprintf("%s pid %d", host, os.Getpid())) +
		` until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: ` + regexp.QuoteMeta(importer.ErrClaimed.Error()) + `$`)
	if !errors.Is(err, importer.ErrClaimed) || !want.MatchString(err.Error()) {
		t.Fatalf("second importer's claim: %v", err)
	}
	if err := a.Claim(ctx, "c-1"); !errors.Is(err, importer.ErrClaimed) {
		t.Fatalf("claimed twice by its holder: %v", err)
	}
	// Another conversation, and another import's, are free.
	if err := b.Claim(ctx, "c-2"); err != nil {
		t.Fatal(err)
	}
	so := openDSN(t, dsn)
	other := so.Checkpoint("other import")
	if err := other.Claim(ctx, "c-1"); err != nil {
		t.Fatalf("another import's conversation of the same id: %v", err)
	}
	// Released: the next importer takes it at once.
	if err := a.Release(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Claim(ctx, "c-1"); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if err := a.Release(ctx, "c-1"); err != nil {
		t.Fatalf("releasing what it no longer holds: %v", err)
	}
	if err := a.Claim(ctx, "c-1"); !errors.Is(err, importer.ErrClaimed) {
		t.Fatalf("a release of a claim not held freed it: %v", err)
	}
	for _, id := range []string{"c-1", "c-2"} {
		if err := b.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Release(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := so.Pool().QueryRow(ctx, `SELECT count(*) FROM amojo_checkpoint_claims`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d claim rows after every release (%v)", rows, err)
	}
}

// TestCheckpointClaimRaces: eight importers over two pools claim the same
// conversations at once: each conversation goes to exactly one.
func TestCheckpointClaimRaces(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	stores := []*pgstore.Store{openDSN(t, dsn), openDSN(t, dsn)}
	const importers, conversations = 8, 40
	won := make([][]string, importers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range importers {
		cp := stores[i%2].Checkpoint("race")
		wg.Go(func() {
			<-start
			for k := range conversations {
				id := fmt.Sprintf("c-%d", (k+i*5)%conversations)
				switch err := cp.Claim(context.Background(), id); {
				case err == nil:
					won[i] = append(won[i], id)
				case !errors.Is(err, importer.ErrClaimed):
					t.Errorf("importer %d, %s: %v", i, id, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	owner := map[string]int{}
	for i, ids := range won {
		for _, id := range ids {
			if j, dup := owner[id]; dup {
				t.Errorf("%s claimed by importers %d and %d", id, j, i)
			}
			owner[id] = i
		}
	}
	if len(owner) != conversations {
		t.Errorf("%d of %d conversations claimed", len(owner), conversations)
	}
}

// TestCheckpointClaimExpiresAndIsTakenOver: a claim not renewed expires
// after the lease and another importer takes the conversation over; the
// former holder's records then fail with ErrClaimed and write nothing, and
// its release leaves the new claim alone. A renewal keeps it.
func TestCheckpointClaimExpiresAndIsTakenOver(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	clk := inboxtest.NewClock()
	const lease = 30 * time.Second
	a := openDSN(t, dsn, pgstore.WithClock(clk.Now), pgstore.WithClaimLease(lease)).Checkpoint("imp")
	b := openDSN(t, dsn, pgstore.WithClock(clk.Now), pgstore.WithClaimLease(lease)).Checkpoint("imp")
	if err := a.Claim(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(ctx, "c-1", importer.CheckpointEntry{ScopeID: "s", ChatID: "chat"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Second)
	if err := pgstore.RenewClaims(ctx, a); err != nil {
		t.Fatal(err)
	}
	clk.Advance(25 * time.Second) // past the first lease, within the renewed one
	if err := b.Claim(ctx, "c-1"); !errors.Is(err, importer.ErrClaimed) {
		t.Fatalf("claim of a renewed lease: %v", err)
	}
	clk.Advance(6 * time.Second) // a stalls past its lease
	if err := b.Claim(ctx, "c-1"); err != nil {
		t.Fatalf("claim of an expired lease: %v", err)
	}
	for _, e := range []importer.CheckpointEntry{{MsgID: "m-late"}, {ContactPending: true, ContactPendingAt: clk.Now()}} {
		if err := a.Record(ctx, "c-1", e); !errors.Is(err, importer.ErrClaimed) {
			t.Fatalf("record %+v by the former holder: %v", e, err)
		}
	}
	if err := pgstore.RenewClaims(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	// b holds it still, renewal and release of a notwithstanding.
	c := openDSN(t, dsn, pgstore.WithClock(clk.Now)).Checkpoint("imp")
	if err := c.Claim(ctx, "c-1"); !errors.Is(err, importer.ErrClaimed) {
		t.Fatalf("a third importer took b's claim: %v", err)
	}
	if err := b.Record(ctx, "c-1", importer.CheckpointEntry{MsgID: "m-1"}); err != nil {
		t.Fatal(err)
	}
	st, err := b.Load(ctx, "c-1")
	if err != nil || st.ChatID != "chat" || len(st.Sent) != 1 || st.Sent[0] != "m-1" || st.ContactPending {
		t.Errorf("state %+v, %v; want the chat and m-1 only", st, err)
	}
	if err := b.Release(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointTakeoverWaitsForARecord: a Record holds its claim's row
// until it commits, so an importer taking the expired claim over meanwhile
// waits for it, then loads what it wrote; the holder's renewal does not
// wait for it. The Record is held up by a transaction inserting the same
// msgid, which it waits for.
func TestCheckpointTakeoverWaitsForARecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	clk := inboxtest.NewClock()
	sa := openDSN(t, dsn, pgstore.WithClock(clk.Now))
	a, b := sa.Checkpoint("imp"), openDSN(t, dsn, pgstore.WithClock(clk.Now)).Checkpoint("imp")
	if err := a.Claim(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
	tx, err := sa.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `INSERT INTO amojo_checkpoint_msgids (name, conversation_id, msgid) VALUES ('imp', 'c-1', 'm-1')`); err != nil {
		t.Fatal(err)
	}
	// waitLocked waits until n statements of the database wait for a lock.
	waitLocked := func(n int, returned <-chan error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var waiting int
			err := sa.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
			if err != nil {
				t.Fatal(err)
			}
			if waiting >= n {
				return
			}
			select {
			case err := <-returned:
				t.Fatalf("returned without waiting: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d statements wait for a lock, want %d", waiting, n)
			}
		}
	}
	recorded, claimed := make(chan error, 1), make(chan error, 1)
	go func() { recorded <- a.Record(ctx, "c-1", importer.CheckpointEntry{MsgID: "m-1"}) }()
	waitLocked(1, recorded)
	renewCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pgstore.RenewClaims(renewCtx, a); err != nil {
		t.Fatalf("renewal during a record: %v", err)
	}
	clk.Advance(pgstore.DefaultClaimLease + time.Second)
	go func() { claimed <- b.Claim(ctx, "c-1") }()
	waitLocked(2, claimed)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-recorded; err != nil {
		t.Fatalf("the record under way: %v", err)
	}
	if err := <-claimed; err != nil {
		t.Fatalf("takeover after the record: %v", err)
	}
	if st, err := b.Load(ctx, "c-1"); err != nil || len(st.Sent) != 1 || st.Sent[0] != "m-1" {
		t.Errorf("the new holder loads %+v, %v", st, err)
	}
	if err := a.Record(ctx, "c-1", importer.CheckpointEntry{MsgID: "m-2"}); !errors.Is(err, importer.ErrClaimed) {
		t.Errorf("the former holder recorded after the takeover: %v", err)
	}
}

// TestCheckpointValidates: an unnamed import and an empty conversation id
// are refused before any statement.
func TestCheckpointValidates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := open(t)
	for _, tc := range []struct {
		cp    *pgstore.Checkpoint
		id    string
		field string
	}{{s.Checkpoint(""), "c-1", "name"}, {s.Checkpoint(" "), "c-1", "name"}, {s.Checkpoint("imp"), "", "conversationID"}} {
		calls := map[string]error{
			"Record":  tc.cp.Record(ctx, tc.id, importer.CheckpointEntry{MsgID: "m"}),
			"Claim":   tc.cp.Claim(ctx, tc.id),
			"Release": tc.cp.Release(ctx, tc.id),
		}
		_, calls["Load"] = tc.cp.Load(ctx, tc.id)
		for name, err := range calls {
			var ve *amojo.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("%s(name %q, id %q) = %v, want a ValidationError of %s", name, tc.cp.Name(), tc.id, err, tc.field)
			}
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		var ve *amojo.ValidationError
		if _, err := pgstore.New(s.Pool(), pgstore.WithClaimLease(d)); !errors.As(err, &ve) || ve.Field != "ClaimLease" {
			t.Errorf("WithClaimLease(%v): %v", d, err)
		}
	}
}

// TestCheckpointCancelled: a cancelled context surfaces as itself, so the
// importer counts the conversation as interrupted, not failed.
func TestCheckpointCancelled(t *testing.T) {
	t.Parallel()
	cp := open(t).Checkpoint("imp")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]error{
		"Record": cp.Record(ctx, "c-1", importer.CheckpointEntry{MsgID: "m"}),
		"Claim":  cp.Claim(ctx, "c-1"),
	}
	_, calls["Load"] = cp.Load(ctx, "c-1")
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", name, err)
		}
	}
	// The failed claim is not held.
	if err := cp.Claim(t.Context(), "c-1"); err != nil {
		t.Fatal(err)
	}
	if err := cp.Release(t.Context(), "c-1"); err != nil {
		t.Fatal(err)
	}
}

// TestCloseStopsClaimRenewal: claims still held when the Store is closed
// are renewed no more (their leases end them), even when the pool, the
// caller's, stays open; no renewal goroutine outlives Close.
func TestCloseStopsClaimRenewal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	const lease = 150 * time.Millisecond
	s, err := pgstore.New(pool, pgstore.WithClaimLease(lease))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if err := s.Checkpoint(name).Claim(ctx, "c-1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := pgstore.RenewersRunning(s); n != 2 {
		t.Fatalf("%d renewals running for two checkpoints holding claims, want 2", n)
	}
	expiry := func() (latest time.Time) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT max(expires_at) FROM amojo_checkpoint_claims`).Scan(&latest); err != nil {
			t.Fatal(err)
		}
		return latest
	}
	s.Close()
	if n := pgstore.RenewersRunning(s); n != 0 {
		t.Errorf("%d renewals running after Close", n)
	}
	before := expiry()
	time.Sleep(3 * lease) // nine renewal periods, had any renewal gone on
	if after := expiry(); !after.Equal(before) {
		t.Errorf("claims renewed after Close: lease end moved from %v to %v", before, after)
	}
}
