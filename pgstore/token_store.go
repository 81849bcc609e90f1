package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/amojo-go/amojo"
	"github.com/jackc/pgx/v5"
)

// TokenStore is the OAuth token pair saved under one key, a row of the table
// amojo_oauth_token: an amojo.TokenStore and amojo.TokenLocker shared by
// every process connected to the database. Lock is a transaction-level
// advisory lock, Load reads the row, Save is one UPSERT that writes only
// over the pair this handle last read or wrote (see the package
// documentation).
//
// It is safe for concurrent use. Its String, Format, LogValue and JSON forms
// show the key only, never a token.
type TokenStore struct {
	s   *Store
	key string
	id  int32 // the advisory lock's second key
	st  *tokenState
}

// tokenState is what a handle remembers of its row, for the
// compare-and-swap of Save.
type tokenState struct {
	mu   sync.Mutex
	seen bool   // a Load or Save through this handle has seen the row, or its absence
	last string // the refresh token it saw; "" when there was no row
}

var (
	_ amojo.TokenStore  = (*TokenStore)(nil)
	_ amojo.TokenLocker = (*TokenStore)(nil)
)

// maxTokenKey bounds the length of a key, in bytes.
const maxTokenKey = 500

// TokenStore returns a handle on the token pair saved under key. Use one
// key per account and granting user (one installation may hold several
// pairs, one per administrator who authorized it), such as
// "https://acme.amocrm.ru/user-6101": at most 500 bytes of UTF-8 without
// control characters. The store's pool must allow at least 2 connections
// (see Lock). Migrate first.
//
// A handle's first Save replaces whatever the row holds (a new
// authorization); later ones write only over the pair it last loaded or
// saved, so give each OAuthTokenSource its own handle, and save a new
// authorization through a new one.
func (s *Store) TokenStore(key string) (*TokenStore, error) {
	switch {
	case key == "":
		return nil, &amojo.ValidationError{Field: "key", Reason: "empty"}
	case len(key) > maxTokenKey:
		return nil, &amojo.ValidationError{Field: "key", Reason: fmt.Sprintf("longer than %d bytes", maxTokenKey)}
	case !utf8.ValidString(key):
		return nil, &amojo.ValidationError{Field: "key", Reason: "not valid UTF-8"}
	case strings.ContainsFunc(key, unicode.IsControl):
		return nil, &amojo.ValidationError{Field: "key", Reason: "contains control characters"}
	case s.pool.Config().MaxConns < 2:
		// The lock's transaction holds one while Load and Save need another.
		return nil, &amojo.ValidationError{Field: "pool", Reason: "a token store needs a pool of at least 2 connections"}
	}
	return &TokenStore{s: s, key: key, id: tokenLockID(key), st: &tokenState{}}, nil
}

// Key returns the key the handle's pair is saved under.
func (ts TokenStore) Key() string { return ts.key }

// tokenLockClass is the first key of a token row's advisory lock ("amot").
// PostgreSQL keeps locks taken with two int4 keys apart from locks taken
// with one int8 key, so these never meet Migrate's lock (one int8 key); a
// further two-key lock of this package takes another class.
const tokenLockClass int32 = 0x616d6f74

// tokenLockID is the second key of key's advisory lock: its 32-bit FNV-1a
// hash. Two keys with one hash share a lock, which only makes their
// refreshes wait for each other.
func tokenLockID(key string) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32())
}

// Waits of Lock: the longest pause between two tries of a lock another
// holder has, and the bound of the rollback that releases it.
const (
	lockPoll      = 20 * time.Millisecond
	unlockTimeout = 10 * time.Second
)

// Lock takes the row's exclusive lock (see amojo.TokenLocker), waiting for
// other holders, in this process and in others, until ctx is done. The lock
// is pg_advisory_xact_lock's, held by a transaction that stays open (idle)
// until unlock rolls it back; a transaction that ends otherwise (its
// connection died, the server ended it) releases it too, and then Save's
// compare-and-swap keeps a newer pair from being overwritten. Between tries
// the connection goes back to the pool. The holder's Load and Save use other
// connections: the pool needs at least two.
func (ts TokenStore) Lock(ctx context.Context) (unlock func(), err error) {
	wait := time.Millisecond
	for {
		tx, err := ts.tryLock(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, ts.errorf("lock", err)
		}
		if tx != nil {
			var once sync.Once
			return func() { once.Do(func() { rollback(tx) }) }, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ts.errorf("lock", ctx.Err())
		}
		wait = min(2*wait, lockPoll)
	}
}

