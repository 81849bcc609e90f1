package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openCheckpoint returns the PostgreSQL checkpoint of the import called
// name at dsn, as another run would use it.
func openCheckpoint(t *testing.T, dsn, name string) *pgstore.Checkpoint {
	t.Helper()
	st, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st.Checkpoint(name)
}

// TestRunWithPostgres: with -postgres the program migrates the schema and
// records its progress there under the scope's name, so a second run
// imports nothing again.
func TestRunWithPostgres(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	dsn := pgtest.DSN(t)
	code, out, errOut := runProg(t, t.Context(), env, "-postgres", dsn)
	if code != exitOK || !strings.Contains(out, "import: 2 messages (2 sent, 0 skipped)") ||
		!strings.Contains(out, `Checkpoint: PostgreSQL, import "`+srv.ScopeID()+`".`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runProg(t, t.Context(), env, "-postgres", dsn)
	if code != exitOK || !strings.Contains(out, "import: 2 messages (0 sent, 2 skipped)") || !strings.Contains(out, "verify: done earlier, according to the checkpoint") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	st, err := openCheckpoint(t, dsn, srv.ScopeID()).Load(t.Context(), "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217")
	if err != nil || !st.Done || st.ScopeID != srv.ScopeID() {
		t.Errorf("checkpoint: %+v, %v", st, err)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
}

// TestRunWithPostgresLeavesClaimedConversations: a conversation another run
// is importing (it holds its claim) is left to it, said in the summary and
// the exit status; once that run released it, the next run imports it.
func TestRunWithPostgresLeavesClaimedConversations(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	env["AMOJO_BOT_ID"] = srv.Channel().Bot.ID
	dsn := pgtest.DSN(t)
	file := writeFile(t, "many.jsonl", lines(t, 10))
	// A dry run leaves the database alone.
	code, out, errOut := runProg(t, t.Context(), env, "-postgres", dsn, "-import-name", "job 1", "-dry-run", "-file", file)
	if code != exitOK {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	st, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, err := st.Version(t.Context()); err != nil || v != 0 {
		t.Fatalf("schema version %d (%v) after a dry run", v, err)
	}
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := st.Checkpoint("job 1")
	if err := other.Claim(t.Context(), "c-3"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runProg(t, t.Context(), env, "-postgres", dsn, "-import-name", "job 1", "-file", file)
	if code != exitFailed || !strings.Contains(out, "imported 9 of 10 conversations (0 done before)") ||
		!strings.Contains(out, "left to another run: 1 conversations it is importing") ||
		!strings.Contains(errOut, "1 conversations are being imported by another run sharing the checkpoint: left to it (run again once it is done to check them)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, ok := srv.ChatByConversation(srv.ScopeID(), "c-3"); ok {
		t.Error("the conversation claimed by another run was imported")
	}
	if err := other.Release(t.Context(), "c-3"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runProg(t, t.Context(), env, "-postgres", dsn, "-import-name", "job 1", "-file", file)
	if code != exitOK || !strings.Contains(out, "imported 10 of 10 conversations (9 done before)") {
		t.Fatalf("after the release: exit %d\n%s%s", code, out, errOut)
	}
	// Another name is another import: it knows nothing of this one.
	if st, err := openCheckpoint(t, dsn, srv.ScopeID()).Load(t.Context(), "c-3"); err != nil || st.ChatID != "" {
		t.Errorf("the scope's import has %+v, %v", st, err)
	}
	if err := other.Claim(t.Context(), "c-3"); err != nil {
		t.Errorf("claim left behind: %v", err)
	}
}

// TestRunPostgresFlags: -postgres is refused with -checkpoint, without a
// connection string, with one that is not (without echoing a password),
// and with the in-process fake; -import-name needs -postgres. Nothing is
// sent.
func TestRunPostgresFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		fake bool
		want string
	}{
		{"both checkpoints", []string{"-checkpoint", "cp.jsonl", "-postgres", "host=/tmp dbname=x"}, false,
			"-checkpoint and -postgres exclude each other: choose one checkpoint (-checkpoint FILE for one machine, -postgres DSN for runs on several)"},
		{"empty connection string", []string{"-postgres", " "}, false, "-postgres needs a connection string"},
		{"bad connection string", []string{"-postgres", "postgres://u:s3cret@[::1"}, false,
			"-postgres: not a PostgreSQL connection string (a postgres:// URL or key=value pairs)"},
		{"name without postgres", []string{"-import-name", "job"}, false, "-import-name names the import in the PostgreSQL checkpoint: give -postgres too"},
		{"empty name", []string{"-postgres", "host=/tmp dbname=x", "-import-name", ""}, false, "-import-name needs a name"},
		{"in-process fake", []string{"-postgres", "host=/tmp dbname=x"}, true,
			"-postgres needs an account: the in-process fake amoCRM starts empty on every run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, env := fakeEnv(t)
			if tt.fake {
				env = nil
			}
			code, out, errOut := runProg(t, t.Context(), env, tt.args...)
			if code != exitUsage || !strings.HasPrefix(errOut, prog+": "+tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tt.want)
			}
			if strings.Contains(errOut, "s3cret") {
				t.Errorf("stderr shows the password: %q", errOut)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}
