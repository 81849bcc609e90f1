package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amojo-go/amojo/internal/filelock"
)

// Checkpoint records how far the import of each conversation got, so an
// Importer can resume after a crash or Ctrl-C without losing or duplicating
// anything. NewFileCheckpoint keeps it in a file; package pgstore keeps it
// in PostgreSQL, shared by importers on several machines (it is also a
// Claimer). Methods are called from many goroutines at once, but never
// concurrently for the same conversation.
//
// Record must persist the entry before returning: the importer records a
// chat, a contact or a message right after amoCRM confirmed it, and relies on
// finding it again after a restart. A Checkpoint is used with one account and
// channel; Load of a conversation recorded under another scope makes its
// import fail rather than touch the wrong chat.
type Checkpoint interface {
	// Load returns what was recorded for the conversation; an unknown
	// conversation gives the zero state and no error.
	Load(ctx context.Context, conversationID string) (CheckpointState, error)
	// Record adds one entry to the conversation's state (see
	// CheckpointState.Apply).
	Record(ctx context.Context, conversationID string, e CheckpointEntry) error
}

// CheckpointState is what a Checkpoint knows of one conversation: the scope
// and amojo chat id, the contact it is linked to, the msgids amojo accepted,
// and whether it is done. ContactPending says that the creation of its
// contact was sent (at ContactPendingAt) and never confirmed: amoCRM may
// hold a contact whose id was not recorded, so the importer searches for it
// rather than create another one (see ErrContactUnconfirmed). A done conversation keeps Digest, a fingerprint of
// its msgids, instead of the msgids themselves: a re-run of the same
// conversation is then skipped without a request, while one that gained
// messages is imported again (only the new messages are sent).
type CheckpointState struct {
	ScopeID   string
	ChatID    string
	ContactID int64
	Linked    bool
	Sent      []string // msgids amojo accepted, in the order recorded
	Done      bool
	Digest    string
	// ContactPending: a contact was asked for and its id never recorded;
	// ContactPendingAt: when the request left (zero in checkpoints written
	// before it was recorded), so only contacts created since are
	// candidates for it.
	ContactPending   bool
	ContactPendingAt time.Time

	// sent indexes Sent once it is long enough for a lookup to beat a scan,
	// so recording a message costs the same in a long conversation as in a
	// short one. Apply keeps it; a state built or changed without Apply is
	// indexed again on first use.
	sent map[string]struct{}
}

// sentIndexMin is the length of Sent from which Apply looks msgids up in an
// index rather than scanning the list.
const sentIndexMin = 32

// hasSent reports whether Sent holds id.
func (s *CheckpointState) hasSent(id string) bool {
	if len(s.Sent) < sentIndexMin {
		return slices.Contains(s.Sent, id)
	}
	if len(s.sent) != len(s.Sent) {
		// Not indexed yet, or Sent changed behind Apply's back (a copy of
		// the state shares the index): index it afresh, dropping repeats.
		s.sent = make(map[string]struct{}, len(s.Sent))
		var uniq []string
		for i, v := range s.Sent {
			if _, dup := s.sent[v]; dup {
				if uniq == nil {
					uniq = slices.Clone(s.Sent[:i])
				}
				continue
			}
			s.sent[v] = struct{}{}
			if uniq != nil {
				uniq = append(uniq, v)
			}
		}
		if uniq != nil {
			s.Sent = uniq
		}
	}
	_, ok := s.sent[id]
	return ok
}

// addSent appends id, which Sent does not hold, and indexes it.
func (s *CheckpointState) addSent(id string) {
	s.Sent = append(s.Sent, id)
	if s.sent != nil {
		s.sent[id] = struct{}{}
	}
}

// CheckpointEntry is one fact recorded about a conversation. Zero fields say
// nothing: an entry usually carries a single fact.
type CheckpointEntry struct {
	ScopeID   string `json:"scope,omitempty"`
	ChatID    string `json:"chat,omitempty"`
	ContactID int64  `json:"contact,omitempty"`
	Linked    bool   `json:"linked,omitempty"`
	MsgID     string `json:"msgid,omitempty"`
	Done      bool   `json:"done,omitempty"`
	Digest    string `json:"digest,omitempty"`
	// ContactPending is recorded right before a contact's creation is
	// sent, with ContactPendingAt, the time it leaves; ContactID or
	// ContactNotCreated (amoCRM refused: nothing was created) settles it.
	ContactPending    bool      `json:"contact_pending,omitempty"`
	ContactPendingAt  time.Time `json:"contact_pending_at,omitzero"`
	ContactNotCreated bool      `json:"contact_not_created,omitempty"`
}

