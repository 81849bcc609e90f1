package pgstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/importer"
)

// Checkpoint is an importer.Checkpoint in the tables amojo_checkpoint (one
// row per conversation) and amojo_checkpoint_msgids (one row per msgid
// recorded), under a name that keeps imports sharing a database apart. It
// is also an importer.Claimer (see Claim), so importers in several processes
// can share it. It is safe for concurrent use.
type Checkpoint struct {
	s      *Store
	name   string
	owner  string // this Checkpoint's claims, in amojo_checkpoint_claims.owner
	holder string // who holds them, for people: host and process id

	mu      sync.Mutex
	held    map[string]bool // conversations claimed (or being claimed)
	renewer *renewer        // renews the claims while any is held
}

var (
	_ importer.Checkpoint = (*Checkpoint)(nil)
	_ importer.Claimer    = (*Checkpoint)(nil)
)

// Checkpoint returns the checkpoint of the import called name: a job's
// name, or the scope it imports into. Imports with the same name share
// their progress and their claims (run them with the same name on every
// machine taking part); imports with different names never see each
// other's. Each Checkpoint value is one owner of claims, with a random id:
// a process that starts again gets a new one, and waits for the leases of
// the claims its former self left. Migrate first.
func (s *Store) Checkpoint(name string) *Checkpoint {
	host, _ := os.Hostname()
	return &Checkpoint{s: s, name: name, owner: rand.Text(), holder: fmt.Sprintf("%s pid %d", host, os.Getpid()), held: make(map[string]bool)}
}

// Name returns the import's name.
func (c *Checkpoint) Name() string { return c.name }

// check validates the arguments every method takes.
func (c *Checkpoint) check(conversationID string) error {
	if strings.TrimSpace(c.name) == "" {
		return &amojo.ValidationError{Field: "name", Reason: "empty: name the import (Store.Checkpoint)"}
	}
	if conversationID == "" {
		return &amojo.ValidationError{Field: "conversationID", Reason: "empty"}
	}
	return nil
}

// loadSQL reads a conversation's row and its msgids in one statement, so
// from one snapshot. The row is missing before the first entry other than a
// msgid; the msgids come in the order recorded.
const loadSQL = `
SELECT coalesce(c.scope_id, ''), coalesce(c.chat_id, ''), coalesce(c.contact_id, 0), coalesce(c.linked, false),
	coalesce(c.contact_pending, false), c.contact_pending_at, coalesce(c.done, false), coalesce(c.digest, ''),
	ARRAY(SELECT m.msgid FROM amojo_checkpoint_msgids m WHERE m.name = $1 AND m.conversation_id = $2 ORDER BY m.seq)
FROM (SELECT) AS one
LEFT JOIN amojo_checkpoint c ON c.name = $1 AND c.conversation_id = $2`

// Load returns what was recorded for the conversation: one row and its
// msgids, read in one statement.
func (c *Checkpoint) Load(ctx context.Context, conversationID string) (importer.CheckpointState, error) {
	var st importer.CheckpointState
	if err := c.check(conversationID); err != nil {
		return st, err
	}
	var pendingAt *time.Time
	err := c.s.pool.QueryRow(ctx, loadSQL, c.name, conversationID).Scan(&st.ScopeID, &st.ChatID, &st.ContactID, &st.Linked,
		&st.ContactPending, &pendingAt, &st.Done, &st.Digest, &st.Sent)
	if err != nil {
		return importer.CheckpointState{}, fmt.Errorf("pgstore: checkpoint %q: load %q: %w", c.name, conversationID, err)
	}
	if pendingAt != nil {
		st.ContactPendingAt = *pendingAt
	}
	if len(st.Sent) == 0 {
		st.Sent = nil
	}
	return st, nil
}

// The statements of Record start with the CTE fence: one row when the entry
// may be written. Without a claim it is always there; with one, it is the
// claim's row, locked FOR KEY SHARE until the commit. A takeover (Claim)
// locks the row FOR UPDATE first, so it waits for a Record under way and
// then loads what it wrote; a renewal (a plain UPDATE of expires_at) does
// not wait for it.
const (
	fenceNone    = `SELECT 1`
	fenceClaimed = `SELECT 1 FROM amojo_checkpoint_claims WHERE name = $1 AND conversation_id = $2 AND owner = $%d FOR KEY SHARE`
)

// recordMsgIDSQL records a msgid alone, as the importer does for every
// message: a conversation done is not done any more, and the msgid is
// added unless it is there. It costs two index lookups and one insert,
// however many msgids the conversation has.
const recordMsgIDSQL = `
WITH fence AS (%s),
undone AS (
	UPDATE amojo_checkpoint SET done = false, digest = ''
	WHERE name = $1 AND conversation_id = $2 AND done AND EXISTS (SELECT FROM fence)
),
added AS (
	INSERT INTO amojo_checkpoint_msgids (name, conversation_id, msgid)
	SELECT $1, $2, $3::text FROM fence
	ON CONFLICT DO NOTHING
)
SELECT count(*) FROM fence`

