package pgstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/amojo-go/amojo/importer"
)

// DefaultClaimLease is how long a claim of a conversation outlives its
// holder's last renewal unless WithClaimLease says otherwise.
const DefaultClaimLease = 30 * time.Second

// claimSQL takes the claim row of a conversation: a new one, an expired
// one, or one of this owner's that a failed release left behind. It locks
// the row FOR UPDATE first, which waits for a Record of the holder under
// way (see fenceClaimed), and returns the holder it found.
const claimSQL = `
WITH cur AS (
	SELECT owner, holder, expires_at FROM amojo_checkpoint_claims
	WHERE name = $1 AND conversation_id = $2
	FOR UPDATE
),
taken AS (
	INSERT INTO amojo_checkpoint_claims AS c (name, conversation_id, owner, holder, claimed_at, expires_at)
	SELECT $1, $2, $3::text, $4::text, $5::timestamptz, $6::timestamptz
	WHERE NOT EXISTS (SELECT FROM cur WHERE cur.owner <> $3::text AND cur.expires_at > $5::timestamptz)
	ON CONFLICT (name, conversation_id) DO UPDATE
	SET owner = EXCLUDED.owner, holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
	WHERE c.owner = EXCLUDED.owner OR c.expires_at <= EXCLUDED.claimed_at
	RETURNING 1
)
SELECT EXISTS (SELECT FROM taken), (SELECT holder FROM cur), (SELECT expires_at FROM cur)`

// Claim reserves the conversation for this Checkpoint (importer.Claimer):
// one row in amojo_checkpoint_claims with this Checkpoint's random owner id
// and a lease, renewed in the background while any claim is held, every
// third of the lease. It fails with an error wrapping importer.ErrClaimed,
// naming the holder (host and process id) and the end of its lease, when
// another importer holds the conversation and its lease has not expired, or
// when this Checkpoint holds it already. A claim whose holder died expires
// after the lease (DefaultClaimLease unless WithClaimLease says otherwise),
// and another importer can then take the conversation over. The renewal
// runs until the last claim is released or the Store is closed.
func (c *Checkpoint) Claim(ctx context.Context, conversationID string) error {
	if err := c.check(conversationID); err != nil {
		return err
	}
	c.mu.Lock()
	if c.held[conversationID] {
		c.mu.Unlock()
		return fmt.Errorf("pgstore: checkpoint %q: conversation %q: claimed by this importer already: %w", c.name, conversationID, importer.ErrClaimed)
	}
	c.held[conversationID] = true
	c.mu.Unlock()
	err := c.claim(ctx, conversationID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.held, conversationID)
		return err
	}
	if c.renewer == nil {
		c.renewer = startRenewer(c)
	}
	return nil
}

func (c *Checkpoint) claim(ctx context.Context, conversationID string) error {
	now := c.s.now()
	var took bool
	var holder *string
	var until *time.Time
	err := c.s.pool.QueryRow(ctx, claimSQL, c.name, conversationID, c.owner, c.holder, now, now.Add(c.s.lease)).Scan(&took, &holder, &until)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: checkpoint %q: claim %q: %w", c.name, conversationID, err)
	case took:
		return nil
	case holder == nil || until == nil:
		// Another importer claimed it at the same moment.
		return fmt.Errorf("pgstore: checkpoint %q: conversation %q: claimed by another importer: %w", c.name, conversationID, importer.ErrClaimed)
	}
	return fmt.Errorf("pgstore: checkpoint %q: conversation %q: claimed by %s until %s: %w",
		c.name, conversationID, *holder, until.UTC().Format(time.RFC3339), importer.ErrClaimed)
}

// Release ends this Checkpoint's claim of the conversation (deleting its
// row), so another importer may take the conversation at once. Releasing a
// conversation it does not hold does nothing. When the database cannot be
// reached the claim is forgotten here all the same and its lease ends it.
func (c *Checkpoint) Release(ctx context.Context, conversationID string) error {
	if err := c.check(conversationID); err != nil {
		return err
	}
	c.mu.Lock()
	if !c.held[conversationID] {
		c.mu.Unlock()
		return nil
	}
	delete(c.held, conversationID)
	var last *renewer
	if len(c.held) == 0 {
		last, c.renewer = c.renewer, nil
	}
	c.mu.Unlock()
	if last != nil {
		last.stop()
	}
	_, err := c.s.pool.Exec(ctx, `DELETE FROM amojo_checkpoint_claims WHERE name = $1 AND conversation_id = $2 AND owner = $3`,
		c.name, conversationID, c.owner)
	if err != nil {
		return fmt.Errorf("pgstore: checkpoint %q: release %q: %w", c.name, conversationID, err)
	}
	return nil
}

// renew moves the lease of every claim this Checkpoint holds to now plus
// the lease. A claim another importer took over (after it expired) is not
// this owner's any more and stays as it is.
func (c *Checkpoint) renew(ctx context.Context) error {
	c.mu.Lock()
	ids := slices.Collect(maps.Keys(c.held))
	c.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	_, err := c.s.pool.Exec(ctx, `
UPDATE amojo_checkpoint_claims SET expires_at = $4
WHERE name = $1 AND owner = $2 AND conversation_id = ANY($3)`, c.name, c.owner, ids, c.s.now().Add(c.s.lease))
	if err != nil {
		return fmt.Errorf("pgstore: checkpoint %q: renew claims: %w", c.name, err)
	}
	return nil
}

// renewer is the goroutine renewing a Checkpoint's claims. The Store keeps
// track of it, so that Close stops it.
type renewer struct {
	s      *Store
	cancel context.CancelFunc
	done   chan struct{}
}

func startRenewer(c *Checkpoint) *renewer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &renewer{s: c.s, cancel: cancel, done: make(chan struct{})}
	c.s.renewMu.Lock()
	defer c.s.renewMu.Unlock()
	if c.s.closed {
		close(r.done) // a closed Store renews nothing
		return r
	}
	if c.s.renewers == nil {
		c.s.renewers = make(map[*renewer]bool)
	}
	c.s.renewers[r] = true
	every := max(c.s.lease/3, time.Millisecond)
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A failed renewal is tried again at the next tick; the claims
			// last a whole lease from the last one that worked.
			rctx, cancel := context.WithTimeout(ctx, every)
			_ = c.renew(rctx)
			cancel()
		}
	}()
	return r
}

// stop ends the goroutine, cancelling a renewal under way, and waits for
// it. It may be called more than once.
func (r *renewer) stop() {
	r.s.renewMu.Lock()
	delete(r.s.renewers, r)
	r.s.renewMu.Unlock()
	r.cancel()
	<-r.done
}
