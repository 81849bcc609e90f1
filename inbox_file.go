package amojo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileInbox is an Inbox in a file, the embedded default: durable without a
// database, and shared safely by processes on one machine (several workers,
// or the old and the new process during a restart).
//
// The file is an append-only log of JSON Lines records, each written with a
// single write: an event appended, claimed, extended, done, failed,
// requeued. Append syncs the file to disk (fsync) before it returns, so an
// event Append accepted survives a crash, a kill or a power loss; the other
// records are not synced one by one (losing one only makes an event due
// again, or still dead) but every Append syncs them too. Concurrent Appends
// in one process share one write and one fsync.
//
// The state is also held in memory (the events not delivered, with their
// bodies, and the ids delivered within the retention), rebuilt from the file
// when it is opened.
//
// Every operation takes an exclusive flock on PATH.lock (a file kept beside
// the log, never removed), reads what other processes appended since, and
// then appends its own records, so several processes see one inbox. The
// lock is held only for the operation. Files are created with mode 0600.
//
// When records of delivered events make up most of the file (and at least
// 1000 records), or when Compact is called, the file is compacted: the
// events not delivered and the ids of those delivered within the retention
// are written to a temporary file beside it, synced, and renamed over it, so
// a crash leaves either file whole. Other processes notice the new file by
// its inode and read it afresh.
//
// A kill in the middle of a write leaves at most a torn last record (no
// final newline), which readers ignore and the next writer cuts off: the
// operation that was writing it had not returned. Any other line that is not
// a valid record is an error naming the file and the line; the file is then
// left untouched for a person to look at.
//
// On systems without flock (such as Windows) a FileInbox is safe within one
// process only.
type FileInbox struct {
	path      string
	now       func() time.Time
	retention time.Duration
	minWaste  int // records beyond the live ones that allow compaction

	mu     sync.Mutex // held for a whole operation, together with the file lock
	lock   *os.File
	f      *os.File // the log as last opened; nil after a failed swap
	off    int64    // bytes of f read and applied
	lines  int      // records of f read and applied
	torn   bool     // a torn record follows off
	idx    *inboxIndex
	closed bool

	amu      sync.Mutex // guards the append queue
	acond    *sync.Cond
	queue    []*appendReq
	flushing bool
}

var _ Inbox = (*FileInbox)(nil)

// appendReq is an Append waiting for the write that carries it.
type appendReq struct {
	ev       InboxEvent
	added    bool
	err      error
	finished bool
}

// defaultCompactWaste is how many records beyond the live ones a file holds
// before it is compacted (when they are also the greater part of it).
const defaultCompactWaste = 1000

// NewFileInbox opens (or creates) the inbox file at path and reads it,
// compacting it when it is mostly made of delivered events. A torn last
// record is ignored; any other invalid line is an error naming it.
func NewFileInbox(path string, opts ...InboxOption) (*FileInbox, error) {
	c, err := newInboxConfig(opts)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, invalid("path", "empty")
	}
	fi := &FileInbox{path: path, now: c.now, retention: c.retention, minWaste: defaultCompactWaste, idx: newInboxIndex()}
	fi.acond = sync.NewCond(&fi.amu)
	fi.lock, err = os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("amojo: inbox: %w", err)
	}
	if err := fi.withLock(func() error { return nil }); err != nil {
		fi.lock.Close()
		if fi.f != nil {
			fi.f.Close()
		}
		return nil, err
	}
	return fi, nil
}

// Path returns the file's path.
func (fi *FileInbox) Path() string { return fi.path }

// Close closes the files. Operations after Close fail with ErrInboxClosed.
// Closing twice is harmless.
func (fi *FileInbox) Close() error {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.closed {
		return nil
	}
	fi.closed = true
	var err error
	if fi.f != nil {
		err = fi.f.Close()
	}
	return errors.Join(err, fi.lock.Close())
}

// withLock runs op holding the mutex and the file lock, with the state read
// up to the end of the file; then compacts the file if it is mostly waste.
func (fi *FileInbox) withLock(op func() error) error {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.closed {
		return ErrInboxClosed
	}
	if err := lockWait(fi.lock); err != nil {
		return fmt.Errorf("amojo: inbox %s: lock: %w", fi.path, err)
	}
	defer unlock(fi.lock)
	if err := fi.refresh(); err != nil {
		return err
	}
	fi.idx.purge(fi.now().Add(-fi.retention))
	if err := op(); err != nil {
		return err
	}
	if waste := fi.lines - fi.idx.len(); waste >= fi.minWaste && waste >= fi.idx.len() {
		// Compaction only saves space and time: the file as it is serves
		// as well when it fails.
		_ = fi.compact()
	}
	return nil
}