// Apply adds the facts of e to s: ids replace the recorded ones, Linked and
// Done are set, MsgID is added to Sent unless it is there already (a check
// that costs the same however long Sent is), ContactPending is set by itself
// (with ContactPendingAt) and cleared by a ContactID or ContactNotCreated. A Done entry drops Sent (Digest
// stands for it); any later entry makes the conversation not done again.
func (s *CheckpointState) Apply(e CheckpointEntry) {
	if e.ScopeID != "" {
		s.ScopeID = e.ScopeID
	}
	if e.ChatID != "" {
		s.ChatID = e.ChatID
	}
	if e.ContactID != 0 {
		s.ContactID = e.ContactID
		s.ContactPending, s.ContactPendingAt = false, time.Time{}
	}
	if e.ContactNotCreated {
		s.ContactPending, s.ContactPendingAt = false, time.Time{}
	}
	if e.ContactPending {
		s.ContactPending, s.ContactPendingAt = true, e.ContactPendingAt
	}
	if e.Linked {
		s.Linked = true
	}
	if e.MsgID != "" && !s.hasSent(e.MsgID) {
		s.addSent(e.MsgID)
	}
	if e.Done {
		s.Done, s.Digest, s.Sent, s.sent = true, e.Digest, nil, nil
	} else if e != (CheckpointEntry{}) {
		s.Done, s.Digest = false, ""
	}
}

// MemoryCheckpoint is a Checkpoint kept in memory, for tests and for runs
// that need no resumption across processes. It is safe for concurrent use.
type MemoryCheckpoint struct {
	mu     sync.Mutex
	states map[string]*CheckpointState
}

// NewMemoryCheckpoint returns an empty MemoryCheckpoint.
func NewMemoryCheckpoint() *MemoryCheckpoint {
	return &MemoryCheckpoint{states: make(map[string]*CheckpointState)}
}

// Load returns a copy of the conversation's state.
func (m *MemoryCheckpoint) Load(_ context.Context, conversationID string) (CheckpointState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyState(m.states, conversationID), nil
}

// Record applies e to the conversation's state.
func (m *MemoryCheckpoint) Record(_ context.Context, conversationID string, e CheckpointEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	applyState(m.states, conversationID, e)
	return nil
}

// stateMap is the in-memory index shared by both checkpoints.
type stateMap = map[string]*CheckpointState

func copyState(states stateMap, id string) CheckpointState {
	s, ok := states[id]
	if !ok {
		return CheckpointState{}
	}
	c := *s
	c.Sent = slices.Clone(s.Sent)
	c.sent = nil // indexed again if the copy records a message
	return c
}

func applyState(states stateMap, id string, e CheckpointEntry) {
	s, ok := states[id]
	if !ok {
		s = &CheckpointState{}
		states[id] = s
	}
	s.Apply(e)
}

// FileCheckpoint is a Checkpoint kept in a file: an append-only JSON Lines
// log, one line per recorded entry ({"id":"c-1","msgid":"m-1"}), each line
// written with a single write. It is read into memory when opened. Killing
// the process at any moment leaves at most a torn last line, which opening
// the file again drops. Opening a file that holds mostly superseded lines
// (such as the msgids of conversations done since) compacts it: a new file
// with one line per conversation, its whole state, written and synced
// beside it, replaces it by a rename, so a kill leaves either file whole. Written lines reach the operating system before
// Record returns; Sync and Close flush them to disk. It is safe for
// concurrent use.
type FileCheckpoint struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	states stateMap
	err    error // first write error; the checkpoint refuses further records
	noSync bool  // tests: skip fsync
}

// fileEntry is one line of a FileCheckpoint. Sent appears only in the
// lines of a compacted file, which hold a conversation's whole state.
type fileEntry struct {
	ID string `json:"id"`
	CheckpointEntry
	Sent []string `json:"sent,omitempty"`
}

// compactMinRedundant is how many lines of a checkpoint file, beyond one per
// conversation, make NewFileCheckpoint compact it (when they are also at
// least half of the file).
const compactMinRedundant = 100

