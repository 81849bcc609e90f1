package amojo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary runs as a child process of a test when
// AMOJO_INBOX_CHILD names a role; TestMain then runs the role instead of
// the tests.
const (
	envInboxChild = "AMOJO_INBOX_CHILD"
	envInboxPath  = "AMOJO_INBOX_PATH"
	envInboxN     = "AMOJO_INBOX_N"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envInboxChild); role != "" {
		os.Exit(inboxChild(role))
	}
	os.Exit(m.Run())
}

// childEvent is the n-th event a process appends for scope, received now;
// its id depends on scope and n only.
func childEvent(scope string, n int) InboxEvent {
	body := fmt.Appendf(nil, `{"account_id":"acc","time":1700000000,"message":{"message":{"id":"%s-%d","type":"text","text":"hi"}}}`, scope, n)
	return NewInboxEvent(scope, body, "sig", time.Now())
}

// inboxChild is a process sharing the FileInbox at $AMOJO_INBOX_PATH.
//
//	deliver  appends $AMOJO_INBOX_N events of its own scope, delivers every
//	         event printing "handled ID" for each, until stdin closes
//	hang     appends one event and delivers it with a callback that prints
//	         "got ID" and never returns
func inboxChild(role string) int {
	in, err := NewFileInbox(os.Getenv(envInboxPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer in.Close()
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	fn := func(ctx context.Context, ev *WebhookEvent) error {
		id, _ := InboxEventIDFrom(ctx)
		if role == "hang" {
			say("got %s", id)
			<-ctx.Done()
			return ctx.Err()
		}
		say("handled %s", id)
		return nil
	}
	d, err := NewInboxDelivery(in, fn, WithDeliveryWorkers(3), WithDeliveryPollInterval(5*time.Millisecond),
		WithDeliveryErrorHandler(func(ev *InboxEvent, err error) { fmt.Fprintln(os.Stderr, "error:", err) }))
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
		if _, err := d.Append(context.Background(), childEvent(scope, i)); err != nil {
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

// tally counts the "handled ID" lines of child processes.
type tally struct {
	mu       sync.Mutex
	seen     map[string]int
	perChild []int
	total    int
	changed  chan struct{}
}

func newTally() *tally {
	return &tally{seen: make(map[string]int), changed: make(chan struct{}, 1)}
}

func (ty *tally) add(child int, line string) {
	id, ok := strings.CutPrefix(line, "handled ")
	if !ok {
		return
	}
	ty.mu.Lock()
	for len(ty.perChild) <= child {
		ty.perChild = append(ty.perChild, 0)
	}
	ty.seen[id]++
	ty.perChild[child]++
	ty.total++
	ty.mu.Unlock()
	select {
	case ty.changed <- struct{}{}:
	default:
	}
}

// wait waits until want lines are counted, failing t after deadline.
func (ty *tally) wait(t *testing.T, want int, deadline time.Duration) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		ty.mu.Lock()
		total, distinct, per := ty.total, len(ty.seen), fmt.Sprint(ty.perChild)
		ty.mu.Unlock()
		if total >= want {
			t.Logf("events handled per process: %s", per)
			return
		}
		select {
		case <-ty.changed:
		case <-timeout:
			t.Fatalf("after %v: %d of %d events handled (%d distinct), per process %s", deadline, total, want, distinct, per)
		}
	}
}

// check reports every id of want not handled exactly once, and any other.
func (ty *tally) check(t *testing.T, want map[string]bool) {
	t.Helper()
	ty.mu.Lock()
	defer ty.mu.Unlock()
	for id := range want {
		if n := ty.seen[id]; n != 1 {
			t.Errorf("event %s handled %d times, want once", id, n)
		}
	}
	for id := range ty.seen {
		if !want[id] {
			t.Errorf("event %s handled, but never appended", id)
		}
	}
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string   // its stdout lines not counted by a tally
	done  chan struct{} // closed when its stdout ends
}

// startChild runs the test binary in role with env; its "handled" lines go
// to ty (when not nil), the others to lines.
func startChild(t *testing.T, ty *tally, n int, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{envInboxChild + "=" + role}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ty != nil && strings.HasPrefix(sc.Text(), "handled ") {
				ty.add(n, sc.Text())
				continue
			}
			select {
			case c.lines <- sc.Text():
			default: // nobody listens
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// stop closes the child's stdin and waits for it to exit cleanly, and for
// its last line to be read.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	<-c.done
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child %d: %v", c.cmd.Process.Pid, err)
	}
}
