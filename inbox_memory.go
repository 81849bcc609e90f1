package amojo

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultInboxRetention is how long an inbox remembers the id of a delivered
// event, so that the same webhook appended again within that time is
// recognised and not delivered twice.
const DefaultInboxRetention = time.Hour

// InboxOption configures a MemoryInbox or a FileInbox.
type InboxOption func(*inboxConfig) error

type inboxConfig struct {
	now       func() time.Time
	retention time.Duration
}

func newInboxConfig(opts []InboxOption) (inboxConfig, error) {
	c := inboxConfig{now: time.Now, retention: DefaultInboxRetention}
	for i, opt := range opts {
		if opt == nil {
			return c, invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithInboxClock sets the clock of leases and due times (default time.Now).
func WithInboxClock(now func() time.Time) InboxOption {
	return func(c *inboxConfig) error {
		if now == nil {
			return invalid("InboxClock", "nil")
		}
		c.now = now
		return nil
	}
}

// WithInboxRetention sets how long the id of a delivered event is remembered
// (default DefaultInboxRetention).
func WithInboxRetention(d time.Duration) InboxOption {
	return func(c *inboxConfig) error {
		if d <= 0 {
			return invalid("InboxRetention", "not positive")
		}
		c.retention = d
		return nil
	}
}

// MemoryInbox is an Inbox in memory. It is not durable: the events it holds
// are lost with the process. Use it in tests, or where losing accepted
// webhooks on a crash is acceptable. It is safe for concurrent use.
type MemoryInbox struct {
	mu        sync.Mutex
	idx       *inboxIndex
	now       func() time.Time
	retention time.Duration
}

var _ Inbox = (*MemoryInbox)(nil)

// NewMemoryInbox returns an empty MemoryInbox.
func NewMemoryInbox(opts ...InboxOption) (*MemoryInbox, error) {
	c, err := newInboxConfig(opts)
	if err != nil {
		return nil, err
	}
	return &MemoryInbox{idx: newInboxIndex(), now: c.now, retention: c.retention}, nil
}

// Append adds ev unless its id is known.
func (m *MemoryInbox) Append(_ context.Context, ev InboxEvent) (bool, error) {
	if err := ev.Validate(); err != nil {
		return false, err
	}
	ev = storedEvent(ev)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.idx.purge(now.Add(-m.retention))
	return m.idx.add(ev, stateReady, appendDue(ev, now)), nil
}

// Claim leases up to n due events.
func (m *MemoryInbox) Claim(_ context.Context, n int, lease time.Duration) ([]InboxEvent, error) {
	if err := checkClaimArgs(n, lease); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.idx.purge(now.Add(-m.retention))
	ids := m.idx.dueIDs(now, n)
	m.idx.claim(ids, newClaimToken(), now.Add(lease))
	return claimed(m.idx, ids), nil
}

// Extend moves a claimed event's lease.
func (m *MemoryInbox) Extend(_ context.Context, id, token string, lease time.Duration) error {
	if lease <= 0 {
		return invalid("lease", "not positive")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.idx.checkClaim(id, token); err != nil {
		return err
	}
	m.idx.extend(id, m.now().Add(lease))
	return nil
}

// Done settles a claimed event as delivered.
func (m *MemoryInbox) Done(_ context.Context, id, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.idx.checkClaim(id, token); err != nil {
		return err
	}
	m.idx.settleDone(id, m.now())
	return nil
}

// Fail settles a claimed event as failed.
func (m *MemoryInbox) Fail(_ context.Context, id, token string, f InboxFailure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.idx.checkClaim(id, token); err != nil {
		return err
	}
	m.idx.settleFail(id, f.Reason, failAt(f, m.now()), f.Dead)
	return nil
}

// Dead lists dead events.
func (m *MemoryInbox) Dead(_ context.Context, after string, n int) ([]InboxEvent, error) {
	if n < 1 {
		return nil, invalid("n", "less than 1")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.idx.deadEvents(after, n), nil
}

// Requeue makes a dead event due now.
func (m *MemoryInbox) Requeue(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.idx.isDead(id) {
		return ErrInboxNotFound
	}
	m.idx.requeue(id, m.now())
	return nil
}

// storedEvent is ev as an inbox keeps it: its own copy of the body and none
// of the fields Claim sets.
func storedEvent(ev InboxEvent) InboxEvent {
	return InboxEvent{
		ID: ev.ID, ScopeID: ev.ScopeID, Body: append([]byte(nil), ev.Body...),
		Signature: ev.Signature, ReceivedAt: ev.ReceivedAt,
	}
}

// claimed returns copies of the events ids.
func claimed(x *inboxIndex, ids []string) []InboxEvent {
	out := make([]InboxEvent, len(ids))
	for i, id := range ids {
		out[i] = x.event(id)
	}
	return out
}

// appendDue is when an event appended at now is due: at once, even when it
// was received by a process whose clock is ahead of the inbox's.
func appendDue(ev InboxEvent, now time.Time) time.Time {
	if ev.ReceivedAt.Before(now) {
		return ev.ReceivedAt
	}
	return now
}

// failAt is when a failed event is due again, or, for a dead one, parked.
func failAt(f InboxFailure, now time.Time) time.Time {
	if f.Dead {
		return now
	}
	return f.RetryAt
}
