//go:build unix

package amojo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openFileInbox(t *testing.T, path string, opts ...InboxOption) *FileInbox {
	t.Helper()
	in, err := NewFileInbox(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func appendN(t *testing.T, in Inbox, scope string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		ev := childEvent(scope, i)
		if added, err := in.Append(t.Context(), ev); err != nil || !added {
			t.Fatalf("Append %d = %v, %v", i, added, err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestFileInboxTornLastRecordIsIgnoredThenCut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openFileInbox(t, path)
	appendN(t, in, "s", 2)
	in.Close()
	// A kill in the middle of the write of a third record.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"op":"add","id":"torn","scope":"s","bo`)
	f.Close()

	in = openFileInbox(t, path)
	if got, err := in.Claim(t.Context(), 10, time.Minute); err != nil || len(got) != 2 {
		t.Fatalf("Claim after a torn record = %d events, %v; want 2", len(got), err)
	}
	appendN(t, in, "t", 1)
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(`"torn"`)) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Errorf("the torn record was not cut before the next one:\n%s", b)
	}
	if _, err := NewFileInbox(path); err != nil {
		t.Errorf("reopening: %v", err)
	}
}

func TestFileInboxCorruptLineIsAnErrorNamingIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openFileInbox(t, path)
	appendN(t, in, "s", 2)
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	corrupt := lines[0] + "{\"op\":\"add\",\"id\":\n" + lines[1]
	if err := os.WriteFile(path+".other", []byte(corrupt), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".other", path); err != nil {
		t.Fatal(err)
	}

	_, err := NewFileInbox(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("NewFileInbox of a corrupt file: %v; want an error naming %s and line 2", err, path)
	}
	// The open inbox notices the new file and refuses to work on it.
	if _, err := in.Claim(t.Context(), 1, time.Minute); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Claim on a corrupt file: %v", err)
	}
	if _, err := in.Append(t.Context(), childEvent("s", 9)); err == nil {
		t.Error("Append on a corrupt file succeeded")
	}
	if after, _ := os.ReadFile(path); string(after) != corrupt {
		t.Errorf("the corrupt file was changed:\n%s", after)
	}
}

func TestFileInboxCompactionKeepsUndelivered(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	clk := newFakeClock()
	clk.Advance(time.Since(clk.Now()) + time.Minute) // past the events, received now
	in := openFileInbox(t, path, WithInboxClock(clk.Now))
	other := openFileInbox(t, path, WithInboxClock(clk.Now)) // another process, open before the compaction
	appendN(t, in, "s", 50)
	evs, err := in.Claim(ctx, 48, time.Minute)
	if err != nil || len(evs) != 48 {
		t.Fatalf("Claim = %d, %v", len(evs), err)
	}
	for i, ev := range evs {
		switch {
		case i < 40:
			err = in.Done(ctx, ev.ID, ev.Token)
		case i < 45: // left claimed
		default:
			err = in.Fail(ctx, ev.ID, ev.Token, InboxFailure{Reason: "gave up", Dead: true})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	before := countLines(t, path)
	ino := inode(t, path)
	if err := in.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countLines(t, path); got != 50 || before <= got {
		t.Errorf("compacted file has %d lines (from %d), want 50: 2 ready, 5 claimed, 3 dead, 40 ids delivered", got, before)
	}
	if inode(t, path) == ino {
		t.Error("compaction did not replace the file")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("compacted file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if left, _ := filepath.Glob(path + ".compact-*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	for name, x := range map[string]*FileInbox{"the other process": other, "a new process": openFileInbox(t, path, WithInboxClock(clk.Now))} {
		t.Run(name, func(t *testing.T) {
			// Each sees the same state: the compaction kept everything not delivered.
			if added, err := x.Append(ctx, childEvent("s", 0)); err != nil || added {
				t.Errorf("a delivered event appended again: %v, %v", added, err)
			}
			d, err := x.Dead(ctx, "", 10)
			if err != nil || len(d) != 3 || d[0].LastError != "gave up" {
				t.Errorf("Dead = %d events, %v", len(d), err)
			}
		})
	}
	if ready, err := other.Claim(ctx, 10, time.Minute); err != nil || len(ready) != 2 {
		t.Fatalf("ready events = %d, %v; want 2", len(ready), err)
	}
	clk.Advance(2 * time.Minute)
	expired, err := in.Claim(ctx, 10, time.Minute)
	if err != nil || len(expired) != 7 {
		t.Fatalf("after the leases: %d events, %v; want the 5 claimed and the 2 ready", len(expired), err)
	}
	for _, ev := range expired {
		if ev.Attempts != 2 {
			t.Errorf("event %s claimed %d times, want 2", ev.ID, ev.Attempts)
		}
	}
}

func TestFileInboxCompactsWhenMostlyDone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openFileInbox(t, path, WithInboxRetention(time.Nanosecond))
	in.minWaste = 20
	for i := range 100 {
		if _, err := in.Append(ctx, childEvent("s", i)); err != nil {
			t.Fatal(err)
		}
		evs, err := in.Claim(ctx, 1, time.Minute)
		if err != nil || len(evs) != 1 {
			t.Fatalf("Claim = %v, %v", evs, err)
		}
		if err := in.Done(ctx, evs[0].ID, evs[0].Token); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Append(ctx, childEvent("s", 1000)); err != nil {
		t.Fatal(err)
	}
	if n := countLines(t, path); n > 2*20+3 {
		t.Errorf("%d lines after 100 delivered events, want the file compacted", n)
	}
	reopened := openFileInbox(t, path)
	if evs, err := reopened.Claim(ctx, 10, time.Minute); err != nil || len(evs) != 1 || evs[0].ID != childEvent("s", 1000).ID {
		t.Errorf("after compactions: %d events, %v; want the one not delivered", len(evs), err)
	}
}

func TestFileInboxFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openFileInbox(t, path)
	appendN(t, in, "s", 1)
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, fi.Mode().Perm(), err)
		}
	}
}

func TestFileInboxConcurrentAppendsWriteEachEventOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in := openFileInbox(t, path)
	const events, copies = 40, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := make(map[string]int)
	for i := range events * copies {
		wg.Go(func() {
			ev := childEvent("s", i%events)
			ok, err := in.Append(t.Context(), ev)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added[ev.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(added) != events {
		t.Errorf("%d events added, want %d", len(added), events)
	}
	for id, n := range added {
		if n != 1 {
			t.Errorf("%s added %d times", id, n)
		}
	}
	if n := countLines(t, path); n != events {
		t.Errorf("%d records, want %d", n, events)
	}
}

func TestFileInboxClosed(t *testing.T) {
	t.Parallel()
	in := openFileInbox(t, filepath.Join(t.TempDir(), "inbox.jsonl"))
	in.Close()
	if _, err := in.Append(t.Context(), childEvent("s", 1)); !errors.Is(err, ErrInboxClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := in.Claim(t.Context(), 1, time.Minute); !errors.Is(err, ErrInboxClosed) {
		t.Errorf("Claim after Close: %v", err)
	}
	if err := in.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := NewFileInbox(""); err == nil {
		t.Error("NewFileInbox(\"\") did not fail")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
