package amojo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"
)

// Errors of an Inbox.
var (
	// ErrInboxLeaseLost reports a Done, Fail or Extend whose claim is no
	// longer the event's current one: its lease expired and another worker
	// claimed the event, or the event was settled already. The other
	// worker delivers the event again, which is why delivery is
	// at-least-once.
	ErrInboxLeaseLost = errors.New("amojo: inbox lease lost")
	// ErrInboxNotFound reports an event id the inbox does not hold (in the
	// state asked for, for Requeue: dead).
	ErrInboxNotFound = errors.New("amojo: inbox event not found")
	// ErrInboxClosed reports a call on a closed inbox.
	ErrInboxClosed = errors.New("amojo: inbox closed")
)

// Inbox is a durable queue of received webhooks: the handler appends each
// verified webhook before answering amoCRM (which sends every webhook once and
// never retries), and workers claim events, deliver them and settle them.
//
// Delivery is at-least-once. An event is claimed with a lease; a worker that
// does not settle it in time (it crashed, it was killed, its lease was not
// extended) loses it, and the next Claim after the lease's end hands it out
// again, with a new claim token. A Done that did not reach the store leaves
// the event to be delivered again too. So a callback must be idempotent, keyed
// by InboxEvent.ID (stable across deliveries and replays) or by the ids inside
// the webhook (such as the message id).
//
// Implementations: MemoryInbox (not durable; tests and single processes that
// may lose events), FileInbox (a file, shared by the processes of one machine)
// and package pgstore (PostgreSQL, shared by replicas). Their behaviour is
// the same, pinned by one test suite.
type Inbox interface {
	// Append stores ev durably (for FileInbox: written and synced to disk)
	// before it returns, ready to be claimed at once. Appending an id the
	// inbox already holds (pending, claimed, dead or done within the
	// retention) does nothing and reports added false.
	Append(ctx context.Context, ev InboxEvent) (added bool, err error)

	// Claim hands out up to n events that are due: appended, due again
	// after a failure, or claimed earlier by a worker whose lease has
	// expired. Each is claimed until now+lease with a new Token; its
	// Attempts counts this claim. Oldest due first. It returns no events
	// (and no error) when none is due.
	Claim(ctx context.Context, n int, lease time.Duration) ([]InboxEvent, error)

	// Extend moves the lease of a claimed event to now+lease, for a
	// callback that needs longer. ErrInboxLeaseLost when token is not the
	// event's current claim.
	Extend(ctx context.Context, id, token string, lease time.Duration) error

	// Done settles a claimed event as delivered: it is never claimed again.
	// ErrInboxLeaseLost when token is not the event's current claim (the
	// event is delivered again by whoever holds it now).
	Done(ctx context.Context, id, token string) error

	// Fail settles a claimed event as not delivered: due again at
	// f.RetryAt, or parked as dead when f.Dead, with f.Reason kept as
	// LastError. ErrInboxLeaseLost when token is not the event's current
	// claim.
	Fail(ctx context.Context, id, token string, f InboxFailure) error

	// Dead lists up to n dead events, in id order, starting after the id
	// after ("" for the first page).
	Dead(ctx context.Context, after string, n int) ([]InboxEvent, error)

	// Requeue makes a dead event due at once, with Attempts back at 0.
	// ErrInboxNotFound when id is not a dead event.
	Requeue(ctx context.Context, id string) error
}

// InboxFailure says what to do with an event whose delivery failed.
type InboxFailure struct {
	Reason  string    // why, kept as the event's LastError
	RetryAt time.Time // when the event is due again (unless Dead)
	Dead    bool      // park the event: not claimed again until Requeue
}

