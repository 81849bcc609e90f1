package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckpointStateApply(t *testing.T) {
	t.Parallel()
	var s CheckpointState
	s.Apply(CheckpointEntry{ScopeID: "s", ChatID: "chat"})
	s.Apply(CheckpointEntry{ContactID: 7})
	s.Apply(CheckpointEntry{ContactID: 7, Linked: true})
	s.Apply(CheckpointEntry{MsgID: "m-1"})
	s.Apply(CheckpointEntry{MsgID: "m-2"})
	s.Apply(CheckpointEntry{MsgID: "m-1"})
	want := CheckpointState{ScopeID: "s", ChatID: "chat", ContactID: 7, Linked: true, Sent: []string{"m-1", "m-2"}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("state = %+v", s)
	}
	s.Apply(CheckpointEntry{Done: true, Digest: "d"})
	want = CheckpointState{ScopeID: "s", ChatID: "chat", ContactID: 7, Linked: true, Done: true, Digest: "d"}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("done state = %+v", s)
	}
	s.Apply(CheckpointEntry{MsgID: "m-3"})
	if s.Done || s.Digest != "" || !reflect.DeepEqual(s.Sent, []string{"m-3"}) {
		t.Fatalf("after more messages: %+v", s)
	}
	// A contact asked for is pending until its id or a refusal is recorded.
	var p CheckpointState
	p.Apply(CheckpointEntry{ContactPending: true})
	if !p.ContactPending {
		t.Fatal("not pending")
	}
	p.Apply(CheckpointEntry{ContactNotCreated: true})
	if p.ContactPending {
		t.Fatal("still pending after a refusal")
	}
	p.Apply(CheckpointEntry{ContactPending: true})
	p.Apply(CheckpointEntry{ContactID: 9})
	if p.ContactPending || p.ContactID != 9 {
		t.Fatalf("after the id: %+v", p)
	}
}

func TestFileCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	cp, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := cp.Load(ctx, "c-1"); err != nil || !reflect.DeepEqual(st, CheckpointState{}) {
		t.Fatalf("empty: %+v %v", st, err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("c-%d", i%4)
			if err := cp.Record(ctx, id, CheckpointEntry{MsgID: fmt.Sprintf("m-%d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := cp.Record(ctx, "c-1", CheckpointEntry{ScopeID: "s", ChatID: "chat-1", ContactID: 5, Linked: true}); err != nil {
		t.Fatal(err)
	}
	before, _ := cp.Load(ctx, "c-1")
	if len(before.Sent) != 5 || before.ChatID != "chat-1" {
		t.Fatalf("state = %+v", before)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := cp.Record(ctx, "c-1", CheckpointEntry{MsgID: "late"}); err == nil {
		t.Fatal("record after close succeeded")
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 21 {
		t.Fatalf("%d lines:\n%s", n, data)
	}

	cp2, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp2.Close()
	after, _ := cp2.Load(ctx, "c-1")
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("reloaded %+v, want %+v", after, before)
	}
}

func TestFileCheckpointTornLine(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	full := `{"id":"c-1","scope":"s","chat":"chat-1"}` + "\n" + `{"id":"c-1","msgid":"m-1"}` + "\n"
	tests := []struct {
		name, tail string
		sent       []string
		wantFile   string
	}{
		{"torn json", `{"id":"c-1","ms`, []string{"m-1"}, full},
		{"torn before newline", `{"id":"c-1","msgid":"m-2"}`, []string{"m-1", "m-2"}, full + `{"id":"c-1","msgid":"m-2"}` + "\n"},
		{"clean", ``, []string{"m-1"}, full},
		{"blank lines", "\n\n", []string{"m-1"}, full + "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			if err := os.WriteFile(path, []byte(full+tt.tail), 0o644); err != nil {
				t.Fatal(err)
			}
			cp, err := NewFileCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := cp.Load(ctx, "c-1")
			if st.ChatID != "chat-1" || !reflect.DeepEqual(st.Sent, tt.sent) {
				t.Errorf("state = %+v", st)
			}
			if err := cp.Record(ctx, "c-1", CheckpointEntry{MsgID: "m-9"}); err != nil {
				t.Fatal(err)
			}
			cp.Close()
			data, _ := os.ReadFile(path)
			if want := tt.wantFile + `{"id":"c-1","msgid":"m-9"}` + "\n"; string(data) != want {
				t.Errorf("file\n%s\nwant\n%s", data, want)
			}
		})
	}
}

func TestFileCheckpointCorrupt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	content := `{"id":"c-1","chat":"x"}` + "\n" + "garbage\n" + `{"id":"c-1","msgid":"m"}` + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewFileCheckpoint(path)
	if err == nil || !strings.Contains(err.Error(), "line 2 is not a checkpoint entry") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != content {
		t.Fatal("a corrupt checkpoint was changed")
	}
	if _, err := NewFileCheckpoint(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Fatal("opened a checkpoint in a missing directory")
	}
}

func TestMemoryCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cp := NewMemoryCheckpoint()
	if err := cp.Record(ctx, "c", CheckpointEntry{MsgID: "m"}); err != nil {
		t.Fatal(err)
	}
	st, _ := cp.Load(ctx, "c")
	st.Sent[0] = "changed"
	again, _ := cp.Load(ctx, "c")
	if again.Sent[0] != "m" {
		t.Fatal("Load returned shared state")
	}
}

