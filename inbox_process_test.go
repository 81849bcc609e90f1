//go:build unix

package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
)

// The test binary runs as a child process of a test when
// AMOJO_INBOX_CHILD names a role; TestMain then runs the role instead of
// the tests.
const (
	envInboxChild = "AMOJO_INBOX_CHILD"
	envInboxPath  = "AMOJO_INBOX_PATH"
	envInboxN     = "AMOJO_INBOX_N"
	envInboxCount = "AMOJO_INBOX_COUNT"
)

func TestMain(m *testing.M) {
	switch role := os.Getenv(envInboxChild); role {
	case "":
	case "receiver":
		os.Exit(fileReceiver())
	default:
		os.Exit(inboxChild(role))
	}
	os.Exit(m.Run())
}

// fileReceiver is a webhook receiver process (inboxtest.ServeReceiver) with
// the FileInbox at $AMOJO_INBOX_PATH, recording each event it handles as a
// line of the file $AMOJO_INBOX_COUNT.
func fileReceiver() int {
	in, err := amojo.NewFileInbox(os.Getenv(envInboxPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer in.Close()
	return inboxtest.ServeReceiver(in, func(_ context.Context, id string) error {
		f, err := os.OpenFile(os.Getenv(envInboxCount), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		_, err = f.WriteString(id + "\n")
		if err == nil {
			err = f.Sync()
		}
		return errors.Join(err, f.Close())
	})
}

// TestWebhookInboxFileSurvivesSIGKILL: a receiver process with a file inbox
// is killed after its 200s and before its callbacks completed; restarted on
// the same file, it delivers every event once.
func TestWebhookInboxFileSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, count := filepath.Join(dir, "inbox.jsonl"), filepath.Join(dir, "handled")
	inboxtest.RunKillAfterAnswer(t, func(t *testing.T) map[string]int {
		b, err := os.ReadFile(count)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		got := map[string]int{}
		for id := range strings.FieldsSeq(string(b)) {
			got[id]++
		}
		return got
	}, envInboxChild+"=receiver", envInboxPath+"="+path, envInboxCount+"="+count)
}

// procEvent is the n-th event a process appends for scope, received now;
// its id depends on scope and n only.
func procEvent(scope string, n int) amojo.InboxEvent {
	body := fmt.Appendf(nil, `{"account_id":"acc","time":1700000000,"message":{"message":{"id":"%s-%d","type":"text","text":"hi"}}}`, scope, n)
	return amojo.NewInboxEvent(scope, body, "sig", time.Now())
}

func openShared(t *testing.T, path string, opts ...amojo.InboxOption) *amojo.FileInbox {
	t.Helper()
	in, err := amojo.NewFileInbox(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// inboxChild is a process sharing the FileInbox at $AMOJO_INBOX_PATH.
//
//	deliver  appends $AMOJO_INBOX_N events of its own scope, delivers every
//	         event printing "handled ID" for each, until stdin closes
//	hang     appends one event and delivers it with a callback that prints
//	         "got ID" and never returns
func inboxChild(role string) int {
	in, err := amojo.NewFileInbox(os.Getenv(envInboxPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer in.Close()
	say := inboxtest.NewSayer()
	fn := func(ctx context.Context, ev *amojo.WebhookEvent) error {
		id, _ := amojo.InboxEventIDFrom(ctx)
		if role == "hang" {
			say("got %s", id)
			<-ctx.Done()
			return ctx.Err()
		}
		say("handled %s", id)
		return nil
	}
	d, err := amojo.NewInboxDelivery(in, fn, amojo.WithDeliveryWorkers(3), amojo.WithDeliveryPollInterval(5*time.Millisecond),
		amojo.WithDeliveryErrorHandler(func(ev *amojo.InboxEvent, err error) { fmt.Fprintln(os.Stderr, "error:", err) }))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n := 1
	if role == "deliver" {
		fmt.Sscan(os.Getenv(envInboxN), &n)
	}
	scope := fmt.Sprintf("child-%d", os.Getpid())
	for i := range n {
		if _, err := d.Append(context.Background(), procEvent(scope, i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it (or kills us)
	if err := d.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// TestFileInboxTwoProcesses runs two processes that append events to one
// file and deliver them, while this one appends more: every event is
// handled once, by one of them.
func TestFileInboxTwoProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openShared(t, path)
	const own, mine = 100, 200
	ty := inboxtest.NewTally()
	var children []*inboxtest.Child
	for i := range 2 {
		children = append(children, inboxtest.StartChild(t, ty, i, envInboxChild+"=deliver", envInboxPath+"="+path, fmt.Sprintf("%s=%d", envInboxN, own)))
	}
	want := make(map[string]bool)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 4 {
		wg.Go(func() {
			for i := range mine / 4 {
				ev := procEvent(fmt.Sprintf("parent-%d", g), i)
				if _, err := in.Append(context.Background(), ev); err != nil {
					t.Error(err)
				}
				mu.Lock()
				want[ev.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, c := range children {
		for i := range own {
			want[procEvent(fmt.Sprintf("child-%d", c.Cmd.Process.Pid), i).ID] = true
		}
	}
	ty.Wait(t, len(want), time.Minute)
	for _, c := range children {
		c.Stop(t)
	}
	ty.Check(t, want)
	// Nothing is left to deliver, even after every lease.
	later := openShared(t, path, amojo.WithInboxClock(func() time.Time { return time.Now().Add(time.Hour) }))
	if evs, err := later.Claim(t.Context(), 10, time.Minute); err != nil || len(evs) != 0 {
		t.Errorf("left in the inbox: %d events, %v", len(evs), err)
	}
}

// TestFileInboxEventSurvivesSIGKILL kills a process whose callback got an
// event it appended, before the callback returns: the next process delivers
// the event once the lease has expired.
func TestFileInboxEventSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	c := inboxtest.StartChild(t, nil, 0, envInboxChild+"=hang", envInboxPath+"="+path)
	var id string
	for l := range c.Lines {
		if got, ok := strings.CutPrefix(l, "got "); ok {
			id = got
			break
		}
	}
	if id == "" {
		t.Fatal("the child ended before it got its event")
	}
	if err := c.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.Cmd.Wait()

	// A restart: the clock is past the dead process's lease.
	in := openShared(t, path, amojo.WithInboxClock(func() time.Time { return time.Now().Add(amojo.DefaultDeliveryLease + time.Second) }))
	got := make(chan *amojo.WebhookEvent, 1)
	d, err := amojo.NewInboxDelivery(in, func(ctx context.Context, ev *amojo.WebhookEvent) error {
		if gotID, _ := amojo.InboxEventIDFrom(ctx); gotID == id {
			got <- ev
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Kind != amojo.EventMessage || !strings.HasPrefix(ev.ScopeID, "child-") || ev.Message.Message.ID != ev.ScopeID+"-0" {
			t.Errorf("delivered %+v", ev)
		}
	case <-time.After(time.Minute):
		t.Fatal("the event of the killed process was not delivered")
	}
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if evs, err := in.Claim(t.Context(), 10, time.Minute); err != nil || len(evs) != 0 {
		t.Errorf("after delivery: %d events left, %v", len(evs), err)
	}
}