// InboxEvent is one received webhook as an Inbox keeps it.
//
// ID is the event's identity: NewInboxEvent derives it from the scope id and
// the signed raw body (see InboxEventID), so the same webhook received twice —
// replayed, or duplicated by a proxy — is one event, and the id is the same in
// every delivery of it. Use it as the idempotency key of a callback.
type InboxEvent struct {
	ID         string
	ScopeID    string    // the scope id from the webhook URL
	Body       []byte    // the raw body exactly as signed
	Signature  string    // the X-Signature it came with, to verify it again
	ReceivedAt time.Time // when the handler received it

	// Set by Claim and Dead.
	Attempts   int       // claims so far, this one included
	LastError  string    // the Reason of the last Fail
	Token      string    // the claim token (Claim only)
	LeaseUntil time.Time // the end of the claim's lease (Claim only)
}

// NewInboxEvent returns the event for a webhook received at receivedAt, with
// its id derived from scopeID and body.
func NewInboxEvent(scopeID string, body []byte, signature string, receivedAt time.Time) InboxEvent {
	return InboxEvent{
		ID:         InboxEventID(scopeID, body),
		ScopeID:    scopeID,
		Body:       body,
		Signature:  signature,
		ReceivedAt: receivedAt,
	}
}

// InboxEventID returns the stable id of the webhook body received for
// scopeID: 32 lowercase hex digits, the first 128 bits of the SHA-256 of the
// scope id's length, the scope id and the body. The same bytes for the same
// scope always give the same id. Two webhooks amoCRM sent separately differ
// in their bodies (a message id, the "time" field), so they get different
// ids.
func InboxEventID(scopeID string, body []byte) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(scopeID)))
	h.Write(n[:])
	h.Write([]byte(scopeID))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Webhook parses the event's body into the WebhookEvent a callback gets, with
// ScopeID set from the event.
func (e InboxEvent) Webhook() (*WebhookEvent, error) {
	ev, err := ParseWebhook(e.Body)
	if err != nil {
		return nil, err
	}
	ev.ScopeID = e.ScopeID
	return ev, nil
}

// Validate reports the first field Append needs and e lacks as a
// *ValidationError: an id (at most 200 bytes), a body and the time received.
func (e InboxEvent) Validate() error {
	switch {
	case e.ID == "":
		return invalid("InboxEvent.ID", "empty")
	case len(e.ID) > maxInboxIDLen:
		return invalid("InboxEvent.ID", fmt.Sprintf("longer than %d bytes", maxInboxIDLen))
	case len(e.Body) == 0:
		return invalid("InboxEvent.Body", "empty")
	case e.ReceivedAt.IsZero():
		return invalid("InboxEvent.ReceivedAt", "zero")
	}
	return nil
}

// maxInboxIDLen bounds an event id.
const maxInboxIDLen = 200

// String describes the event without its body and signature.
func (e InboxEvent) String() string {
	return fmt.Sprintf("amojo.InboxEvent{ID: %s, ScopeID: %s, Attempts: %d, body: %d bytes}", e.ID, e.ScopeID, e.Attempts, len(e.Body))
}

// LogValue describes the event to log/slog without its body and signature.
func (e InboxEvent) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", e.ID),
		slog.String("scope_id", e.ScopeID),
		slog.Int("attempts", e.Attempts))
}

// AllDeadInboxEvents walks every dead event of inbox, page by page, in id
// order. It stops at the first error, which it yields once.
func AllDeadInboxEvents(ctx context.Context, inbox Inbox) iter.Seq2[InboxEvent, error] {
	const page = 100
	return func(yield func(InboxEvent, error) bool) {
		after := ""
		for {
			evs, err := inbox.Dead(ctx, after, page)
			if err != nil {
				yield(InboxEvent{}, err)
				return
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
			}
			if len(evs) < page {
				return
			}
			after = evs[len(evs)-1].ID
		}
	}
}

// checkClaimArgs validates Claim's arguments.
func checkClaimArgs(n int, lease time.Duration) error {
	if n < 1 {
		return invalid("n", "less than 1")
	}
	if lease <= 0 {
		return invalid("lease", "not positive")
	}
	return nil
}