func FuzzFileCheckpointLoad(f *testing.F) {
	f.Add([]byte(`{"id":"c-1","chat":"x"}` + "\n" + `{"id":"c-1","msgid":"m"}`))
	f.Add([]byte("\n\n{\n"))
	f.Add([]byte(`{"id":"c-1","chat":"x"}` + "\n" + `{"id":"c-1","ms`))
	f.Add([]byte(`{"conversation_id":"c-1","messages":[]}` + "\n"))
	f.Add([]byte(`{"id":"c-1","sent":["a","b"],"contact_pending":true}` + "\n" + `{"id":"c-1"} {`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cp, err := NewFileCheckpoint(path)
		if err != nil {
			// Refused: left as it was.
			if now, _ := os.ReadFile(path); !bytes.Equal(now, data) {
				t.Fatalf("refused (%v), yet changed to %q", err, now)
			}
			return
		}
		cp.noSync = true // fsync makes each run slow on a busy disk
		if err := cp.Record(t.Context(), "fuzz", CheckpointEntry{MsgID: "m"}); err != nil {
			t.Fatal(err)
		}
		cp.Close()
		// What it wrote loads again, with the new entry.
		cp2, err := NewFileCheckpoint(path)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		cp2.noSync = true
		defer cp2.Close()
		st, _ := cp2.Load(t.Context(), "fuzz")
		if !slices.Contains(st.Sent, "m") {
			t.Fatalf("lost the entry: %+v", st)
		}
	})
}