// refresh brings the state up to the end of the file, reading it afresh
// when another process has replaced it.
func (fi *FileInbox) refresh() error {
	if fi.f != nil {
		cur, err1 := fi.f.Stat()
		now, err2 := os.Stat(fi.path)
		if err2 != nil && errors.Is(err2, os.ErrNotExist) {
			return fmt.Errorf("amojo: inbox %s: the file was removed", fi.path)
		}
		if err1 != nil || err2 != nil || !os.SameFile(cur, now) {
			fi.f.Close()
			fi.f = nil
		}
	}
	if fi.f == nil {
		_, statErr := os.Stat(fi.path)
		f, err := os.OpenFile(fi.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("amojo: inbox: %w", err)
		}
		if errors.Is(statErr, os.ErrNotExist) {
			syncDir(filepath.Dir(fi.path))
		}
		fi.f, fi.off, fi.lines, fi.torn, fi.idx = f, 0, 0, false, newInboxIndex()
	}
	n, lines, torn, err := readInboxRecords(io.NewSectionReader(fi.f, fi.off, 1<<62), fi.lines+1, func(r *inboxRecord) { r.apply(fi.idx) })
	fi.off += n
	fi.lines += lines
	fi.torn = torn
	if err != nil {
		return fmt.Errorf("amojo: inbox %s: %w", fi.path, err)
	}
	return nil
}

// commit writes recs in one write (syncing the file when durable), then
// applies them. A torn record left by a writer that died is cut off first.
func (fi *FileInbox) commit(recs []inboxRecord, durable bool) error {
	buf, err := marshalRecords(recs)
	if err != nil {
		return fmt.Errorf("amojo: inbox: %w", err)
	}
	if fi.torn {
		if err := fi.f.Truncate(fi.off); err != nil {
			return fmt.Errorf("amojo: inbox %s: %w", fi.path, err)
		}
		fi.torn = false
	}
	if _, err := fi.f.Write(buf); err != nil {
		// Take back a partial write; if that fails too, readers see it as
		// torn and the next writer cuts it.
		if fi.f.Truncate(fi.off) != nil {
			fi.torn = true
		}
		return fmt.Errorf("amojo: inbox %s: %w", fi.path, err)
	}
	fi.off += int64(len(buf))
	fi.lines += len(recs)
	for i := range recs {
		recs[i].apply(fi.idx)
	}
	if durable {
		if err := fi.f.Sync(); err != nil {
			return fmt.Errorf("amojo: inbox %s: sync: %w", fi.path, err)
		}
	}
	return nil
}

// Append writes ev to the file and syncs it, unless its id is known.
// Concurrent Appends are written together.
func (fi *FileInbox) Append(_ context.Context, ev InboxEvent) (bool, error) {
	if err := ev.Validate(); err != nil {
		return false, err
	}
	req := &appendReq{ev: storedEvent(ev)}
	fi.amu.Lock()
	fi.queue = append(fi.queue, req)
	for !req.finished && fi.flushing {
		fi.acond.Wait()
	}
	if !req.finished {
		batch := fi.queue
		fi.queue, fi.flushing = nil, true
		fi.amu.Unlock()
		fi.flush(batch)
		fi.amu.Lock()
		for _, r := range batch {
			r.finished = true
		}
		fi.flushing = false
		fi.acond.Broadcast()
	}
	fi.amu.Unlock()
	return req.added, req.err
}

// flush writes the new events of batch with one write and one fsync.
func (fi *FileInbox) flush(batch []*appendReq) {
	err := fi.withLock(func() error {
		now := fi.now()
		var recs []inboxRecord
		var added []*appendReq
		seen := make(map[string]bool, len(batch))
		for _, r := range batch {
			if seen[r.ev.ID] || fi.idx.has(r.ev.ID) {
				continue
			}
			seen[r.ev.ID] = true
			ev := r.ev
			recs = append(recs, inboxRecord{Op: "add", ID: ev.ID, Scope: ev.ScopeID, Body: ev.Body, Sig: ev.Signature, Recv: ev.ReceivedAt, At: appendDue(ev, now)})
			added = append(added, r)
		}
		if len(recs) == 0 {
			return nil
		}
		err := fi.commit(recs, true)
		for _, r := range added {
			r.added, r.err = err == nil, err
		}
		return nil
	})
	if err != nil {
		for _, r := range batch {
			r.added, r.err = false, err
		}
	}
}