// NewFileCheckpoint opens (or creates, readable by its owner only: the
// conversation ids it holds may be phone numbers) the checkpoint file at path
// and loads it. Only a torn last line, left by a kill in the middle of a
// write, is cut off: a last line without its final newline that is the
// beginning of a checkpoint entry. Any other line that is not a valid entry
// is an error naming the file and the line, and the file is left as it was;
// a file that is not a checkpoint at all (such as a conversation file given
// by mistake) is refused that way. path must not be a symbolic link:
// compaction replaces the file by a rename, which would replace the link and
// leave its target behind, so a link is refused (give its target instead).
// Compaction files left beside path by a run killed while compacting
// (path.compact-NNNN) are removed.
//
// The file is locked for the FileCheckpoint's life: a second
// NewFileCheckpoint of the same file, in this process or another, fails
// ("checkpoint FILE is in use by another run") until Close or the end of the
// process that holds it. (On systems without flock, such as Windows, the
// file is not locked.)
func NewFileCheckpoint(path string) (*FileCheckpoint, error) {
	f, err := openLocked(path)
	if err != nil {
		return nil, err
	}
	sweepCompactions(path)
	states, good, noNewline, lines, err := loadCheckpoint(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if extra := lines - len(states); extra >= compactMinRedundant && extra >= len(states) {
		// Compaction only saves space and time: if it fails, the file as
		// it is serves as well.
		if nf, cerr := compactCheckpoint(f, path, states); cerr == nil {
			return &FileCheckpoint{f: nf, path: path, states: states}, nil
		} else if nf == nil {
			return nil, fmt.Errorf("amojo: checkpoint %s: %w", path, cerr)
		}
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil && end != good {
		// Cut the torn tail so the next entry starts on a fresh line.
		if err = f.Truncate(good); err == nil {
			_, err = f.Seek(good, io.SeekStart)
		}
	}
	if err == nil && noNewline {
		_, err = f.Write([]byte{'\n'})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("amojo: checkpoint %s: %w", path, err)
	}
	return &FileCheckpoint{f: f, path: path, states: states}, nil
}

// openLocked opens (or creates) path and locks it. The file locked must
// still be the one at path: a run that compacted the checkpoint renamed a
// new file over it, and the old one is not the checkpoint any more.
func openLocked(path string) (*os.File, error) {
	for range 10 {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("amojo: checkpoint %s is a symbolic link; give the file it points to", path)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|filelock.OpenNoFollow, 0o600)
		if err != nil {
			return nil, fmt.Errorf("amojo: checkpoint: %w", err)
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("amojo: checkpoint %s is not a regular file", path)
		}
		if err := filelock.Lock(f); err != nil {
			f.Close()
			if errors.Is(err, filelock.ErrLocked) {
				return nil, fmt.Errorf("amojo: checkpoint %s is in use by another run", path)
			}
			return nil, fmt.Errorf("amojo: checkpoint %s: lock: %w", path, err)
		}
		pi, perr := os.Lstat(path)
		if err == nil && perr == nil && os.SameFile(fi, pi) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("amojo: checkpoint %s keeps being replaced", path)
}

// compactSuffix follows the checkpoint's name in the name of the file a
// compaction writes, then random digits.
const compactSuffix = ".compact-"

// sweepCompactions removes the compaction files a killed run left beside
// path. The caller holds the checkpoint's lock, so no run is compacting it.
func sweepCompactions(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), base+compactSuffix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

// loadCheckpoint reads every entry of r and returns the states, the length
// of the part made of complete, valid entries, and whether that part ends
// without its final newline (a write cut just before it). Only a torn last
// line is left out of that part; any other line that is not an entry is an
// error.
func loadCheckpoint(r io.Reader, path string) (states stateMap, good int64, noNewline bool, entries int, err error) {
	states = make(stateMap)
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		data, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, 0, false, 0, fmt.Errorf("amojo: checkpoint %s: %w", path, err)
		}
		last := err == io.EOF // data has no newline
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			fe, ok := parseEntry(trimmed)
			if !ok {
				if last && tornEntry(data) {
					return states, good, false, entries, nil // torn last line: drop it
				}
				if entries == 0 {
					return nil, 0, false, 0, fmt.Errorf("amojo: checkpoint %s is not a checkpoint file: line %d is not a checkpoint entry (the file was left as it is)", path, line)
				}
				return nil, 0, false, 0, fmt.Errorf("amojo: checkpoint %s: line %d is not a checkpoint entry (the file was left as it is)", path, line)
			}
			applyState(states, fe.ID, fe.CheckpointEntry)
			for _, id := range fe.Sent {
				applyState(states, fe.ID, CheckpointEntry{MsgID: id})
			}
			entries++
			good += int64(len(data))
			if last {
				return states, good, true, entries, nil
			}
			continue
		}
		if last {
			return states, good, false, entries, nil
		}
		good += int64(len(data))
	}
}

