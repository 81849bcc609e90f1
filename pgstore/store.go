package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the PostgreSQL state of an integration. It is safe for
// concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	owned     bool // Open made the pool; Close closes it
	now       func() time.Time
	retention time.Duration
	lease     time.Duration // of a conversation's claim

	purgeMu   sync.Mutex
	lastPurge time.Time

	renewMu  sync.Mutex
	renewers map[*renewer]bool // running, for Close to stop
	closed   bool
}

// Option configures a Store.
type Option func(*config) error

type config struct {
	now       func() time.Time
	retention time.Duration
	lease     time.Duration
}

// WithClock sets the clock of leases and due times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return &amojo.ValidationError{Field: "Clock", Reason: "nil"}
		}
		c.now = now
		return nil
	}
}

// WithRetention sets how long the id of a delivered inbox event is kept
// (default amojo.DefaultInboxRetention).
func WithRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return &amojo.ValidationError{Field: "Retention", Reason: "not positive"}
		}
		c.retention = d
		return nil
	}
}

// WithClaimLease sets how long a conversation's claim (Checkpoint.Claim)
// lasts past its holder's last renewal (default DefaultClaimLease): how
// long the conversations of an importer that died stay claimed. The holder
// renews every third of it; one that cannot renew for that long (stalled,
// or cut off from the database) loses its claims.
func WithClaimLease(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return &amojo.ValidationError{Field: "ClaimLease", Reason: "not positive"}
		}
		c.lease = d
		return nil
	}
}

// Open connects to the database of dsn (a postgres:// URL or a keyword/value
// string, as pgx reads them) with a pool of its own, which Close closes.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if dsn == "" {
		return nil, &amojo.ValidationError{Field: "dsn", Reason: "empty"}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the connection string, password and all.
		return nil, errors.New("pgstore: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s, err := New(pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New uses pool, which stays the caller's: Close does not close it.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, &amojo.ValidationError{Field: "pool", Reason: "nil"}
	}
	c := config{now: time.Now, retention: amojo.DefaultInboxRetention, lease: DefaultClaimLease}
	for i, opt := range opts {
		if opt == nil {
			return nil, &amojo.ValidationError{Field: fmt.Sprintf("opts[%d]", i), Reason: "nil option"}
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	return &Store{pool: pool, now: c.now, retention: c.retention, lease: c.lease}, nil
}

// Pool returns the store's pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the renewal of the claims its checkpoints still hold (their
// leases then end them) and closes the pool if Open made it. No goroutine
// of the Store outlives Close.
func (s *Store) Close() {
	s.renewMu.Lock()
	s.closed = true
	running := slices.Collect(maps.Keys(s.renewers))
	clear(s.renewers)
	s.renewMu.Unlock()
	for _, r := range running {
		r.stop()
	}
	if s.owned {
		s.pool.Close()
	}
}
