package amojo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// inboxRecord is one line of a FileInbox file: a JSON object ending in "\n",
// written with a single write. Op says what it records:
//
//	add      an event: ID, Scope, Body (base64), Sig, Recv, At (due; Recv
//	         when absent); in a compacted file also its State ("claimed" or
//	         "dead"; ready when empty), At then the lease end or parked time,
//	         N (attempts), Token, Reason
//	claim    IDs leased until At under Token
//	extend   ID's lease moved to At
//	done     ID delivered at At (in a compacted file: the id's tombstone)
//	fail     ID due again at At, or dead (parked at At) when Dead; Reason
//	requeue  dead ID due again at At
type inboxRecord struct {
	Op     string    `json:"op"`
	ID     string    `json:"id,omitempty"`
	IDs    []string  `json:"ids,omitempty"`
	Scope  string    `json:"scope,omitempty"`
	Body   []byte    `json:"body,omitempty"`
	Sig    string    `json:"sig,omitempty"`
	Recv   time.Time `json:"recv,omitzero"`
	State  string    `json:"state,omitempty"`
	At     time.Time `json:"at,omitzero"`
	N      int       `json:"n,omitempty"`
	Token  string    `json:"token,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Dead   bool      `json:"dead,omitempty"`
}

// The states an add record can give.
const (
	recordClaimed = "claimed"
	recordDead    = "dead"
)

// parseInboxRecord decodes and checks one line (without its "\n").
func parseInboxRecord(line []byte) (inboxRecord, error) {
	var r inboxRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return r, errors.New("not a JSON record")
	}
	if err := r.check(); err != nil {
		return r, err
	}
	return r, nil
}

// check reports a record that misses what its op needs.
func (r *inboxRecord) check() error {
	needID := func() error {
		if r.ID == "" {
			return fmt.Errorf("%s record without id", r.Op)
		}
		return nil
	}
	switch r.Op {
	case "add":
		switch {
		case r.ID == "":
			return errors.New("add record without id")
		case len(r.Body) == 0:
			return errors.New("add record without body")
		case r.Recv.IsZero():
			return errors.New("add record without time received")
		case r.N < 0:
			return errors.New("add record with negative attempts")
		}
		switch r.State {
		case "", recordDead:
		case recordClaimed:
			if r.Token == "" {
				return errors.New("claimed add record without token")
			}
		default:
			return fmt.Errorf("add record with unknown state %q", r.State)
		}
		return nil
	case "claim":
		if len(r.IDs) == 0 || r.Token == "" || r.At.IsZero() {
			return errors.New("claim record without ids, token or lease end")
		}
		for _, id := range r.IDs {
			if id == "" {
				return errors.New("claim record with an empty id")
			}
		}
		return nil
	case "extend":
		if r.ID == "" || r.At.IsZero() {
			return errors.New("extend record without id or lease end")
		}
		return nil
	case "done":
		if r.ID == "" || r.At.IsZero() {
			return errors.New("done record without id or time")
		}
		return nil
	case "fail", "requeue":
		return needID()
	}
	return fmt.Errorf("unknown record op %q", r.Op)
}

// apply changes x as the record says.
func (r *inboxRecord) apply(x *inboxIndex) {
	switch r.Op {
	case "add":
		ev := InboxEvent{
			ID: r.ID, ScopeID: r.Scope, Body: r.Body, Signature: r.Sig, ReceivedAt: r.Recv,
			Attempts: r.N, LastError: r.Reason,
		}
		st, due := stateReady, r.At
		switch r.State {
		case recordClaimed:
			st, ev.Token, ev.LeaseUntil = stateClaimed, r.Token, r.At
		case recordDead:
			st = stateDead
		}
		if due.IsZero() {
			due = r.Recv
		}
		x.add(ev, st, due)
	case "claim":
		x.claim(r.IDs, r.Token, r.At)
	case "extend":
		x.extend(r.ID, r.At)
	case "done":
		x.settleDone(r.ID, r.At)
	case "fail":
		x.settleFail(r.ID, r.Reason, r.At, r.Dead)
	case "requeue":
		x.requeue(r.ID, r.At)
	}
}

// entryRecord is the add or done record that recreates e in a compacted file.
func entryRecord(e *inboxEntry) inboxRecord {
	if e.state == stateDone {
		return inboxRecord{Op: "done", ID: e.ev.ID, At: e.due}
	}
	r := inboxRecord{
		Op: "add", ID: e.ev.ID, Scope: e.ev.ScopeID, Body: e.ev.Body, Sig: e.ev.Signature,
		Recv: e.ev.ReceivedAt, At: e.due, N: e.ev.Attempts, Reason: e.ev.LastError,
	}
	switch e.state {
	case stateClaimed:
		r.State, r.Token = recordClaimed, e.ev.Token
	case stateDead:
		r.State = recordDead
	}
	return r
}

// marshalRecords encodes records as lines.
func marshalRecords(recs []inboxRecord) ([]byte, error) {
	var buf bytes.Buffer
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// readInboxRecords reads the records of r, from line number firstLine on,
// calling apply for each. It returns how many bytes of complete lines it
// read, how many lines, and whether a torn record (bytes after the last
// "\n", left by a write cut short) follows them. A complete line that is not
// a valid record is an error naming its line number.
func readInboxRecords(r io.Reader, firstLine int, apply func(*inboxRecord)) (n int64, lines int, torn bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return n, lines, len(line) > 0, nil
		}
		if err != nil {
			return n, lines, false, err
		}
		rec, perr := parseInboxRecord(line[:len(line)-1])
		if perr != nil {
			return n, lines, false, &recordError{line: firstLine + lines, err: perr}
		}
		apply(&rec)
		n += int64(len(line))
		lines++
	}
}

// recordError reports an invalid line of an inbox file.
type recordError struct {
	line int
	err  error
}

func (e *recordError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