// recordSQL records any other entry as CheckpointState.Apply defines it:
// the values inserted are the entry applied to a zero state, and an
// existing row takes the entry's facts ($11: the entry settles a pending
// contact). A Done entry deletes the msgids (its digest stands for them).
const recordSQL = `
WITH fence AS (%s),
state AS (
	INSERT INTO amojo_checkpoint AS c (name, conversation_id, scope_id, chat_id, contact_id, linked,
		contact_pending, contact_pending_at, done, digest)
	SELECT $1, $2, $3::text, $4::text, $5::bigint, $6::boolean, $7::boolean, $8::timestamptz, $9::boolean, $10::text FROM fence
	ON CONFLICT (name, conversation_id) DO UPDATE SET
		scope_id = CASE WHEN EXCLUDED.scope_id <> '' THEN EXCLUDED.scope_id ELSE c.scope_id END,
		chat_id = CASE WHEN EXCLUDED.chat_id <> '' THEN EXCLUDED.chat_id ELSE c.chat_id END,
		contact_id = CASE WHEN EXCLUDED.contact_id <> 0 THEN EXCLUDED.contact_id ELSE c.contact_id END,
		linked = c.linked OR EXCLUDED.linked,
		contact_pending = CASE WHEN EXCLUDED.contact_pending THEN true WHEN $11::boolean THEN false ELSE c.contact_pending END,
		contact_pending_at = CASE WHEN EXCLUDED.contact_pending THEN EXCLUDED.contact_pending_at
			WHEN $11::boolean THEN NULL ELSE c.contact_pending_at END,
		done = EXCLUDED.done,
		digest = EXCLUDED.digest
),
added AS (
	INSERT INTO amojo_checkpoint_msgids (name, conversation_id, msgid)
	SELECT $1, $2, $12::text FROM fence WHERE $12::text <> '' AND NOT $9::boolean
	ON CONFLICT DO NOTHING
),
dropped AS (
	DELETE FROM amojo_checkpoint_msgids
	WHERE $9::boolean AND name = $1 AND conversation_id = $2 AND EXISTS (SELECT FROM fence)
)
SELECT count(*) FROM fence`

// The statements with each fence; the claim's owner is their last
// parameter.
var (
	recordMsgIDFree    = fmt.Sprintf(recordMsgIDSQL, fenceNone)
	recordMsgIDClaimed = fmt.Sprintf(recordMsgIDSQL, fmt.Sprintf(fenceClaimed, 4))
	recordFree         = fmt.Sprintf(recordSQL, fenceNone)
	recordClaimed      = fmt.Sprintf(recordSQL, fmt.Sprintf(fenceClaimed, 13))
)

// Record applies e to the conversation in one statement, committed before
// it returns (with PostgreSQL's default synchronous_commit, on disk). A
// msgid costs the same at the 50 000th message of a conversation as at its
// first. While this Checkpoint holds the conversation's claim, the entry is
// written only if the claim is still its own: when it was lost (it expired
// and another importer took the conversation over), Record writes nothing
// and fails with an error wrapping importer.ErrClaimed.
func (c *Checkpoint) Record(ctx context.Context, conversationID string, e importer.CheckpointEntry) error {
	if err := c.check(conversationID); err != nil {
		return err
	}
	if e == (importer.CheckpointEntry{}) {
		return nil // says nothing
	}
	c.mu.Lock()
	claimed := c.held[conversationID]
	c.mu.Unlock()
	var sql string
	var args []any
	if e == (importer.CheckpointEntry{MsgID: e.MsgID}) {
		sql, args = recordMsgIDFree, []any{c.name, conversationID, e.MsgID}
		if claimed {
			sql = recordMsgIDClaimed
		}
	} else {
		var pendingAt *time.Time
		if e.ContactPending && !e.ContactPendingAt.IsZero() {
			pendingAt = &e.ContactPendingAt
		}
		digest := ""
		if e.Done {
			digest = e.Digest
		}
		sql, args = recordFree, []any{c.name, conversationID, e.ScopeID, e.ChatID, e.ContactID, e.Linked,
			e.ContactPending, pendingAt, e.Done, digest, e.ContactID != 0 || e.ContactNotCreated, e.MsgID}
		if claimed {
			sql = recordClaimed
		}
	}
	if claimed {
		args = append(args, c.owner)
	}
	var fenced int
	if err := c.s.pool.QueryRow(ctx, sql, args...).Scan(&fenced); err != nil {
		return fmt.Errorf("pgstore: checkpoint %q: record %q: %w", c.name, conversationID, err)
	}
	if fenced == 0 {
		return fmt.Errorf("pgstore: checkpoint %q: conversation %q: nothing recorded, the claim was lost (it expired, and another importer may hold it): %w",
			c.name, conversationID, importer.ErrClaimed)
	}
	return nil
}