// Claim leases up to n due events.
func (fi *FileInbox) Claim(_ context.Context, n int, lease time.Duration) ([]InboxEvent, error) {
	if err := checkClaimArgs(n, lease); err != nil {
		return nil, err
	}
	var out []InboxEvent
	err := fi.withLock(func() error {
		now := fi.now()
		ids := fi.idx.dueIDs(now, n)
		if len(ids) == 0 {
			return nil
		}
		if err := fi.commit([]inboxRecord{{Op: "claim", IDs: ids, Token: newClaimToken(), At: now.Add(lease)}}, false); err != nil {
			return err
		}
		out = claimed(fi.idx, ids)
		return nil
	})
	return out, err
}

// settle checks that token is id's current claim and commits rec.
func (fi *FileInbox) settle(id, token string, rec func(now time.Time) inboxRecord) error {
	return fi.withLock(func() error {
		if err := fi.idx.checkClaim(id, token); err != nil {
			return err
		}
		return fi.commit([]inboxRecord{rec(fi.now())}, false)
	})
}

// Extend moves a claimed event's lease.
func (fi *FileInbox) Extend(_ context.Context, id, token string, lease time.Duration) error {
	if lease <= 0 {
		return invalid("lease", "not positive")
	}
	return fi.settle(id, token, func(now time.Time) inboxRecord {
		return inboxRecord{Op: "extend", ID: id, At: now.Add(lease)}
	})
}

// Done settles a claimed event as delivered.
func (fi *FileInbox) Done(_ context.Context, id, token string) error {
	return fi.settle(id, token, func(now time.Time) inboxRecord {
		return inboxRecord{Op: "done", ID: id, At: now}
	})
}

// Fail settles a claimed event as failed.
func (fi *FileInbox) Fail(_ context.Context, id, token string, f InboxFailure) error {
	return fi.settle(id, token, func(now time.Time) inboxRecord {
		return inboxRecord{Op: "fail", ID: id, At: failAt(f, now), Reason: f.Reason, Dead: f.Dead}
	})
}

// Dead lists dead events.
func (fi *FileInbox) Dead(_ context.Context, after string, n int) ([]InboxEvent, error) {
	if n < 1 {
		return nil, invalid("n", "less than 1")
	}
	var out []InboxEvent
	err := fi.withLock(func() error {
		out = fi.idx.deadEvents(after, n)
		return nil
	})
	return out, err
}

// Requeue makes a dead event due now.
func (fi *FileInbox) Requeue(_ context.Context, id string) error {
	return fi.withLock(func() error {
		if !fi.idx.isDead(id) {
			return ErrInboxNotFound
		}
		return fi.commit([]inboxRecord{{Op: "requeue", ID: id, At: fi.now()}}, false)
	})
}

// Compact rewrites the file with one record per event not delivered and per
// id delivered within the retention.
func (fi *FileInbox) Compact(_ context.Context) error {
	return fi.withLock(fi.compact)
}

// compact writes the state to a new file beside the log, syncs it and
// renames it over the log. It holds the file lock.
func (fi *FileInbox) compact() error {
	fi.idx.purge(fi.now().Add(-fi.retention))
	entries := fi.idx.sorted()
	recs := make([]inboxRecord, len(entries))
	for i, e := range entries {
		recs[i] = entryRecord(e)
	}
	buf, err := marshalRecords(recs)
	if err != nil {
		return err
	}
	dir := filepath.Dir(fi.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(fi.path)+".compact-*")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(buf)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	nf, err := os.OpenFile(tmp.Name(), os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if !renameOpenFile {
		fi.f.Close()
		fi.f = nil
	}
	if err := os.Rename(tmp.Name(), fi.path); err != nil {
		nf.Close()
		return err
	}
	renamed = true
	syncDir(dir)
	if fi.f != nil {
		fi.f.Close()
	}
	fi.f, fi.off, fi.lines, fi.torn = nf, int64(len(buf)), len(recs), false
	return nil
}

// syncDir makes a new or renamed entry of dir durable, where directories
// sync.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
