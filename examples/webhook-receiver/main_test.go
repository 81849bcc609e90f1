package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// lineWait bounds the wait for the program to print an expected line.
const lineWait = 20 * time.Second

func TestDemo(t *testing.T) {
	t.Parallel()
	var fake *amojotest.Server
	var stdout, stderr bytes.Buffer
	code := runWith(t.Context(), nil, func(string) string { return "" }, &stdout, &stderr,
		func() *amojotest.Server { fake = amojotest.NewServer(); return fake })
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr not empty:\n%s", stderr.String())
	}

	scopeID := fake.ScopeID()
	chat, ok := fake.ChatByConversation(scopeID, demoConversation)
	if !ok {
		t.Fatalf("no chat %s in the fake", demoConversation)
	}
	// The fake's stored chat, oldest first: the client's greeting, then
	// each manager message followed by its echo from the client.
	wantTexts := []string{
		"Hi! Is my order on its way?",
		"Hello Anna! Let me check.", "echo: Hello Anna! Let me check.",
		"Here is the parcel.", "echo: [picture parcel.jpg] Here is the parcel.",
		"It arrives tomorrow.", "echo: It arrives tomorrow.",
	}
	if len(chat.Messages) != len(wantTexts) {
		t.Fatalf("chat has %d messages, want %d: %+v", len(chat.Messages), len(wantTexts), chat.Messages)
	}
	managerIDs := map[string]bool{}
	for i, m := range chat.Messages {
		if m.Text != wantTexts[i] {
			t.Errorf("message %d: text %q, want %q", i, m.Text, wantTexts[i])
		}
		if i == 0 || i%2 == 0 {
			// From the client: the echoes carry the manager message's id.
			if m.Sender.ClientID != demoClientID || m.Receiver != nil {
				t.Errorf("message %d: sender %+v receiver %v, want the client", i, m.Sender, m.Receiver)
			}
			if i > 0 {
				if want := "echo-" + chat.Messages[i-1].ID; m.ClientID != want {
					t.Errorf("message %d: msgid %q, want %q", i, m.ClientID, want)
				}
			}
			continue
		}
		if m.Sender.ID != amojotest.DefaultManagerAmojoID {
			t.Errorf("message %d: sender %+v, want the manager", i, m.Sender)
		}
		if m.DeliveryStatus != 2 {
			t.Errorf("message %d: delivery status %d, want 2 (read)", i, m.DeliveryStatus)
		}
		managerIDs[m.ID] = true
	}
	if chat.Messages[3].Type != "picture" || chat.Messages[4].Type != "text" {
		t.Errorf("types %q, %q; want the picture echoed as text", chat.Messages[3].Type, chat.Messages[4].Type)
	}

	// The chat the manager started: the echo bound it to a conversation id
	// and a client id derived from amojo's ids.
	chats := fake.Chats(scopeID)
	if len(chats) != 2 {
		t.Fatalf("%d chats, want 2", len(chats))
	}
	wf := chats[1]
	if wf.ConversationID != "chat-"+wf.ID {
		t.Errorf("write-first chat: conversation id %q, want %q", wf.ConversationID, "chat-"+wf.ID)
	}
	if wf.Client == nil || wf.Client.ClientID != "client-"+wf.Client.ID || wf.Client.Phone != demoPhone {
		t.Errorf("write-first chat: client %+v", wf.Client)
	}
	if len(wf.Messages) != 2 || wf.Messages[1].Text != "echo: "+wf.Messages[0].Text || wf.Messages[1].ClientID != "echo-"+wf.Messages[0].ID {
		t.Errorf("write-first chat: messages %+v", wf.Messages)
	}
	managerIDs[wf.Messages[0].ID] = true

	// Every manager message was reported read, once.
	reqs := fake.RequestsTo(amojotest.RouteDeliveryStatus)
	if len(reqs) != len(managerIDs) {
		t.Fatalf("%d delivery_status requests, want %d", len(reqs), len(managerIDs))
	}
	for _, r := range reqs {
		var body struct {
			MsgID          string `json:"msgid"`
			DeliveryStatus int    `json:"delivery_status"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if r.StatusCode != http.StatusOK || body.DeliveryStatus != 2 || !managerIDs[body.MsgID] {
			t.Errorf("delivery_status %d %s", r.StatusCode, r.Body)
		}
		if want := "/v2/origin/custom/" + scopeID + "/" + body.MsgID + "/delivery_status"; r.Path != want {
			t.Errorf("path %s, want %s", r.Path, want)
		}
		delete(managerIDs, body.MsgID)
	}
	for _, w := range fake.Webhooks() {
		if w.StatusCode != http.StatusOK {
			t.Errorf("webhook %s answered %d", w.Kind, w.StatusCode)
		}
	}

	// What a person sees.
	out := stdout.String()
	for _, want := range []string{
		"No AMOJO_CHANNEL_ID set",
		"Anna Petrova       echo: [picture parcel.jpg] Here is the parcel.",
		"Boris              echo: Good afternoon, Boris! Your card is ready.",
		"amoCRM received 4 read receipts.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestBadConfiguration(t *testing.T) {
	t.Parallel()
	full := map[string]string{
		"AMOJO_CHANNEL_ID": "f90ba33d-c9d9-44da-b76c-c349b0ecbe41", "AMOJO_CHANNEL_SECRET": "secret",
		"AMOCRM_BASE_URL": "https://example.amocrm.ru", "AMOCRM_TOKEN": "token",
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string // the single line on stderr
	}{
		{"only the channel id", nil, map[string]string{"AMOJO_CHANNEL_ID": "x"}, exitUsage,
			"webhook-receiver: set AMOJO_CHANNEL_SECRET and AMOCRM_BASE_URL and AMOCRM_TOKEN too (or none of them to run the demo against an in-process fake amoCRM)"},
		{"token missing", nil, without(full, "AMOCRM_TOKEN"), exitUsage,
			"webhook-receiver: set AMOCRM_TOKEN too (or none of them to run the demo against an in-process fake amoCRM)"},
		{"no listen address", nil, full, exitUsage,
			"webhook-receiver: set -addr or WEBHOOK_ADDR to the address amoCRM's webhooks reach, such as :8080"},
		{"bad base URL", []string{"-addr", "127.0.0.1:0"}, with(full, "AMOJO_BASE_URL", "::not a url"), exitUsage, "webhook-receiver: AMOJO_*: amojo:"},
		{"argument", []string{"extra"}, nil, exitUsage, `webhook-receiver: unexpected argument "extra"`},
		{"empty title", []string{"-title", " "}, nil, exitUsage, "webhook-receiver: -title must not be empty"},
		{"two inboxes", []string{"-inbox", "in.jsonl", "-postgres", "host=/tmp dbname=x"}, nil, exitUsage,
			"webhook-receiver: -inbox and -postgres exclude each other: choose one inbox (-inbox for one machine, -postgres for replicas)"},
		{"two inboxes, serving", []string{"-addr", "127.0.0.1:0", "-postgres", "host=/tmp", "-inbox", "in.jsonl"}, full, exitUsage,
			"webhook-receiver: -inbox and -postgres exclude each other"},
		{"empty inbox path", []string{"-inbox", ""}, nil, exitUsage, "webhook-receiver: -inbox needs a file path"},
		{"empty connection string", []string{"-postgres", " "}, nil, exitUsage, "webhook-receiver: -postgres needs a connection string"},
		{"bad connection string", []string{"-postgres", "postgres://u:s3cret@[::1"}, nil, exitUsage,
			"webhook-receiver: -postgres: not a PostgreSQL connection string (a postgres:// URL or key=value pairs)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
				t.Errorf("stderr %q, want one line starting %q", stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("stderr shows the password: %q", stderr.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-h"}, func(string) string { return "" }, &stdout, &stderr); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
	if !strings.Contains(stderr.String(), "-addr") {
		t.Errorf("usage lacks -addr: %s", stderr.String())
	}
	if code := run(t.Context(), []string{"-nope"}, func(string) string { return "" }, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
}

// TestServe runs the long-lived mode against the fake as if it were a real
// account: the program connects, serves until cancelled, echoes, reports a
// failed echo on stderr, and stops cleanly.
func TestServe(t *testing.T) {
	t.Parallel()
	fake, stdout, stderr, cancel, done := startServing(t)
	ch := fake.Channel()

	stdout.wait(t, regexp.MustCompile(`^Connected channel `))
	listening := stdout.wait(t, regexp.MustCompile(`^Listening on (http://127\.0\.0\.1:\d+/amojo/webhook/:scope_id);`))
	if err := fake.SetWebhookURL(ch.ID, listening[1]); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.RequestsTo(amojotest.RouteAccount)); n != 1 {
		t.Errorf("%d account requests, want 1 (no AMOJO_ACCOUNT_ID)", n)
	}
	scopeID := fake.ScopeID()
	client := fake.Client()
	chat, err := client.CreateChat(t.Context(), scopeID, createChat("conv-1", "client-1", "Client One"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := fake.ManagerReply(t.Context(), scopeID, chat.ID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "ping"})
	if err != nil {
		t.Fatal(err)
	}
	stdout.wait(t, regexp.MustCompile(`^message .*"ping" — marked read, echoed$`))
	got, _ := fake.ChatByConversation(scopeID, "conv-1")
	if n := len(got.Messages); n != 2 || got.Messages[1].Text != "echo: ping" || got.Messages[1].ClientID != "echo-"+res.MessageID || got.Messages[0].DeliveryStatus != 2 {
		t.Errorf("chat after echo: %+v", got.Messages)
	}

	// The echo fails: the callback's error goes to stderr.
	fake.FailNext(amojotest.RouteMessage, 1, http.StatusBadRequest, "")
	if _, err := fake.ManagerReply(t.Context(), scopeID, chat.ID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "pong"}); err != nil {
		t.Fatal(err) // answered 200: the event was queued
	}
	stderr.wait(t, regexp.MustCompile(`^webhook-receiver: message webhook: echoing message [0-9a-f-]+: amojo: .*400`))

	stopServing(t, cancel, done)
	stdout.wait(t, regexp.MustCompile(`^Stopped\.$`))
}

// startServing runs the program with args against a fake amoCRM configured
// as a real account; cancel stops it and done gets its exit status.
func startServing(t *testing.T, args ...string) (fake *amojotest.Server, stdout, stderr *lines, cancel func(), done <-chan int) {
	t.Helper()
	fake = amojotest.NewServer()
	t.Cleanup(fake.Close)
	ch := fake.Channel()
	env := map[string]string{
		"AMOJO_CHANNEL_ID": ch.ID, "AMOJO_CHANNEL_SECRET": ch.Secret, "AMOJO_BASE_URL": fake.URL,
		"AMOCRM_BASE_URL": fake.CRMURL, "AMOCRM_TOKEN": fake.Token(), "WEBHOOK_ADDR": "127.0.0.1:0",
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	stdout, stderr = newLines(t), newLines(t)
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, args, func(k string) string { return env[k] }, stdout.w, stderr.w)
		stdout.w.Close()
		stderr.w.Close()
	}()
	return fake, stdout, stderr, cancel, exit
}

