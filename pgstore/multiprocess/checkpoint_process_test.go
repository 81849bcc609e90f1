package multiprocess_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/internal/importtest"
	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/internal/killtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/internal/testscale"
	"github.com/amojo-go/amojo/pgstore"
)

// envClaimChildDSN makes the test binary a process that claims conversation
// c-1 of the import "imp" on that database, records its chat, says
// "claimed", and waits to be killed.
const envClaimChildDSN = "AMOJO_PGSTORE_CLAIM_CHILD_DSN"

func claimChild() int {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv(envClaimChildDSN))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	cp := s.Checkpoint("imp")
	if err := cp.Claim(ctx, "c-1"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := cp.Record(ctx, "c-1", importer.CheckpointEntry{ScopeID: "scope", ChatID: "chat-1"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("claimed")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestCheckpointClaimOfAKilledProcess: the claim of a process killed while
// it holds a conversation outlives it until its lease ends (its death
// releases nothing), then another importer takes the conversation over and
// loads what the dead one recorded.
func TestCheckpointClaimOfAKilledProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.DSN(t)
	// This side's clock can be moved past the child's lease, which the
	// child set with the real one.
	clk := &offsetClock{}
	cp := openDSN(t, dsn, pgstore.WithClock(clk.Now)).Checkpoint("imp")
	child := inboxtest.StartChild(t, nil, 0, envClaimChildDSN+"="+dsn)
	child.WaitLine(t, "claimed")
	pid := child.Cmd.Process.Pid
	child.Kill(t)
	err := cp.Claim(ctx, "c-1")
	if !errors.Is(err, importer.ErrClaimed) || !strings.Contains(err.Error(), fmt.Sprintf(" pid %d until ", pid)) {
		t.Fatalf("claim of the dead process's conversation within its lease: %v", err)
	}
	clk.Advance(pgstore.DefaultClaimLease)
	if err := cp.Claim(ctx, "c-1"); err != nil {
		t.Fatalf("claim after the dead process's lease: %v", err)
	}
	if st, err := cp.Load(ctx, "c-1"); err != nil || st.ChatID != "chat-1" {
		t.Errorf("state %+v, %v; want the dead process's chat", st, err)
	}
	if err := cp.Release(ctx, "c-1"); err != nil {
		t.Fatal(err)
	}
}

// offsetClock is the real clock moved forward by Advance.
type offsetClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.d += d
}

// envImportChild makes the test binary an importer process: it imports the
// conversations of a file with the checkpoint of a database, as its JSON
// importChildConfig says, and prints its result.
const envImportChild = "AMOJO_PGSTORE_IMPORT_CHILD"

type importChildConfig struct {
	DSN, File                              string
	ChatsURL, CRMURL                       string
	ChannelID, Secret, Token, Name, Holder string
	Lease                                  time.Duration
	// ClockAhead moves the store's clock forward: the claims of processes
	// dead before it started look expired at once.
	ClockAhead time.Duration
}

// claimLog is a checkpoint whose claims are logged in the table test_claims
// (conversation, process, from, to): the interval logged lies within the
// claim, so two that overlap would mean two importers held a conversation
// at once.
type claimLog struct {
	*pgstore.Checkpoint
	s    *pgstore.Store
	mu   sync.Mutex
	rows map[string]int64
}

const claimLogTable = `CREATE TABLE test_claims (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	conversation_id text        NOT NULL,
	pid             integer     NOT NULL,
	started_at      timestamptz NOT NULL,
	ended_at        timestamptz
)`

func (c *claimLog) Claim(ctx context.Context, id string) error {
	if err := c.Checkpoint.Claim(ctx, id); err != nil {
		return err
	}
	var row int64
	err := c.s.Pool().QueryRow(ctx, `INSERT INTO test_claims (conversation_id, pid, started_at) VALUES ($1, $2, clock_timestamp()) RETURNING id`,
		id, os.Getpid()).Scan(&row)
	if err != nil {
		_ = c.Checkpoint.Release(context.WithoutCancel(ctx), id)
		return err
	}
	c.mu.Lock()
	c.rows[id] = row
	c.mu.Unlock()
	return nil
}

func (c *claimLog) Release(ctx context.Context, id string) error {
	c.mu.Lock()
	row, ok := c.rows[id]
	delete(c.rows, id)
	c.mu.Unlock()
	if ok {
		if _, err := c.s.Pool().Exec(ctx, `UPDATE test_claims SET ended_at = clock_timestamp() WHERE id = $1`, row); err != nil {
			return err
		}
	}
	return c.Checkpoint.Release(ctx, id)
}

func importChild() int {
	var cfg importChildConfig
	if err := json.Unmarshal([]byte(os.Getenv(envImportChild)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	s, err := pgstore.Open(ctx, cfg.DSN, pgstore.WithClaimLease(cfg.Lease),
		pgstore.WithClock(func() time.Time { return time.Now().Add(cfg.ClockAhead) }))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	chats, err := amojo.NewClient(cfg.ChannelID, cfg.Secret, amojo.WithBaseURL(cfg.ChatsURL))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	crm, err := amojo.NewCRMClient(cfg.CRMURL, amojo.StaticToken(cfg.Token), amojo.WithRateLimit(0, 0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cp := &claimLog{Checkpoint: s.Checkpoint(cfg.Name), s: s, rows: map[string]int64{}}
	im, err := importer.New(chats, crm, importer.WithCheckpoint(cp), importer.WithConcurrency(4), importer.WithChunkSize(10))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, err := os.Open(cfg.File)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	res, err := im.ImportAll(ctx, importer.ReadConversations(f))
	p := res.Progress
	fmt.Printf("result %d %d %d %d %d %d\n", p.Conversations, p.ConversationsDone, p.ConversationsSkipped, p.ConversationsClaimedElsewhere, p.ConversationsFailed, p.ConversationsInterrupted)
	if err != nil && !errors.Is(err, importer.ErrClaimed) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", cfg.Holder, err)
		for _, f := range res.Failures {
			fmt.Fprintf(os.Stderr, "%s: %v\n", cfg.Holder, f)
		}
		return 1
	}
	return 0
}

// childRun is how a run of an importer process ended.
type childRun struct {
	killed string // why it was killed, if it was
	result [6]int // conversations, done, skipped, claimed elsewhere, failed, interrupted
	pid    int
	died   time.Time
}

// runImporter runs an importer process with cfg to its end; behind k, k
// kills it as plan says.
func runImporter(t *testing.T, cfg importChildConfig, k *killtest.Proxy, plan killtest.Plan) childRun {
	t.Helper()
	env, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envImportChild+"="+string(env))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	var run childRun
	var err error
	if k != nil {
		run.killed, err = k.Run(cmd, plan)
	} else {
		err = cmd.Run()
	}
	run.pid, run.died = cmd.Process.Pid, time.Now()
	if run.killed != "" {
		return run
	}
	line, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "result ")
	if err != nil || !ok {
		t.Errorf("%s ended with %v:\n%s", cfg.Holder, err, out.String())
		return run
	}
	for i, f := range strings.Fields(line) {
		run.result[i], _ = strconv.Atoi(f)
	}
	return run
}

// TestCheckpointImportTwoProcessesKilled: two importer processes import
// the same 300 conversations into one fake amoCRM with one PostgreSQL
// checkpoint; one of them is killed with SIGKILL at random points (before
// or after one of its requests reaches amoCRM, or at a random moment) and
// started again each time, while the other runs again and again. Once both
// are done, every message is in its chat once and in order, each
// conversation has one contact, a last run finds every conversation done,
// and no conversation was ever claimed by two processes at the same time.
func TestCheckpointImportTwoProcessesKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs importer processes for some seconds")
	}
	t.Parallel()
	start := time.Now()
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	if _, err := s.Pool().Exec(ctx, claimLogTable); err != nil {
		t.Fatal(err)
	}
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	k := &killtest.Proxy{Next: srv}
	ts := httptest.NewServer(k)
	t.Cleanup(ts.Close)

	convs := testscale.Size(t, 300, 150)
	conversations := importtest.Conversations(convs)
	var lines bytes.Buffer
	for _, c := range conversations {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(data)
		lines.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "conversations.jsonl")
	if err := os.WriteFile(file, lines.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ch := srv.Channel()
	// A short lease, so that the conversations of a killed process are
	// taken over within the test: renewed every second.
	const lease = 3 * time.Second
	base := importChildConfig{DSN: dsn, File: file, ChannelID: ch.ID, Secret: ch.Secret, Token: srv.Token(), Name: "two processes", Lease: lease}
	killedCfg, steadyCfg := base, base
	killedCfg.ChatsURL, killedCfg.CRMURL, killedCfg.Holder = ts.URL, ts.URL, "killed importer"
	steadyCfg.ChatsURL, steadyCfg.CRMURL, steadyCfg.Holder = srv.URL, srv.CRMURL, "steady importer"

	var runs []childRun
	var runsMu sync.Mutex
	addRun := func(r childRun) {
		runsMu.Lock()
		defer runsMu.Unlock()
		runs = append(runs, r)
	}

	// The steady importer runs again and again while the other is killed.
	stop := make(chan struct{})
	steadyDone := make(chan struct{})
	go func() {
		defer close(steadyDone)
		for {
			addRun(runImporter(t, steadyCfg, nil, killtest.Plan{}))
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	rng := rand.New(rand.NewPCG(5, 8))
	var kills []string
	for range 6 {
		// Before or after one of its requests, or at a moment.
		plan := killtest.Plan{At: 1 + rng.IntN(150), Before: rng.IntN(2) == 0}
		if rng.IntN(3) == 0 {
			plan = killtest.Plan{Within: time.Duration(100+rng.IntN(900)) * time.Millisecond}
		}
		run := runImporter(t, killedCfg, k, plan)
		addRun(run)
		if run.killed != "" {
			kills = append(kills, run.killed)
		}
	}
	close(stop)
	<-steadyDone
	if len(kills) < 3 {
		t.Fatalf("only %d of the planned kills happened (%v): the import ended too soon", len(kills), kills)
	}

	// Both done: run both once more at once, with clocks past the killed
	// process's leases (rather than waiting for them), then a last run
	// alone.
	steadyCfg.ClockAhead, killedCfg.ClockAhead = lease, lease
	var wg sync.WaitGroup
	for _, cfg := range []importChildConfig{steadyCfg, killedCfg} {
		wg.Go(func() { addRun(runImporter(t, cfg, nil, killtest.Plan{})) })
	}
	wg.Wait()
	last := runImporter(t, steadyCfg, nil, killtest.Plan{})
	addRun(last)
	if want := [6]int{convs, convs, convs, 0, 0, 0}; last.result != want {
		t.Errorf("last run: %v (conversations, done, done before, claimed elsewhere, failed, interrupted), want %v", last.result, want)
	}
	for _, r := range runs {
		if r.killed == "" && (r.result[4] != 0 || r.result[5] != 0) {
			t.Errorf("process %d: %v (conversations, done, done before, claimed elsewhere, failed, interrupted)", r.pid, r.result)
		}
	}
	importtest.CheckImported(t, srv, conversations)
	if n := claimRows(t, s); n != 0 {
		t.Errorf("%d claims left", n)
	}

	// No conversation was claimed by two processes at once. A killed
	// process's claims end at its death (a statement it sent may have been
	// carried out after it).
	for _, r := range runs {
		if r.killed == "" {
			continue
		}
		if _, err := s.Pool().Exec(ctx, `UPDATE test_claims SET ended_at = $2 WHERE pid = $1 AND ended_at IS NULL`, r.pid, r.died); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Pool().Query(ctx, `
SELECT a.conversation_id, a.pid, b.pid FROM test_claims a JOIN test_claims b
ON a.conversation_id = b.conversation_id AND a.id < b.id
AND a.started_at < b.ended_at AND b.started_at < a.ended_at`)
	if err != nil {
		t.Fatal(err)
	}
	overlaps := 0
	for rows.Next() {
		var id string
		var pa, pb int
		if err := rows.Scan(&id, &pa, &pb); err != nil {
			t.Fatal(err)
		}
		if overlaps++; overlaps <= 10 {
			t.Errorf("%s claimed by processes %d and %d at the same time", id, pa, pb)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var claims, open, holders int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE ended_at IS NULL), count(DISTINCT pid) FROM test_claims`).Scan(&claims, &open, &holders); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Errorf("%d claims logged without an end", open)
	}
	t.Logf("%d importer processes; %d kills (%s); %d claims logged, %d of them overlapping another; in %v",
		holders, len(kills), strings.Join(kills, ", "), claims, overlaps, time.Since(start).Round(time.Millisecond))
}
