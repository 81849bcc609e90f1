package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/internal/checkpointtest"
	"github.com/amojo-go/amojo/internal/importtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/internal/testscale"
	"github.com/amojo-go/amojo/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestCheckpointConformance runs the checkpoint suite the memory and file
// checkpoints pass; reopening is a new pool on the same database, as a new
// process has.
func TestCheckpointConformance(t *testing.T) {
	t.Parallel()
	checkpointtest.Run(t, func(t *testing.T) (importer.Checkpoint, func() importer.Checkpoint) {
		dsn := pgtest.DSN(t)
		cp := openDSN(t, dsn).Checkpoint("import")
		return cp, func() importer.Checkpoint {
			s, err := pgstore.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s.Checkpoint("import")
		}
	}, checkpointtest.Options{Long: testscale.Size(t, 5000, 1000)})
}

// asyncStore opens a migrated store on dsn whose commits do not wait for
// the disk (synchronous_commit off): for tests that measure or repeat what
// a statement costs, not the flush of each commit.
func asyncStore(t testing.TB, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := pgstore.New(pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// seedMsgIDs gives conversation id of cp's import n msgids m-00000001 …
// straight in the tables, as n Records would.
func seedMsgIDs(t testing.TB, s *pgstore.Store, name, id string, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO amojo_checkpoint (name, conversation_id, scope_id, chat_id) VALUES ($1, $2, 'scope', 'chat')`, name, id); err != nil {
		t.Fatal(err)
	}
	_, err := s.Pool().Exec(ctx, `
INSERT INTO amojo_checkpoint_msgids (name, conversation_id, msgid)
SELECT $1, $2, 'm-' || lpad(i::text, 8, '0') FROM generate_series(1, $3::integer) AS i`, name, id, n)
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointLongConversationCostDoesNotGrow: recording a msgid costs
// about the same after 50 000 msgids of a conversation as at its start (a
// checkpoint rewriting the conversation's list each time costs some
// hundred times more there), and loading 50 000 msgids costs about fifty
// times 1 000 (not 2 500 times, as a quadratic load would). Each side is
// timed three times and the fastest kept.
func TestCheckpointLongConversationCostDoesNotGrow(t *testing.T) {
	t.Parallel()
	batch := testscale.Size(t, 1_000, 300)
	long := testscale.Size(t, 50_000, 2_000)
	s := asyncStore(t, pgtest.DSN(t))
	ctx := t.Context()
	cp := s.Checkpoint("long")
	seedMsgIDs(t, s, "long", "short", batch)
	seedMsgIDs(t, s, "long", "long", long)

	fastest := func(f func(round int)) time.Duration {
		best := time.Duration(1<<63 - 1)
		for round := range 3 {
			start := time.Now()
			f(round)
			best = min(best, time.Since(start))
		}
		return best
	}
	recordBatch := func(id string) func(int) {
		return func(round int) {
			for i := range batch {
				if err := cp.Record(ctx, id, importer.CheckpointEntry{MsgID: fmt.Sprintf("x-%d-%06d", round, i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	fresh := fastest(func(round int) { recordBatch(fmt.Sprintf("fresh-%d", round))(round) })
	grown := fastest(recordBatch("long"))
	t.Logf("%d msgids recorded in %v into a new conversation, in %v after %d", batch, fresh, grown, long)
	if grown > 5*fresh+100*time.Millisecond {
		t.Errorf("%d msgids recorded in %v after %d, in %v at the start: the cost grows with the conversation", batch, grown, long, fresh)
	}

	load := func(id string, n int) func(int) {
		return func(int) {
			st, err := cp.Load(ctx, id)
			if err != nil || len(st.Sent) != n {
				t.Fatalf("Load(%s): %d msgids, %v; want %d", id, len(st.Sent), err, n)
			}
		}
	}
	short, full := fastest(load("short", batch)), fastest(load("long", long+3*batch))
	t.Logf("Load: %v for %d msgids, %v for %d", short, batch, full, long+3*batch)
	if full > 500*short+500*time.Millisecond {
		t.Errorf("Load of %d msgids took %v, of %d %v: it grows faster than the conversation", long+3*batch, full, batch, short)
	}
	st, _ := cp.Load(ctx, "long")
	if st.Sent[0] != "m-00000001" || st.Sent[long-1] != fmt.Sprintf("m-%08d", long) || st.Sent[long] != "x-0-000000" || st.Sent[len(st.Sent)-1] != fmt.Sprintf("x-2-%06d", batch-1) {
		t.Errorf("msgids out of order: %s", checkpointtest.Describe(st))
	}
	// A repeat adds nothing; Done drops them all.
	if err := cp.Record(ctx, "long", importer.CheckpointEntry{MsgID: "m-00000007"}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Record(ctx, "long", importer.CheckpointEntry{Done: true, Digest: "d"}); err != nil {
		t.Fatal(err)
	}
	st, err := cp.Load(ctx, "long")
	if err != nil || !st.Done || st.Digest != "d" || st.Sent != nil || st.ChatID != "chat" {
		t.Errorf("done: %s, %v", checkpointtest.Describe(st), err)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM amojo_checkpoint_msgids WHERE conversation_id = 'long'`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d msgid rows left after Done (%v)", rows, err)
	}
}

func claimRows(t *testing.T, s *pgstore.Store) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM amojo_checkpoint_claims`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckpointTwoImportersShareTheWork: two importers with checkpoints of
// the same import (two pools, as two machines have) import the same
// conversations at once: between them every conversation is imported once,
// each leaves the other's to it, and a third run finds everything done
// without a request but the connect.
func TestCheckpointTwoImportersShareTheWork(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	convs := importtest.Conversations(testscale.Size(t, 120, 40))
	newImporter := func(s *pgstore.Store) *importer.Importer {
		im, err := importer.New(srv.Client(), srv.CRMClient(amojo.WithRateLimit(0, 0)), importer.WithCheckpoint(s.Checkpoint("shared")),
			importer.WithConcurrency(4), importer.WithChunkSize(5), importer.WithVerifyWait(0))
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	stores := []*pgstore.Store{openDSN(t, dsn), openDSN(t, dsn)}
	results := make([]*importer.BatchResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range stores {
		im := newImporter(s)
		wg.Go(func() { results[i], errs[i] = im.ImportAll(t.Context(), importer.ConversationsOf(convs)) })
	}
	wg.Wait()
	done := 0
	for i, res := range results {
		if errs[i] != nil && !errors.Is(errs[i], importer.ErrClaimed) || res.ConversationsFailed != 0 || res.ConversationsInterrupted != 0 {
			t.Fatalf("importer %d: %+v, %v", i, res.Progress, errs[i])
		}
		if res.ConversationsDone+res.ConversationsClaimedElsewhere != len(convs) {
			t.Errorf("importer %d: %+v", i, res.Progress)
		}
		done += res.ConversationsDone - res.ConversationsSkipped
		t.Logf("importer %d: %d imported, %d found done, %d left to the other", i, res.ConversationsDone-res.ConversationsSkipped, res.ConversationsSkipped, res.ConversationsClaimedElsewhere)
	}
	if done != len(convs) {
		t.Errorf("%d conversations imported between the two, want %d", done, len(convs))
	}
	if n := claimRows(t, stores[0]); n != 0 {
		t.Errorf("%d claims left", n)
	}
	importtest.CheckImported(t, srv, convs)

	srv.ResetRequests()
	res, err := newImporter(openDSN(t, dsn)).ImportAll(t.Context(), importer.ConversationsOf(convs))
	if err != nil || res.ConversationsSkipped != len(convs) || res.ConversationsClaimedElsewhere != 0 {
		t.Fatalf("third run: %+v, %v", res.Progress, err)
	}
	for _, r := range srv.Requests() {
		if r.Route != amojotest.RouteAccount && r.Route != amojotest.RouteConnect {
			t.Errorf("third run asked %s", r.Route)
		}
	}
}