// stopServing cancels the program and checks that it exits cleanly.
func stopServing(t *testing.T, cancel func(), done <-chan int) {
	t.Helper()
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d", code)
		}
	case <-time.After(lineWait):
		t.Fatal("run did not return after cancellation")
	}
}

// lines collects what the program writes, line by line.
type lines struct {
	w  *io.PipeWriter
	ch chan string
}

func newLines(t *testing.T) *lines {
	r, w := io.Pipe()
	l := &lines{w: w, ch: make(chan string, 100)}
	go func() {
		defer close(l.ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		w.Close()
		for range l.ch { // let the reader finish
		}
	})
	return l
}

// wait returns the submatches of the first line matching re, skipping
// others.
func (l *lines) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.NewTimer(lineWait)
	defer timeout.Stop()
	for {
		select {
		case s, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended before a line matching %s", re)
			}
			if m := re.FindStringSubmatch(s); m != nil {
				return m
			}
		case <-timeout.C:
			t.Fatalf("no line matching %s within %v", re, lineWait)
		}
	}
}

func with(env map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range env {
		if key != k {
			out[key] = val
		}
	}
	return out
}

func without(env map[string]string, k string) map[string]string {
	out := map[string]string{}
	for key, val := range env {
		if key != k {
			out[key] = val
		}
	}
	return out
}

