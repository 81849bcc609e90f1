package pgstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/jackc/pgx/v5"
)

// Inbox is the webhook inbox in the table amojo_inbox: an amojo.Inbox
// shared by every process connected to the database.
type Inbox struct{ s *Store }

var _ amojo.Inbox = (*Inbox)(nil)

// Inbox returns the store's webhook inbox. Migrate first.
func (s *Store) Inbox() *Inbox { return &Inbox{s: s} }

// purgeEvery is how often Claim deletes the rows of events delivered before
// the retention.
const purgeEvery = time.Minute

// Append inserts ev unless its id is known, committing before it returns.
// The event is due at once: at the time it was received, or at the store's
// now when the receiving process's clock is ahead.
func (in *Inbox) Append(ctx context.Context, ev amojo.InboxEvent) (bool, error) {
	if err := ev.Validate(); err != nil {
		return false, err
	}
	tag, err := in.s.pool.Exec(ctx, `
INSERT INTO amojo_inbox (id, scope_id, body, signature, received_at, due_at)
VALUES ($1, $2, $3, $4, $5, LEAST($5, $6::timestamptz))
ON CONFLICT (id) DO NOTHING`,
		ev.ID, ev.ScopeID, ev.Body, ev.Signature, ev.ReceivedAt, in.s.now())
	if err != nil {
		return false, fmt.Errorf("pgstore: inbox append: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Claim leases up to n due events: ready ones whose time has come, and
// claimed ones whose lease has expired. Rows other claimers hold are
// skipped, not waited for.
func (in *Inbox) Claim(ctx context.Context, n int, lease time.Duration) ([]amojo.InboxEvent, error) {
	if n < 1 {
		return nil, &amojo.ValidationError{Field: "n", Reason: "less than 1"}
	}
	if lease <= 0 {
		return nil, &amojo.ValidationError{Field: "lease", Reason: "not positive"}
	}
	now := in.s.now()
	if err := in.s.purge(ctx, now); err != nil {
		return nil, err
	}
	token := rand.Text()
	rows, err := in.s.pool.Query(ctx, `
WITH due AS (
	SELECT id, due_at, seq FROM amojo_inbox
	WHERE state IN ('ready', 'claimed') AND due_at <= $1
	ORDER BY due_at, seq
	LIMIT $2
	FOR UPDATE SKIP LOCKED
)
UPDATE amojo_inbox AS i
SET state = 'claimed', attempts = i.attempts + 1, claim_token = $3, due_at = $4
FROM due
WHERE i.id = due.id
RETURNING i.id, i.scope_id, i.body, i.signature, i.received_at, i.attempts,
	coalesce(i.last_error, ''), i.due_at, due.due_at, due.seq`,
		now, n, token, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("pgstore: inbox claim: %w", err)
	}
	type row struct {
		ev  amojo.InboxEvent
		due time.Time
		seq int64
	}
	var got []row
	var r row
	_, err = pgx.ForEachRow(rows, []any{&r.ev.ID, &r.ev.ScopeID, &r.ev.Body, &r.ev.Signature, &r.ev.ReceivedAt,
		&r.ev.Attempts, &r.ev.LastError, &r.ev.LeaseUntil, &r.due, &r.seq}, func() error {
		r.ev.Token = token
		got = append(got, r)
		r = row{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: inbox claim: %w", err)
	}
	slices.SortFunc(got, func(a, b row) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.seq, b.seq))
	})
	out := make([]amojo.InboxEvent, len(got))
	for i := range got {
		out[i] = got[i].ev
	}
	return out, nil
}

// settle runs an UPDATE of the claimed row id under token; when it changes
// nothing, it tells a lost claim from an unknown id.
func (in *Inbox) settle(ctx context.Context, what, id, token, sql string, args ...any) error {
	tag, err := in.s.pool.Exec(ctx, sql, append([]any{id, token}, args...)...)
	if err != nil {
		return fmt.Errorf("pgstore: inbox %s: %w", what, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := in.s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM amojo_inbox WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: inbox %s: %w", what, err)
	}
	if !exists {
		return amojo.ErrInboxNotFound
	}
	return amojo.ErrInboxLeaseLost
}

// Extend moves a claimed event's lease.
func (in *Inbox) Extend(ctx context.Context, id, token string, lease time.Duration) error {
	if lease <= 0 {
		return &amojo.ValidationError{Field: "lease", Reason: "not positive"}
	}
	return in.settle(ctx, "extend", id, token, `
UPDATE amojo_inbox SET due_at = $3
WHERE id = $1 AND claim_token = $2 AND state = 'claimed'`, in.s.now().Add(lease))
}

// Done settles a claimed event as delivered, keeping its id (without body)
// for the retention.
func (in *Inbox) Done(ctx context.Context, id, token string) error {
	return in.settle(ctx, "done", id, token, `
UPDATE amojo_inbox SET state = 'done', due_at = $3, claim_token = NULL, body = '', signature = ''
WHERE id = $1 AND claim_token = $2 AND state = 'claimed'`, in.s.now())
}

// Fail settles a claimed event as failed: due again at f.RetryAt, or dead.
func (in *Inbox) Fail(ctx context.Context, id, token string, f amojo.InboxFailure) error {
	at := f.RetryAt
	if f.Dead {
		at = in.s.now()
	}
	return in.settle(ctx, "fail", id, token, `
UPDATE amojo_inbox
SET state = CASE WHEN $4::boolean THEN 'dead' ELSE 'ready' END,
	due_at = $3, claim_token = NULL, last_error = $5
WHERE id = $1 AND claim_token = $2 AND state = 'claimed'`, at, f.Dead, f.Reason)
}

// Dead lists up to n dead events after the id after, in id order.
func (in *Inbox) Dead(ctx context.Context, after string, n int) ([]amojo.InboxEvent, error) {
	if n < 1 {
		return nil, &amojo.ValidationError{Field: "n", Reason: "less than 1"}
	}
	rows, err := in.s.pool.Query(ctx, `
SELECT id, scope_id, body, signature, received_at, attempts, coalesce(last_error, '')
FROM amojo_inbox
WHERE state = 'dead' AND id > $1
ORDER BY id
LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("pgstore: inbox dead: %w", err)
	}
	var out []amojo.InboxEvent
	var ev amojo.InboxEvent
	_, err = pgx.ForEachRow(rows, []any{&ev.ID, &ev.ScopeID, &ev.Body, &ev.Signature, &ev.ReceivedAt, &ev.Attempts, &ev.LastError}, func() error {
		out = append(out, ev)
		ev = amojo.InboxEvent{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: inbox dead: %w", err)
	}
	return out, nil
}

// Requeue makes a dead event due now, with no attempts.
func (in *Inbox) Requeue(ctx context.Context, id string) error {
	tag, err := in.s.pool.Exec(ctx, `
UPDATE amojo_inbox SET state = 'ready', attempts = 0, due_at = $2
WHERE id = $1 AND state = 'dead'`, id, in.s.now())
	if err != nil {
		return fmt.Errorf("pgstore: inbox requeue: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return amojo.ErrInboxNotFound
	}
	return nil
}

// purgeBatch bounds the rows one purge deletes.
const purgeBatch = 10000

// purge deletes, at most once per purgeEvery, the rows of events delivered
// before the retention.
func (s *Store) purge(ctx context.Context, now time.Time) error {
	s.purgeMu.Lock()
	if !s.lastPurge.IsZero() && now.Sub(s.lastPurge) < purgeEvery && now.After(s.lastPurge) {
		s.purgeMu.Unlock()
		return nil
	}
	s.lastPurge = now
	s.purgeMu.Unlock()
	_, err := s.pool.Exec(ctx, `
DELETE FROM amojo_inbox WHERE id IN (
	SELECT id FROM amojo_inbox WHERE state = 'done' AND due_at < $1 LIMIT $2
)`, now.Add(-s.retention), purgeBatch)
	if err != nil {
		return fmt.Errorf("pgstore: inbox purge: %w", err)
	}
	return nil
}
