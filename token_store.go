package amojo

import (
	"context"
	"errors"
)

// TokenStore keeps the token pair of one account (one installation of the
// integration by one user) where every process using it can read it: a
// file, a database row. Load returns the newest pair saved; Save replaces it,
// durably, before it returns nil: an OAuthTokenSource hands a new access
// token to nobody before its pair is saved, since the refresh that produced
// it killed the previous refresh token for every process.
//
// Load returns an error matching ErrNoToken when nothing was saved yet. Both
// methods must be safe for concurrent use. A store shared by several
// processes should also implement TokenLocker. Such a store may also compare
// before it writes: refuse a Save when it no longer holds the pair the new
// one was refreshed from, with an error matching ErrTokenConflict (package
// pgstore's store does), so that a process whose lock was lost cannot
// overwrite a newer pair with one whose refresh token is spent.
type TokenStore interface {
	Load(ctx context.Context) (*OAuthToken, error)
	Save(ctx context.Context, tok *OAuthToken) error
}

// TokenLocker is implemented by a TokenStore shared by several processes (or
// replicas). Lock blocks until the caller holds the store's exclusive lock,
// or ctx is done; unlock releases it. An OAuthTokenSource holds the lock
// around "load, refresh if still needed, save", so of several processes that
// find the access token expired only the first refreshes and the others load
// the pair it saved.
//
// The lock must exclude every other holder, in this process and in others,
// and is never taken twice by one holder. A database store can use an
// advisory lock (key derived from the account and user): package pgstore
// takes a transaction-level one (pg_try_advisory_xact_lock) in a transaction
// that unlock rolls back, which releases it even when the connection dies;
// a session lock
// (pg_advisory_lock on a connection taken from the pool) needs unlock to run
// pg_advisory_unlock before returning the connection, or to close it. Load
// and Save are called while the lock is held and may use other connections.
type TokenLocker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

// ErrNoToken reports a TokenStore that holds no token yet: authorize the
// integration first (see OAuthConfig.Exchange).
var ErrNoToken = errors.New("amojo: no OAuth token stored; authorize the integration first")

// ErrTokenConflict reports a TokenStore that refused a Save because it no
// longer holds the pair the saved one replaces: another process saved a pair
// since (it refreshed the same pair, or the user authorized again). The
// stored pair is the one to use: an OAuthTokenSource whose kept, unsaved
// pair is refused this way drops it and loads the stored one.
var ErrTokenConflict = errors.New("amojo: the token store holds another pair than the one this save replaces")
