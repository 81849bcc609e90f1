package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// runProg runs the program with args and env and returns its exit status,
// stdout and stderr.
func runProg(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSeedIsTheRepositoryFixture(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("../../importer/testdata/conversations/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seed, want) {
		t.Fatal("seed.json differs from importer/testdata/conversations/seed.json; keep them equal")
	}
}

func TestRunDefault(t *testing.T) {
	t.Parallel()
	code, out, errOut := runProg(t, t.Context(), nil)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"connect: scope f90ba33d-c9d9-44da-b76c-c349b0ecbe41_af9945ff-1490-4cad-807d-945c15d88bec\n",
		"create chat: ",
		"create contact: 40401635 (Jack200803 Tester)\n",
		"link: chat ",
		"import: 2 messages (2 sent, 0 skipped)\n",
		"2020-08-03 16:06:48  Example Client: Можно ли оплатить заказ при получении ?\n" +
			"2020-08-03 16:09:12  Менеджер Василий: Да, конечно. Вы можете оплатить наличными и картой курьеру при получении.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// fakeEnv starts a fake amoCRM and returns the environment that points the
// program at it, as at a real account.
func fakeEnv(t *testing.T) (*amojotest.Server, map[string]string) {
	t.Helper()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	return srv, map[string]string{
		"AMOJO_CHANNEL_ID":     srv.Channel().ID,
		"AMOJO_CHANNEL_SECRET": srv.Channel().Secret,
		"AMOJO_BASE_URL":       srv.URL,
		"AMOCRM_BASE_URL":      srv.CRMURL,
		"AMOCRM_TOKEN":         srv.Token(),
	}
}

func TestRunAgainstAccountTwice(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	cp := filepath.Join(t.TempDir(), "cp.jsonl")
	code, out, errOut := runProg(t, t.Context(), env, "-checkpoint", cp)
	if code != exitOK || !strings.Contains(out, "import: 2 messages (2 sent, 0 skipped)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runProg(t, t.Context(), env, "-checkpoint", cp)
	if code != exitOK || !strings.Contains(out, "import: 2 messages (0 sent, 2 skipped)") || !strings.Contains(out, "contact: 40401635 (already there)") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
}

func TestRunSeedManagerAdopted(t *testing.T) {
	t.Parallel()
	// An account whose only user is not the walk-through's manager.
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0), amojotest.WithAccount(amojotest.Account{
		AmojoID: "3d2b4c6e-0000-4000-8000-000000000001", ID: 1, Subdomain: "other", Name: "Other",
		Users: []amojotest.User{{ID: 7, AmojoID: "3d2b4c6e-0000-4000-8000-000000000007", Name: "Olga"}},
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{
		"AMOJO_CHANNEL_ID": srv.Channel().ID, "AMOJO_CHANNEL_SECRET": srv.Channel().Secret,
		"AMOJO_BASE_URL": srv.URL, "AMOCRM_BASE_URL": srv.CRMURL, "AMOCRM_TOKEN": srv.Token(),
	}
	code, out, errOut := runProg(t, t.Context(), env)
	if code != exitOK || !strings.Contains(out, "imported as Olga's") || !strings.Contains(out, "16:09:12  Olga: Да, конечно.") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lines makes a JSON Lines file of n conversations.
func lines(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		c := importer.Conversation{
			ID:      fmt.Sprintf("c-%d", i),
			Client:  amojo.Participant{ID: fmt.Sprintf("u-%d", i), Name: "Client"},
			Contact: &importer.ContactSpec{Name: fmt.Sprintf("Client %d", i)},
			Messages: []importer.ConversationMessage{
				{MsgID: fmt.Sprintf("c-%d-1", i), Time: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC), From: importer.FromClient, Content: amojo.Text{Text: "hi"}},
				{MsgID: fmt.Sprintf("c-%d-2", i), Time: time.Date(2024, 1, 1, 10, 1, 0, 0, time.UTC), From: importer.FromBot, Content: amojo.Text{Text: "hello"}},
			},
		}
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestRunLines(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	env["AMOJO_BOT_ID"] = srv.Channel().Bot.ID
	file := writeFile(t, "many.jsonl", lines(t, 60))
	cp := filepath.Join(t.TempDir(), "cp.jsonl")
	code, out, errOut := runProg(t, t.Context(), env, "-file", file, "-checkpoint", cp, "-concurrency", "4")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if want := "imported 60 of 60 conversations (0 done before): 120 messages sent, 0 already there; 0 conversations failed\n"; out != want {
		t.Errorf("stdout %q\nwant %q", out, want)
	}
	if !strings.Contains(errOut, "progress: 60/60 conversations done (0 failed), 120/120 messages") {
		t.Errorf("stderr %q", errOut)
	}
	// Content detection: the same file without its extension.
	plain := writeFile(t, "many", lines(t, 60))
	code, out, _ = runProg(t, t.Context(), env, "-file", plain, "-checkpoint", cp)
	if code != exitOK || !strings.Contains(out, "(60 done before)") {
		t.Errorf("second run: exit %d %q", code, out)
	}
}

func TestRunDryRun(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	file := writeFile(t, "many.jsonl", lines(t, 12))
	env["AMOJO_BOT_ID"] = "bot"
	code, out, errOut := runProg(t, t.Context(), env, "-file", file, "-dry-run")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d %q", code, errOut)
	}
	for _, want := range []string{
		"dry run: " + file + " is valid; nothing was sent.",
		"create 12 chats", "create 12 contacts, link 0 chats to existing contacts",
		"import 24 messages silently (12 from clients, 0 from managers, 12 from the bot)",
		"- conversation c-0 with Client: 2 messages from 2024-01-01 10:00:00 to 2024-01-01 10:01:00, create contact \"Client 0\"",
		"… and 2 more conversations",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	valid := lines(t, 3)
	withBot := func(e map[string]string) { e["AMOJO_BOT_ID"] = "bot" }
	tests := []struct {
		name    string
		content string // file content; "" uses the built-in seed
		env     func(env map[string]string)
		args    []string
		code    int
		want    string // the one line on stderr
	}{
		{
			name: "malformed file", content: valid + `{"conversation_id":"c-9","client":` + "\n", env: withBot,
			code: exitUsage, want: `FILE: amojo: conversation (line 4): invalid JSON: unexpected end of input`,
		},
		{
			name: "missing field", content: strings.Replace(valid, `"msgid":"c-1-2",`, ``, 1), env: withBot,
			code: exitUsage, want: `FILE: amojo: conversation "c-1" (line 2): invalid messages[1].msgid: required`,
		},
		{
			name: "no bot id", content: valid,
			code: exitUsage, want: `FILE: conversation "c-0", message "c-0-2": a bot message needs AMOJO_BOT_ID (the channel bot's id)`,
		},
		{
			name: "wrong secret", env: func(e map[string]string) { e["AMOJO_CHANNEL_SECRET"] = strings.Repeat("0", 40) },
			code: exitFailed, want: `amojo: conversation "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217": connect: POST /v2/origin/custom/f90ba33d-c9d9-44da-b76c-c349b0ecbe41/connect: 403`,
		},
		{
			name: "expired token", env: func(e map[string]string) { e["AMOCRM_TOKEN"] = "expired" },
			code: exitFailed, want: `amojo: conversation "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217": users: GET /api/v4/users: 401`,
		},
		{
			name: "expired token in a batch", content: valid, env: func(e map[string]string) { e["AMOCRM_TOKEN"] = "expired"; e["AMOJO_BOT_ID"] = "b" },
			code: exitFailed, want: `amojo: conversation "c-0": connect: GET /api/v4/account: 401`,
		},
		{
			name: "partial environment", env: func(e map[string]string) { delete(e, "AMOCRM_TOKEN") },
			code: exitUsage, want: `set AMOCRM_TOKEN too (or none of them to use the in-process fake amoCRM)`,
		},
		{name: "bad flag", args: []string{"-concurrency", "0"}, code: exitUsage, want: `-concurrency must be at least 1`},
		{name: "missing file", args: []string{"-file", "/no/such/file.json"}, code: exitUsage, want: `open /no/such/file.json: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, env := fakeEnv(t)
			if tt.env != nil {
				tt.env(env)
			}
			// A checkpoint from an earlier run must survive the failure.
			cpContent := `{"id":"earlier","chat":"x","done":true}` + "\n"
			cp := writeFile(t, "cp.jsonl", cpContent)
			args := append([]string{"-checkpoint", cp}, tt.args...)
			file := ""
			if tt.content != "" {
				file = writeFile(t, "in.jsonl", tt.content)
				args = append(args, "-file", file)
			}
			code, _, errOut := runProg(t, t.Context(), env, args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut)
			}
			want := prog + ": " + strings.ReplaceAll(tt.want, "FILE", file)
			errLines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			last := errLines[len(errLines)-1]
			if !strings.HasPrefix(last, want) {
				t.Errorf("stderr %q\nwant a line starting %q", errOut, want)
			}
			if tt.code == exitUsage && len(srv.Requests()) != 0 {
				t.Errorf("bad input, yet %d requests were sent", len(srv.Requests()))
			}
			if data, _ := os.ReadFile(cp); string(data) != cpContent {
				t.Errorf("checkpoint changed: %q", data)
			}
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	env["AMOJO_BOT_ID"] = srv.Channel().Bot.ID
	file := writeFile(t, "many.jsonl", lines(t, 30))
	cp := filepath.Join(t.TempDir(), "cp.jsonl")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, out, errOut := runProg(t, ctx, env, "-file", file, "-checkpoint", cp)
	if want := "interrupted: 30 conversations left for the next run; run the same command again to resume from " + cp; code != exitFailed || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d %q", code, errOut)
	}
	if !strings.Contains(out, "; 0 conversations failed") {
		t.Errorf("stdout %q", out)
	}
	code, out, errOut = runProg(t, t.Context(), env, "-file", file, "-checkpoint", cp)
	if code != exitOK || !strings.Contains(out, "imported 30 of 30") {
		t.Fatalf("resume: exit %d %q %q", code, out, errOut)
	}
}

// TestRunRefusesTheInputAsCheckpoint: the conversation file given as the
// checkpoint (by its name or another) is refused and left as it was; it
// was emptied, and the run reported "imported 0 of 1" with status 0.
func TestRunRefusesTheInputAsCheckpoint(t *testing.T) {
	t.Parallel()
	_, env := fakeEnv(t)
	env["AMOJO_BOT_ID"] = "bot"
	content := lines(t, 1)
	file := writeFile(t, "one.jsonl", content)
	link := filepath.Join(t.TempDir(), "other-name.jsonl")
	if err := os.Link(file, link); err != nil {
		t.Fatal(err)
	}
	for _, cp := range []string{file, link} {
		code, out, errOut := runProg(t, t.Context(), env, "-file", file, "-checkpoint", cp)
		if want := "-checkpoint " + cp + " is the conversation file " + file; code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("-checkpoint %s: exit %d\n%s%s", cp, code, out, errOut)
		}
	}
	// Another conversation file is not a checkpoint either.
	other := writeFile(t, "other.jsonl", content)
	code, _, errOut := runProg(t, t.Context(), env, "-file", file, "-checkpoint", other)
	if code != exitUsage || !strings.Contains(errOut, "is not a checkpoint file: line 1 is not a checkpoint entry") {
		t.Errorf("exit %d %q", code, errOut)
	}
	for _, f := range []string{file, other} {
		if data, _ := os.ReadFile(f); string(data) != content {
			t.Errorf("%s changed: %q", f, data)
		}
	}
}

// TestRunFakeRefusesCheckpoint: with the in-process fake every run starts
// empty, so a checkpoint could resume nothing: the program says so instead
// of printing a resume hint that is not true.
func TestRunFakeRefusesCheckpoint(t *testing.T) {
	t.Parallel()
	cp := filepath.Join(t.TempDir(), "cp.jsonl")
	file := writeFile(t, "many.jsonl", lines(t, 3))
	code, out, errOut := runProg(t, t.Context(), nil, "-file", file, "-checkpoint", cp)
	if code != exitUsage || !strings.Contains(errOut, "-checkpoint needs an account: the in-process fake amoCRM starts empty on every run") || out != "" {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(cp); !os.IsNotExist(err) {
		t.Errorf("checkpoint created: %v", err)
	}
	// Interrupted without one, it does not promise a resumption either.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, _, errOut = runProg(t, ctx, nil, "-file", file)
	if code != exitFailed || !strings.Contains(errOut, "interrupted: 3 conversations not imported (the in-process fake amoCRM starts empty on every run") {
		t.Errorf("exit %d %q", code, errOut)
	}
}

// truncatingServer serves srv and, when the first chat is created, cuts
// file to size: the input shrinks under the running import.
func truncatingServer(t *testing.T, srv *amojotest.Server, file string, size int64) *httptest.Server {
	t.Helper()
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chats") {
			once.Do(func() {
				if err := os.Truncate(file, size); err != nil {
					t.Error(err)
				}
			})
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestRunFewerImportedThanReadFails: when the file loses conversations
// between the check and the import (here cut short while the import runs),
// the run imports fewer than it checked; that is a failure, with the
// reason, not a success.
func TestRunFewerImportedThanReadFails(t *testing.T) {
	t.Parallel()
	srv, env := fakeEnv(t)
	env["AMOJO_BOT_ID"] = srv.Channel().Bot.ID
	// The reader takes the file 64 KiB at a time: conversations up to
	// there, blank to the byte 65 536, then more. Cut to 64 KiB, the file
	// ends on a blank line and nothing reads as broken.
	const first = 64 << 10
	var b strings.Builder
	for i := 0; b.Len() < first-2048; i++ {
		b.WriteString(strings.Replace(lines(t, 1), `"c-0`, fmt.Sprintf(`"c-%d`, i), -1))
	}
	checked := strings.Count(b.String(), "\n")
	b.WriteString(strings.Repeat(" ", first-b.Len()) + "\n")
	for i := range 20 {
		b.WriteString(strings.Replace(lines(t, 1), `"c-0`, fmt.Sprintf(`"d-%d`, i), -1))
	}
	file := writeFile(t, "many.jsonl", b.String())
	ts := truncatingServer(t, srv, file, first)
	env["AMOJO_BASE_URL"], env["AMOCRM_BASE_URL"] = ts.URL, ts.URL
	code, out, errOut := runProg(t, t.Context(), env, "-file", file)
	want := fmt.Sprintf("%s changed during the import: %d conversations were checked, %d read and %d imported; run again", file, checked+20, checked, checked)
	if code != exitFailed || !strings.Contains(errOut, want) {
		t.Errorf("exit %d\n%s%s\nwant %q", code, out, errOut, want)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("imported %d of %d conversations", checked, checked+20)) {
		t.Errorf("stdout %q", out)
	}
}