func TestFileCheckpointLock(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	cp, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second run on the same file (flock locks belong to the open file,
	// so this conflicts within one process too) is refused.
	cp2, err := NewFileCheckpoint(path)
	if err == nil {
		cp2.Close()
		t.Fatal("second open of a checkpoint in use succeeded")
	}
	if want := "amojo: checkpoint " + path + " is in use by another run"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if err := cp.Record(t.Context(), "c-1", CheckpointEntry{MsgID: "m-1"}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: free again.
	cp3, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp3.Close()
	if st, _ := cp3.Load(t.Context(), "c-1"); !slices.Equal(st.Sent, []string{"m-1"}) {
		t.Errorf("state %+v", st)
	}
}

func TestFileCheckpointCompactsOnOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	// A done conversation with 1000 message lines, as a long run leaves it.
	var b strings.Builder
	entries := []fileEntry{{ID: "c-1", CheckpointEntry: CheckpointEntry{ScopeID: "s", ChatID: "chat-1"}}}
	entries = append(entries, fileEntry{ID: "c-1", CheckpointEntry: CheckpointEntry{ContactID: 4, Linked: true}})
	for i := range 1000 {
		entries = append(entries, fileEntry{ID: "c-1", CheckpointEntry: CheckpointEntry{MsgID: fmt.Sprintf("m-%d", i)}})
	}
	entries = append(entries, fileEntry{ID: "c-1", CheckpointEntry: CheckpointEntry{Done: true, Digest: "d"}})
	want := stateMap{}
	for _, e := range entries {
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
		applyState(want, e.ID, e.CheckpointEntry)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Fatalf("compacted file has %d lines:\n%s", n, data)
	}
	if !reflect.DeepEqual(cp.states, want) {
		t.Errorf("states %+v, want %+v", cp.states["c-1"], want["c-1"])
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
	if runtime.GOOS != "windows" {
		// The compacted file is still locked.
		if cp2, err := NewFileCheckpoint(path); err == nil || !strings.Contains(err.Error(), "in use by another run") {
			if cp2 != nil {
				cp2.Close()
			}
			t.Errorf("second open: %v", err)
		}
	}
	// A conversation under way keeps its msgids; later records append.
	for i := range 3 {
		if err := cp.Record(t.Context(), "c-2", CheckpointEntry{MsgID: fmt.Sprintf("x-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cp.Record(t.Context(), "c-3", CheckpointEntry{ContactPending: true}); err != nil {
		t.Fatal(err)
	}
	cp.Close()
	for _, id := range []string{"c-2", "c-3"} {
		applyState(want, id, CheckpointEntry{})
	}
	want["c-2"].Sent = []string{"x-0", "x-1", "x-2"}
	want["c-3"].ContactPending = true
	cp, err = NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cp.states, want) {
		t.Errorf("after reopening: %+v", cp.states)
	}
	cp.Close()
	// Force a compaction of that state too and load it back.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	nf, err := compactCheckpoint(f, path, want)
	if err != nil {
		t.Fatal(err)
	}
	nf.Close()
	cp, err = NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if !reflect.DeepEqual(cp.states, want) {
		t.Errorf("after a compaction of states under way: %+v", cp.states)
	}
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n") != 3 {
		t.Errorf("file:\n%s", data)
	}
}

// TestCheckpointStateApplyCostDoesNotGrow: recording a msgid costs about
// the same at the 50 000th message of a conversation as at its first ones
// (a scan of Sent made it grow with the length: quadratic for the whole
// conversation, in the checkpoint, in the importer's copy and on replay,
// which all use Apply). Each side is timed three times after a GC and the
// fastest kept; a scan is some hundred times slower at 50 000, an index
// a few times at most (the index grows).
func TestCheckpointStateApplyCostDoesNotGrow(t *testing.T) {
	t.Parallel()
	const long, batch = 50_000, 1_000
	ids := make([]string, long+batch)
	for i := range ids {
		ids[i] = fmt.Sprintf("m-%08d", i)
	}
	apply := func(s *CheckpointState, from, to int) {
		for _, id := range ids[from:to] {
			s.Apply(CheckpointEntry{MsgID: id})
		}
	}
	// fastest times the batch from..to on a state made by setup, three times.
	fastest := func(setup func() CheckpointState, from, to int) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 3 {
			s := setup()
			runtime.GC()
			start := time.Now()
			apply(&s, from, to)
			best = min(best, time.Since(start))
		}
		return best
	}
	short := fastest(func() CheckpointState { return CheckpointState{} }, 0, batch)
	var s CheckpointState
	apply(&s, 0, long)
	grown := fastest(func() CheckpointState {
		c := s
		c.Sent = slices.Grow(slices.Clip(c.Sent), batch) // its own array, with room
		c.Apply(CheckpointEntry{MsgID: ids[0]})          // a repeat: indexes this copy
		return c
	}, long, long+batch)
	t.Logf("%d msgids: %v at the start, %v after %d", batch, short, grown, long)
	if grown > 20*short+2*time.Millisecond {
		t.Errorf("%d msgids recorded in %v after %d, in %v at the start: the cost grows with the conversation", batch, grown, long, short)
	}
	if len(s.Sent) != long || !slices.Equal(s.Sent[:3], ids[:3]) {
		t.Errorf("Sent has %d msgids", len(s.Sent))
	}
	// Repeats are still refused, and a copy records without touching the
	// original.
	c := s
	c.Sent = slices.Clip(c.Sent)
	c.Apply(CheckpointEntry{MsgID: ids[long-1]})
	c.Apply(CheckpointEntry{MsgID: "new"})
	s.Apply(CheckpointEntry{MsgID: "other"})
	if len(c.Sent) != long+1 || c.Sent[long] != "new" || len(s.Sent) != long+1 || s.Sent[long] != "other" {
		t.Errorf("copy %d %q, original %d %q", len(c.Sent), c.Sent[len(c.Sent)-1], len(s.Sent), s.Sent[len(s.Sent)-1])
	}
	c.Apply(CheckpointEntry{MsgID: "other"})
	s.Apply(CheckpointEntry{MsgID: "new"})
	if len(c.Sent) != long+2 || len(s.Sent) != long+2 {
		t.Errorf("after crossing: copy %d, original %d", len(c.Sent), len(s.Sent))
	}
}

// TestFileCheckpointRefusesWhatIsNotACheckpoint: only a torn last line (no
// newline, the beginning of an entry) is dropped. Any other line that is
// not an entry is an error naming the file and the line, and the file is
// left byte for byte: a conversation file given as the checkpoint was
// emptied before.
func TestFileCheckpointRefusesWhatIsNotACheckpoint(t *testing.T) {
	t.Parallel()
	conv := `{"conversation_id":"c-1","client":{"id":"u-1","name":"Ann"},"messages":[{"msgid":"m-1","time":"2024-01-02T03:04:05Z","from":"client","message":{"type":"text","text":"hi"}}]}`
	entry := `{"id":"c-1","chat":"x"}` + "\n"
	tests := []struct {
		name, content, want string
	}{
		{"a conversation file", conv + "\n", "is not a checkpoint file: line 1 is not a checkpoint entry"},
		{"a conversation without newline", conv, "is not a checkpoint file: line 1 is not a checkpoint entry"},
		{"an indented document", "{\n  \"id\": \"c-1\",\n  \"chat\": \"x\"\n}\n", "is not a checkpoint file: line 1 is not a checkpoint entry"},
		{"last line invalid with its newline", entry + `{"id":"c-1","msgid":` + "\n", ": line 2 is not a checkpoint entry"},
		{"last line not an entry", entry + "hello", ": line 2 is not a checkpoint entry"},
		{"last line more than an entry", entry + `{"id":"c-1","msgid":"m"} {`, ": line 2 is not a checkpoint entry"},
		{"unknown key", entry + `{"id":"c-1","conversation_id":"c-1"}` + "\n", ": line 2 is not a checkpoint entry"},
		{"no id", entry + `{"msgid":"m"}` + "\n", ": line 2 is not a checkpoint entry"},
		{"blank lines, then not an entry", "\n\n" + conv + "\n", "is not a checkpoint file: line 3 is not a checkpoint entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "cp.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			cp, err := NewFileCheckpoint(path)
			if err == nil {
				cp.Close()
				t.Fatal("opened")
			}
			if want := "amojo: checkpoint " + path; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want %q … %q", err, want, tt.want)
			}
			if data, _ := os.ReadFile(path); string(data) != tt.content {
				t.Errorf("file changed to %q", data)
			}
		})
	}
	// What a kill leaves, from the first byte of an entry on, is dropped.
	for _, torn := range []string{`{`, `{"i`, `{"id":"`, `{"id":"c-2`, `{"id":"c-2","msgid":"m-`, `{"id":"c-2","contact_pending":tr`} {
		path := filepath.Join(t.TempDir(), "cp.jsonl")
		if err := os.WriteFile(path, []byte(entry+torn), 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := NewFileCheckpoint(path)
		if err != nil {
			t.Fatalf("torn %q: %v", torn, err)
		}
		cp.Close()
		if data, _ := os.ReadFile(path); string(data) != entry {
			t.Errorf("torn %q: file %q", torn, data)
		}
	}
}

// TestFileCheckpointFileSafety: a new checkpoint is readable by its owner
// only; a symbolic link is refused (compaction would replace the link by a
// file and leave its target stale); compaction files left by a killed run
// are removed.
func TestFileCheckpointFileSafety(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no unix modes or symbolic links")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cp.jsonl")
	cp, err := NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Record(t.Context(), "79151112233", CheckpointEntry{ChatID: "x"}); err != nil {
		t.Fatal(err)
	}
	cp.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new checkpoint mode %v %v, want 0600", fi.Mode(), err)
	}

	// Symbolic links, to the checkpoint or to nothing yet.
	content, _ := os.ReadFile(path)
	for name, target := range map[string]string{"link.jsonl": path, "dangling.jsonl": filepath.Join(dir, "none.jsonl")} {
		link := filepath.Join(dir, name)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		cp, err := NewFileCheckpoint(link)
		if err == nil {
			cp.Close()
			t.Fatalf("%s: opened", name)
		}
		if want := "amojo: checkpoint " + link + " is a symbolic link; give the file it points to"; err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a link: %v %v", name, fi.Mode(), err)
		}
	}
	if data, _ := os.ReadFile(path); !slices.Equal(data, content) {
		t.Errorf("target changed: %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.jsonl")); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
	if _, err := NewFileCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") && !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}

	// Compaction files of a killed run go; look-alikes stay.
	swept := []string{"cp.jsonl.compact-123456", "cp.jsonl.compact-9"}
	kept := []string{"cp.jsonl.compact-notes", "cp.jsonl.compact-", "other.jsonl.compact-1", "cp.jsonl.old"}
	for _, name := range slices.Concat(swept, kept) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"id":"c-1"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp, err = NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, name := range swept {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s removed: %v", name, err)
		}
	}
}
