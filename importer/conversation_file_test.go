package importer_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/importer"
)

// TestImportFileStartsLongestFirst: ImportFile starts the conversations
// of the whole file longest first (in file order among equals), and its
// progress knows them all from the start.
func TestImportFileStartsLongestFirst(t *testing.T) {
	t.Parallel()
	var first *importer.Progress
	srv, im := importSetup(t, nil, importer.WithConcurrency(1), importer.WithLookahead(1), importer.WithProgress(func(p importer.Progress) {
		if first == nil {
			first = &p
		}
	}))
	convs := sized(t, 1, 5, 2, 8, 3, 5)
	data, _ := jsonLines(t, convs)
	path := filepath.Join(t.TempDir(), "convs.jsonl")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := im.ImportFile(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(startOrder(t, srv), " "), "c8-3 c5-1 c5-5 c3-4 c2-2 c1-0"; got != want {
		t.Errorf("started %s\n   want %s", got, want)
	}
	want := importer.Progress{Conversations: 6, ConversationsDone: 6, Messages: 24, MessagesSent: 24}
	if res.Progress != want {
		t.Errorf("result %+v", res.Progress)
	}
	if first == nil || first.Conversations != 6 || first.Messages != 24 || first.MessagesSent != 0 {
		t.Errorf("first progress %+v", first)
	}
	checkImported(t, srv, convs)
}

// TestImportFileReportsLinesAsReadConversations: lines that are not
// conversations fail as ImportAll of ReadConversations reports them, those
// that are not even JSON objects first, before any request; the others are
// imported.
func TestImportFileReportsLinesAsReadConversations(t *testing.T) {
	t.Parallel()
	convs := sized(t, 3, 1)
	data, _ := jsonLines(t, convs)
	good := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	invalid := strings.Replace(good[0], `"c3-0"`, `"bad"`, 1)
	invalid = strings.Replace(invalid, `"msgid":"c3-0-m1",`, ``, 1)
	file := strings.Join([]string{good[0], `{"conversation_id":"broken",`, "", invalid, good[1]}, "\n") + "\n"

	failures := func(res *importer.BatchResult) []string {
		var out []string
		for _, f := range res.Failures {
			out = append(out, f.Error())
		}
		return out
	}
	srv, im := importSetup(t, nil)
	res, err := im.ImportAll(t.Context(), importer.ReadConversations(strings.NewReader(file)))
	if err == nil || res.ConversationsDone != 2 || res.ConversationsFailed != 2 {
		t.Fatalf("ImportAll: %v %+v", err, res.Progress)
	}
	want := failures(res)

	srv2 := newServer(t)
	requestsAtFirstFailure := -1
	im2 := newImporter(t, srv2, nil, importer.WithProgress(func(p importer.Progress) {
		if p.ConversationsFailed == 1 && requestsAtFirstFailure < 0 {
			requestsAtFirstFailure = len(srv2.Requests())
		}
	}))
	res2, err := im2.ImportFile(t.Context(), strings.NewReader(file))
	if err == nil || res2.ConversationsDone != 2 || res2.ConversationsFailed != 2 || res2.Conversations != 4 {
		t.Fatalf("ImportFile: %v %+v", err, res2.Progress)
	}
	if got := failures(res2); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(want[0], "(line 2)") || !strings.Contains(want[1], `"bad" (line 4)`) {
		t.Errorf("failures %q", want)
	}
	if requestsAtFirstFailure != 0 {
		t.Errorf("%d requests before the broken line failed", requestsAtFirstFailure)
	}
	checkImported(t, srv, convs)
	checkImported(t, srv2, convs)
}

// brokenReader fails every read past the byte at.
type brokenReader struct {
	data []byte
	at   int64
}

func (b brokenReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.at {
		n := copy(p, b.data[off:b.at])
		return n, errors.New("disk on fire")
	}
	return copy(p, b.data[off:]), nil
}

// TestImportFileReadError: a read error ends the first pass, as it ends
// ReadConversations; the conversations before it are imported.
func TestImportFileReadError(t *testing.T) {
	t.Parallel()
	convs := sized(t, 2, 3, 1, 4)
	data, starts := jsonLines(t, convs)
	srv, im := importSetup(t, nil)
	res, err := im.ImportFile(t.Context(), brokenReader{data, starts[2] + 10})
	var ce *importer.ConversationError
	if !errors.As(err, &ce) || ce.Step != "read" || ce.Line != 3 || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
	if res.Conversations != 3 || res.ConversationsDone != 2 || res.ConversationsFailed != 1 {
		t.Errorf("result %+v", res.Progress)
	}
	checkImported(t, srv, convs[:2])
}

// mutableReader is a file whose content a test changes while it is read.
type mutableReader struct {
	mu   sync.Mutex
	data []byte
}

func (m *mutableReader) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return readAt(m.data, p, off)
}

