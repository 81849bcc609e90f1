package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// runDemo runs the demo with args and checks that it echoed every manager
// message, as TestDemo does in more detail.
func runDemoWith(t *testing.T, args []string, wantWait string) {
	t.Helper()
	var fake *amojotest.Server
	var stdout, stderr bytes.Buffer
	code := runWith(t.Context(), args, func(string) string { return "" }, &stdout, &stderr,
		func() *amojotest.Server { fake = amojotest.NewServer(); return fake })
	if code != exitOK || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"they wait in " + wantWait, "Anna Petrova       echo: It arrives tomorrow.", "amoCRM received 4 read receipts."} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, w := range fake.Webhooks() {
		if w.StatusCode != http.StatusOK {
			t.Errorf("webhook %s answered %d", w.Kind, w.StatusCode)
		}
	}
}

// TestDemoWithInbox: with -inbox the demo stores every webhook in the file
// before answering, and leaves nothing undelivered in it.
func TestDemoWithInbox(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.jsonl")
	runDemoWith(t, []string{"-inbox", path}, "the inbox file "+path)
	b, err := os.ReadFile(path)
	if err != nil || bytes.Count(b, []byte(`"op":"add"`)) != 4 {
		t.Fatalf("the file holds %d events (%v), want the 4 webhooks", bytes.Count(b, []byte(`"op":"add"`)), err)
	}
	in, err := amojo.NewFileInbox(path, amojo.WithInboxClock(func() time.Time { return time.Now().Add(time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if evs, err := in.Claim(t.Context(), 10, time.Minute); err != nil || len(evs) != 0 {
		t.Errorf("%d events left to deliver (%v)", len(evs), err)
	}
}

// TestDemoWithPostgres: with -postgres the demo migrates the schema and
// stores every webhook in the database, each delivered.
func TestDemoWithPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	runDemoWith(t, []string{"-postgres", dsn}, "the PostgreSQL inbox")
	st, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var done, other int
	err = st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state <> 'done') FROM amojo_inbox`).Scan(&done, &other)
	if err != nil || done != 4 || other != 0 {
		t.Errorf("inbox rows: %d done, %d not (%v); want the 4 webhooks done", done, other, err)
	}
}

// TestServeWithInbox: serving with -inbox, an echo that fails is retried
// from the inbox instead of being lost.
func TestServeWithInbox(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.jsonl")
	fake, stdout, _, cancel, done := startServing(t, "-inbox", path)
	ch := fake.Channel()
	listening := stdout.wait(t, regexp.MustCompile(`^Listening on (http://127\.0\.0\.1:\d+/amojo/webhook/:scope_id);`))
	stdout.wait(t, regexp.MustCompile(`^Webhooks wait in the inbox file `+regexp.QuoteMeta(path)+`\.$`))
	if err := fake.SetWebhookURL(ch.ID, listening[1]); err != nil {
		t.Fatal(err)
	}
	scopeID := fake.ScopeID()
	chat, err := fake.Client().CreateChat(t.Context(), scopeID, createChat("conv-1", "client-1", "Client One"))
	if err != nil {
		t.Fatal(err)
	}
	fake.FailNext(amojotest.RouteMessage, 1, http.StatusBadRequest, "") // not retried by the client
	res, err := fake.ManagerReply(t.Context(), scopeID, chat.ID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "ping"})
	if err != nil {
		t.Fatal(err)
	}
	stdout.wait(t, regexp.MustCompile(`^message .*"ping" — marked read, echoed$`))
	got, _ := fake.ChatByConversation(scopeID, "conv-1")
	if n := len(got.Messages); n != 2 || got.Messages[1].Text != "echo: ping" || got.Messages[1].ClientID != "echo-"+res.MessageID {
		t.Errorf("chat after the retried echo: %+v", got.Messages)
	}
	var codes []int
	for _, r := range fake.RequestsTo(amojotest.RouteMessage) {
		codes = append(codes, r.StatusCode)
	}
	if len(codes) != 2 || codes[0] != http.StatusBadRequest || codes[1] != http.StatusOK {
		t.Errorf("echo sends answered %v, want a 400, then the retry from the inbox 200", codes)
	}
	stopServing(t, cancel, done)
}