// tryLock begins a transaction and tries the lock in it: the transaction
// holding it, or nil when another holder has it.
func (ts TokenStore) tryLock(ctx context.Context) (pgx.Tx, error) {
	tx, err := ts.s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	err = tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, tokenLockClass, ts.id).Scan(&got)
	if err != nil || !got {
		rollback(tx)
		return nil, err
	}
	return tx, nil
}

// rollback ends tx and with it its locks. A rollback that fails closes the
// connection, which ends them as well.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// Load reads the row: the pair last saved by any process. Nothing saved
// yet gives an error matching amojo.ErrNoToken.
func (ts TokenStore) Load(ctx context.Context) (*amojo.OAuthToken, error) {
	var tok amojo.OAuthToken
	err := ts.s.pool.QueryRow(ctx, `
SELECT account_url, access_token, refresh_token, expiry FROM amojo_oauth_token WHERE key = $1`, ts.key).
		Scan(&tok.AccountURL, &tok.AccessToken, &tok.RefreshToken, &tok.Expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		ts.st.saw("")
		return nil, fmt.Errorf("%w (pgstore: nothing saved under key %q)", amojo.ErrNoToken, ts.key)
	}
	if err != nil {
		return nil, ts.errorf("load", err)
	}
	tok.Expiry = tok.Expiry.UTC()
	ts.st.saw(tok.RefreshToken)
	return &tok, nil
}

// Save writes tok into the row in one statement, committed before it
// returns, keeping Expiry to the microsecond. The handle's first Save
// replaces what the row holds; after a Load or Save it writes only over the
// pair that one saw (or over tok itself, a save repeated), and otherwise
// fails with an error matching amojo.ErrTokenConflict: another process saved
// a pair meanwhile, and it is the newer one. A missing row is inserted.
func (ts TokenStore) Save(ctx context.Context, tok *amojo.OAuthToken) error {
	if tok == nil {
		return &amojo.ValidationError{Field: "OAuthToken", Reason: "nil"}
	}
	if err := tok.Validate(); err != nil {
		return err
	}
	for _, f := range [...]struct{ name, v string }{{"AccountURL", tok.AccountURL}, {"AccessToken", tok.AccessToken}, {"RefreshToken", tok.RefreshToken}} {
		if !utf8.ValidString(f.v) {
			return &amojo.ValidationError{Field: "OAuthToken." + f.name, Reason: "not valid UTF-8"}
		}
	}
	seen, last := ts.st.get()
	tag, err := ts.s.pool.Exec(ctx, `
INSERT INTO amojo_oauth_token AS t (key, account_url, access_token, refresh_token, expiry)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key) DO UPDATE
SET account_url = EXCLUDED.account_url, access_token = EXCLUDED.access_token,
	refresh_token = EXCLUDED.refresh_token, expiry = EXCLUDED.expiry, updated_at = now()
WHERE NOT $6::boolean OR t.refresh_token = $7 OR t.refresh_token = EXCLUDED.refresh_token`,
		ts.key, tok.AccountURL, tok.AccessToken, tok.RefreshToken, tok.Expiry.UTC().Truncate(time.Microsecond), seen, last)
	if err != nil {
		return ts.errorf("save", err)
	}
	if tag.RowsAffected() == 0 {
		return ts.errorf("save", amojo.ErrTokenConflict)
	}
	ts.st.saw(tok.RefreshToken)
	return nil
}

func (st *tokenState) saw(refresh string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seen, st.last = true, refresh
}

func (st *tokenState) get() (seen bool, last string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seen, st.last
}

// errorf wraps err from step op; err never holds a token (pgx's errors do
// not quote query arguments).
func (ts TokenStore) errorf(op string, err error) error {
	return fmt.Errorf("pgstore: token store %q: %s: %w", ts.key, op, err)
}

// String describes the store by its key.
func (ts TokenStore) String() string { return "pgstore.TokenStore{key: " + ts.key + "}" }

// Format prints String for every verb, by value and by pointer: quoted for
// %q, as text for the others.
func (ts TokenStore) Format(f fmt.State, verb rune) {
	v := 's'
	if verb == 'q' {
		v = 'q'
	}
	fmt.Fprintf(f, fmt.FormatString(f, v), ts.String())
}

// LogValue describes the store to log/slog by its key.
func (ts TokenStore) LogValue() slog.Value { return slog.GroupValue(slog.String("key", ts.key)) }

// MarshalJSON writes the key only.
func (ts TokenStore) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Key string `json:"key"`
	}{ts.key})
}