// readAt is ReadAt of a file holding data.
func readAt(data, p []byte, off int64) (int, error) {
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *mutableReader) change(fn func([]byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = fn(m.data)
}

// TestImportFileChanged: a conversation whose line changed after the first
// pass fails with ErrFileChanged, naming its line, and so does one the
// file lost; the others are imported.
func TestImportFileChanged(t *testing.T) {
	t.Parallel()
	convs := sized(t, 2, 3, 1, 4)
	data, starts := jsonLines(t, convs)
	file := &mutableReader{data: data}
	var once sync.Once
	srv, im := importSetup(t, nil, importer.WithProgress(func(importer.Progress) {
		once.Do(func() { // after the first pass
			file.change(func(d []byte) []byte {
				d = bytes.Replace(d, []byte(`"message 0"`), []byte(`"message X"`), 1) // line 1
				return d[:starts[3]]                                                  // line 4 is gone
			})
		})
	}))
	res, err := im.ImportFile(t.Context(), file)
	if !errors.Is(err, importer.ErrFileChanged) || res.ConversationsDone != 2 || res.ConversationsFailed != 2 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	var lines []int
	for _, f := range res.Failures {
		if !errors.Is(f, importer.ErrFileChanged) || f.Step != "read" {
			t.Errorf("failure %v", f)
		}
		lines = append(lines, f.Line)
	}
	if len(lines) != 2 || lines[0] != 4 || lines[1] != 1 { // the longest first
		t.Errorf("failed lines %v, want [4 1]", lines)
	}
	checkImported(t, srv, convs[1:3])
}

// countingReader counts the reads of whole lines: ImportFile reads each
// conversation again, as one line, when it starts.
type countingReader struct {
	data   []byte
	starts map[int64]bool
	onLine func()
}

func (c countingReader) ReadAt(p []byte, off int64) (int, error) {
	if c.starts[off] && off+int64(len(p)) < int64(len(c.data)) && c.data[off+int64(len(p))] == '\n' {
		c.onLine()
	}
	return readAt(c.data, p, off)
}

// TestImportFileHoldsOnlyWhatIsOpen: ImportFile holds in memory only the
// conversations being prepared and imported, never more than about two
// chunks and one per worker, however long the file.
func TestImportFileHoldsOnlyWhatIsOpen(t *testing.T) {
	t.Parallel()
	const chunk, workers = 5, 2
	var finished, opened, most atomic.Int64
	srv, im := importSetup(t, []amojo.Option{amojo.WithRateLimit(0, 0)}, importer.WithChunkSize(chunk), importer.WithConcurrency(workers),
		importer.WithProgress(func(p importer.Progress) { finished.Store(int64(p.ConversationsDone + p.ConversationsFailed)) }))
	convs := manyConversations(t, 80, 2)
	data, starts := jsonLines(t, convs)
	r := countingReader{data: data, starts: map[int64]bool{}, onLine: func() {
		open := opened.Add(1) - finished.Load()
		for m := most.Load(); open > m && !most.CompareAndSwap(m, open); m = most.Load() {
		}
	}}
	for _, s := range starts {
		r.starts[s] = true
	}
	res, err := im.ImportFile(t.Context(), r)
	if err != nil || res.ConversationsDone != 80 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	if n := opened.Load(); n != 80 {
		t.Errorf("%d conversations read, want each once: 80", n)
	}
	t.Logf("up to %d conversations open", most.Load())
	if m := most.Load(); m > 2*chunk+workers+1 || m < chunk {
		t.Errorf("up to %d conversations open at once, want %d..%d", m, chunk, 2*chunk+workers+1)
	}
	checkImported(t, srv, convs)
}

// TestImportFileNil: a nil file is refused before anything is sent.
func TestImportFileNil(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	_, err := im.ImportFile(t.Context(), nil)
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) || ve.Field != "file" || len(srv.Requests()) != 0 {
		t.Errorf("err = %v, %d requests", err, len(srv.Requests()))
	}
}