// parseEntry decodes one line of a checkpoint file: an object of the keys of
// fileEntry only, with an id.
func parseEntry(line []byte) (fileEntry, bool) {
	var fe fileEntry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if dec.Decode(&fe) != nil || dec.More() || fe.ID == "" {
		return fileEntry{}, false
	}
	return fe, true
}

// entryStart is how every line Record writes begins.
const entryStart = `{"id":"`

// tornEntry reports whether data, a last line without its newline, is the
// beginning of a line Record writes: what a kill in the middle of the write
// leaves.
func tornEntry(data []byte) bool {
	if len(data) <= len(entryStart) {
		return strings.HasPrefix(entryStart, string(data))
	}
	if !bytes.HasPrefix(data, []byte(entryStart)) || json.Valid(data) {
		return false
	}
	// The rest must be one JSON object cut short, not JSON gone wrong.
	dec := json.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			if depth--; depth == 0 {
				return false // the object ended, and more follows
			}
		}
	}
}

// compactCheckpoint writes states to a new file beside path, one line per
// conversation, syncs it, locks it and renames it over path; it returns the
// new file, open at its end, and closes old. On failure before the rename
// it returns old itself and the error; after it (old is gone) nil.
func compactCheckpoint(old *os.File, path string, states stateMap) (*os.File, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+compactSuffix+"*")
	if err != nil {
		return old, err
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := filelock.Lock(tmp); err != nil {
		return old, err
	}
	bw := bufio.NewWriter(tmp)
	for _, id := range slices.Sorted(maps.Keys(states)) {
		s := states[id]
		line, err := json.Marshal(fileEntry{ID: id, Sent: s.Sent, CheckpointEntry: CheckpointEntry{
			ScopeID: s.ScopeID, ChatID: s.ChatID, ContactID: s.ContactID, Linked: s.Linked,
			Done: s.Done, Digest: s.Digest, ContactPending: s.ContactPending, ContactPendingAt: s.ContactPendingAt,
		}})
		if err != nil {
			return old, err
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return old, err
	}
	if fi, err := old.Stat(); err == nil {
		_ = tmp.Chmod(fi.Mode().Perm())
	}
	if err := tmp.Sync(); err != nil {
		return old, err
	}
	if !filelock.RenameOpenFile {
		// The old file must be closed before it can be replaced.
		old.Close()
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, err
		}
	} else {
		// The new file is locked before it takes the path, and the old one
		// stays locked until then: no other run can slip in between.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return old, err
		}
		old.Close()
	}
	renamed = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where directories sync
		d.Close()
	}
	return tmp, nil
}

// Path returns the file's path.
func (c *FileCheckpoint) Path() string { return c.path }

// Load returns the conversation's state.
func (c *FileCheckpoint) Load(_ context.Context, conversationID string) (CheckpointState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return copyState(c.states, conversationID), nil
}

// Record appends e to the file and applies it. After a write error every
// later Record fails too, so nothing is recorded out of order.
func (c *FileCheckpoint) Record(_ context.Context, conversationID string, e CheckpointEntry) error {
	line, err := json.Marshal(fileEntry{ID: conversationID, CheckpointEntry: e})
	if err != nil {
		return fmt.Errorf("amojo: checkpoint: %w", err)
	}
	line = append(line, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.f == nil {
		return errors.New("amojo: checkpoint: closed")
	}
	if _, err := c.f.Write(line); err != nil {
		c.err = fmt.Errorf("amojo: checkpoint %s: %w", c.path, err)
		return c.err
	}
	applyState(c.states, conversationID, e)
	return nil
}

// Sync flushes the file to disk.
func (c *FileCheckpoint) Sync() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	return c.f.Sync()
}

// Close syncs and closes the file. Closing twice is harmless.
func (c *FileCheckpoint) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	f := c.f
	c.f = nil
	var serr error
	if !c.noSync {
		serr = f.Sync()
	}
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("amojo: checkpoint %s: %w", c.path, err)
	}
	return nil
}