func createChat(conv, id, name string) amojo.CreateChatRequest {
	return amojo.CreateChatRequest{ConversationID: conv, User: amojo.Participant{ID: id, Name: name}}
}

// TestServerTimeouts: the receiver's server bounds every phase of a
// connection, so that slow or idle clients cannot hold it open, and leaves
// the handler time to read the body and answer.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	r, err := listen("127.0.0.1:0", amojotest.DefaultChannelSecret, nil, &echoer{out: io.Discard}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	s := r.srv
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": s.ReadHeaderTimeout, "ReadTimeout": s.ReadTimeout,
		"WriteTimeout": s.WriteTimeout, "IdleTimeout": s.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s not set", name)
		}
	}
	if s.ReadTimeout < s.ReadHeaderTimeout+amojo.DefaultWebhookReadTimeout {
		t.Errorf("ReadTimeout %v leaves the body less than the handler's %v", s.ReadTimeout, amojo.DefaultWebhookReadTimeout)
	}
	if s.WriteTimeout <= amojo.DefaultWebhookReadTimeout+amojo.DefaultWebhookSyncTimeout {
		t.Errorf("WriteTimeout %v would cut the answer of a synchronous handler short", s.WriteTimeout)
	}
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes %d", s.MaxHeaderBytes)
	}
}

// TestFormattingHidesSecret: the program's configuration prints without the
// channel secret or the token, by value and by pointer.
func TestFormattingHidesSecret(t *testing.T) {
	t.Parallel()
	const secret, token = "5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189", "long-lived-token-value"
	cfg, _, ok := parseConfig([]string{"-addr", "127.0.0.1:0"}, func(k string) string {
		return map[string]string{"AMOJO_CHANNEL_ID": "ch", "AMOJO_CHANNEL_SECRET": secret, "AMOCRM_BASE_URL": "https://example.amocrm.ru", "AMOCRM_TOKEN": token}[k]
	}, io.Discard)
	if !ok || cfg.Secret != secret {
		t.Fatal("configuration refused")
	}
	var logs bytes.Buffer
	for _, v := range []any{cfg, &cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&logs, verb+"\n", v)
		}
		slog.New(slog.NewTextHandler(&logs, nil)).Info("v", "v", v)
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("v", "v", v)
	}
	if s := logs.String(); strings.Contains(s, secret) || strings.Contains(s, token) {
		t.Errorf("a secret shows:\n%s", s)
	}
}
