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
// processes should also implement TokenLocker.
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
// advisory lock: take a connection from the pool, SELECT
// pg_advisory_lock(key) on it (key derived from the account and user), and
// have unlock run pg_advisory_unlock(key) and return the connection — or
// close it, which releases the lock too. Load and Save are called while the
// lock is held and may use other connections.
type TokenLocker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

// ErrNoToken reports a TokenStore that holds no token yet: authorize the
// integration first (see OAuthConfig.Exchange).
var ErrNoToken = errors.New("amojo: no OAuth token stored; authorize the integration first")
