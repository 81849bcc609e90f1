//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/internal/killtest"
	"github.com/amojo-go/amojo/internal/testscale"
)

// killPlan says when the parent kills the child: right after the server has
// handled the child's n-th request (its answer is lost), before it handles
// it (it never arrives), or right after it has handled the next contact
// creation (the answer amoCRM cannot take back is lost).
type killPlan struct {
	n        int
	before   bool
	contacts bool
}

func (p killPlan) String() string {
	switch {
	case p.contacts:
		return "after a contact creation"
	case p.before:
		return fmt.Sprintf("before request %d", p.n)
	}
	return fmt.Sprintf("after request %d", p.n)
}

// isContactCreation reports amoCRM's request creating contacts.
func isContactCreation(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/api/v4/contacts"
}

// runChild runs the program in a child process behind k with args and env,
// killing it as plan says (nil: never), and returns whether it was killed,
// its exit status and its output.
func runChild(t *testing.T, k *killtest.Proxy, plan *killPlan, env map[string]string, args ...string) (killed bool, code int, out string) {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestImportSurvivesKills$")
	cmd.Env = append(os.Environ(), "IMPORT_CONVERSATION_KILL_CHILD="+string(argv))
	for key, v := range env {
		cmd.Env = append(cmd.Env, key+"="+v)
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	var kp killtest.Plan
	if plan != nil {
		kp = killtest.Plan{At: plan.n, Before: plan.before}
		if plan.contacts {
			kp.After = isContactCreation
			if !plan.before {
				kp.At = 0
			}
		}
	}
	why, err := k.Run(cmd, kp)
	killed = why != ""
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if killed && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
			t.Fatalf("child ended with %v, not by the kill", err)
		}
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return killed, code, output.String()
}

// TestImportSurvivesKills imports 200 conversations with a contact each,
// killing the program with SIGKILL ten times at random points (three of
// them right after amoCRM created a chunk's contacts, before the answer
// reached it, while contacts are left to create), then lets a last run
// finish. Nothing may be lost or duplicated, no conversation may need
// manual action, and amoCRM must hold exactly one contact per conversation.
func TestImportSurvivesKills(t *testing.T) {
	if args := os.Getenv("IMPORT_CONVERSATION_KILL_CHILD"); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			panic(err)
		}
		os.Exit(run(context.Background(), argv, os.Getenv, os.Stdout, os.Stderr))
	}
	if testing.Short() {
		t.Skip("kills a child process ten times")
	}
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	k := &killtest.Proxy{Next: srv}
	ts := httptest.NewServer(k)
	t.Cleanup(ts.Close)
	env := map[string]string{
		"AMOJO_CHANNEL_ID": srv.Channel().ID, "AMOJO_CHANNEL_SECRET": srv.Channel().Secret,
		"AMOJO_BASE_URL": ts.URL, "AMOCRM_BASE_URL": ts.URL, "AMOCRM_TOKEN": srv.Token(),
		"AMOJO_BOT_ID": srv.Channel().Bot.ID,
	}
	convs := testscale.Size(t, 200, 80)
	file := writeFile(t, "many.jsonl", lines(t, convs))
	cp := filepath.Join(t.TempDir(), "cp.jsonl")
	args := []string{"-file", file, "-checkpoint", cp}

	rng := rand.New(rand.NewPCG(7, 11))
	plans := make([]*killPlan, testscale.Size(t, 10, 4))
	for i := range plans {
		// A run of the whole import takes about 1 000 requests.
		plans[i] = &killPlan{n: 1 + rng.IntN(100), before: rng.IntN(2) == 0}
	}
	for _, i := range rng.Perm(len(plans))[:testscale.Size(t, 3, 0)] {
		plans[i].contacts = true
	}
	var kills []string
	for _, p := range plans {
		if p.contacts && len(srv.Contacts()) == convs {
			p.contacts = false // no contact left to create: kill at request n
		}
		killed, code, out := runChild(t, k, p, env, args...)
		if !killed {
			t.Fatalf("run planned to be killed %s ended by itself with %d:\n%s", p, code, out)
		}
		kills = append(kills, p.String())
	}
	_, code, out := runChild(t, k, nil, env, args...)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("imported %d of %d conversations", convs, convs)) {
		t.Fatalf("last run: exit %d\n%s", code, out)
	}

	// Every chat holds its messages once each, in order; each is linked to
	// a contact of its own; amoCRM holds one contact per conversation.
	linkOf := map[string]int{}
	for _, l := range srv.Links() {
		linkOf[l.ChatID] = l.ContactID
	}
	owner := map[int]string{}
	for i := range convs {
		id := fmt.Sprintf("c-%d", i)
		chat, ok := srv.ChatByConversation(srv.ScopeID(), id)
		if !ok {
			t.Errorf("%s: no chat", id)
			continue
		}
		var got []string
		for _, m := range chat.Messages {
			got = append(got, m.ClientID)
		}
		if want := []string{id + "-1", id + "-2"}; !slices.Equal(got, want) {
			t.Errorf("%s: messages %v, want %v", id, got, want)
		}
		contact := linkOf[chat.ID]
		if contact == 0 {
			t.Errorf("%s: not linked", id)
		} else if other, dup := owner[contact]; dup {
			t.Errorf("contact %d linked to %s and %s", contact, other, id)
		}
		owner[contact] = id
	}
	contacts := len(srv.Contacts())
	if contacts != convs {
		t.Errorf("%d contacts created for %d conversations", contacts, convs)
	}
	t.Logf("%d kills (%s); then one run imported all %d conversations with no failure (none needs manual action); %d contacts created for %d conversations; %d contact searches",
		len(kills), strings.Join(kills, ", "), convs, contacts, convs, len(srv.RequestsTo(amojotest.RouteFindContacts)))
}
