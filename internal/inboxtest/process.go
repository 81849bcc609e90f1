package inboxtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tally counts the "handled ID" lines of child processes.
type Tally struct {
	mu       sync.Mutex
	seen     map[string]int
	perChild []int
	total    int
	changed  chan struct{}
}

func NewTally() *Tally {
	return &Tally{seen: make(map[string]int), changed: make(chan struct{}, 1)}
}

func (ty *Tally) add(child int, line string) {
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

// Wait waits until want lines are counted, failing t after deadline.
func (ty *Tally) Wait(t *testing.T, want int, deadline time.Duration) {
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

// Check reports every id of want not handled exactly once, and any other.
func (ty *Tally) Check(t *testing.T, want map[string]bool) {
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

// Child is a running child process.
type Child struct {
	Cmd   *exec.Cmd
	stdin io.WriteCloser
	Lines chan string   // its stdout lines not counted by a Tally
	done  chan struct{} // closed when its stdout ends
}

// StartChild runs the test binary as child number n with env added to its
// environment, running no test (its TestMain looks at env); its "handled ID"
// lines go to ty (when not nil), the others to Lines.
func StartChild(t *testing.T, ty *Tally, n int, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
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
	c := &Child{Cmd: cmd, stdin: stdin, Lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ty != nil && strings.HasPrefix(sc.Text(), "handled ") {
				ty.add(n, sc.Text())
				continue
			}
			select {
			case c.Lines <- sc.Text():
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

// Stop closes the child's stdin and waits for it to exit cleanly, and for
// its last line to be read.
func (c *Child) Stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	<-c.done
	if err := c.Cmd.Wait(); err != nil {
		t.Errorf("child %d: %v", c.Cmd.Process.Pid, err)
	}
}
