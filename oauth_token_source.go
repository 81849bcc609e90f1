package amojo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultRefreshMargin is the longest an OAuthTokenSource refreshes before
// the access token expires, unless WithRefreshMargin says otherwise: a tenth
// of the token's lifetime, at most this.
const DefaultRefreshMargin = 10 * time.Minute

// defaultAccessLifetime is amoCRM's access token lifetime, assumed for a
// token whose lifetime is not known otherwise.
const defaultAccessLifetime = 24 * time.Hour

// Bounds of the steps of a renewal: waiting for the store's lock and loading
// (lockTimeout), and saving a new pair (saveTimeout).
const (
	lockTimeout = time.Minute
	saveTimeout = 30 * time.Second
)

// ErrTokenNotSaved reports a new token pair that the TokenStore refused to
// save. The pair is kept in memory and saved again before the next token is
// handed out; until then every call fails with this error. Do not stop the
// process before a save succeeded: the previous refresh token is already
// dead, and this pair is the only one left.
var ErrTokenNotSaved = errors.New("amojo: oauth: the new token pair could not be saved")

// errSourceClosed is returned by Token after Close.
var errSourceClosed = errors.New("amojo: oauth: token source closed")

// TokenRefresher is implemented by a TokenSource that can replace a token the
// REST API refused. The CRM client calls TokenRejected with the token it
// sent whenever a call is answered 401; after the first 401 of a call it
// sends the call once more with what Token returns next, and a second 401 is
// returned to the caller. TokenRejected must not block: it marks the token,
// and the next Token call does the work (such as a refresh). A token that is
// no longer the current one (another goroutine refreshed already) should be
// ignored. StaticToken does not implement it: a long-lived token's 401 is
// the answer.
type TokenRefresher interface {
	TokenSource
	TokenRejected(ctx context.Context, token string)
}

// tokenRejectedHook tells tokens, when it is a TokenRefresher, about the
// Bearer token of a request answered 401; nil for other sources.
func tokenRejectedHook(tokens TokenSource) func(context.Context, *http.Request) {
	tr, ok := tokens.(TokenRefresher)
	if !ok {
		return nil
	}
	return func(ctx context.Context, sent *http.Request) {
		scheme, tok, _ := strings.Cut(sent.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "Bearer") && tok != "" {
			tr.TokenRejected(ctx, tok)
		}
	}
}

// OAuthTokenSource supplies the access token of one OAuth token pair, kept
// in a TokenStore, and refreshes it without ever losing it:
//
//   - it refreshes ahead of expiry (see WithRefreshMargin), and when the REST
//     API answers 401 (it is a TokenRefresher): once, then the call is sent
//     once more;
//   - a refresh is POST {account}/oauth2/access_token with grant_type
//     refresh_token and the Redirect URI; the new pair is saved in the store
//     before its access token is handed to anyone; a failed save is
//     ErrTokenNotSaved for the caller, the pair stays in memory and is saved
//     again on the next call (unless the store then refuses it with
//     ErrTokenConflict, holding a newer pair: that one is loaded instead);
//   - refreshes are serialised: the goroutines of a process that need one
//     wait for a single refresh, and, with a store that is a TokenLocker
//     (FileTokenStore is), processes sharing the store take its lock around
//     "load, refresh if still needed, save", so a process that waited uses
//     the pair another one just saved;
//   - a refresh token that is revoked or already used gives
//     ErrRefreshTokenRevoked (after re-reading the store found nothing newer):
//     the user must authorize the integration again;
//   - a refresh answered 401 or 404 without either hint may mean the
//     account's subdomain changed: the source asks the access token's
//     api_domain for the current address, saves the pair with it and refreshes
//     there once (see AccountURL).
//
// Once a refresh request is sent, it and the save of its answer run to the
// end even if every caller's context is done: abandoning them would lose the
// rotated pair. Close waits for them.
//
// It is safe for concurrent use. Its String, Format, LogValue and JSON forms
// never contain a token or the client secret.
type OAuthTokenSource struct{ s *tokenSource }

type tokenSource struct {
	cfg    OAuthConfig
	store  TokenStore
	locker TokenLocker // nil when the store has no lock
	o      *options
	wg     sync.WaitGroup

	mu       sync.Mutex
	cur      *OAuthToken   // newest pair known; nil before the first load
	life     time.Duration // cur's lifetime when this process obtained it; 0: unknown
	unsaved  bool          // cur came from a refresh and is not in the store yet
	rejected string        // an access token the REST API refused
	flight   *renewal      // the renewal in progress
	closed   bool
}

// renewal is one load-or-refresh that every waiting caller shares.
type renewal struct {
	done   chan struct{}
	cancel context.CancelFunc // ends the waits that come before the refresh is sent
	access string
	err    error
}

// NewOAuthTokenSource returns a token source for the pair in store, for the
// integration cfg. Nothing is read before the first Token call. Options:
// WithHTTPClient, WithClock (expiry), WithLogger (refreshes, saves; never a
// token), WithRetry (only 429s are retried: a refresh works once),
// WithUserAgent, WithRefreshMargin, WithAccountHosts.
func NewOAuthTokenSource(cfg OAuthConfig, store TokenStore, opts ...Option) (*OAuthTokenSource, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, invalid("store", "nil TokenStore")
	}
	o, err := buildOAuthOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &tokenSource{cfg: cfg, store: store, o: o}
	s.locker, _ = store.(TokenLocker)
	return &OAuthTokenSource{s: s}, nil
}

// Token returns a valid access token: the one in memory while it is fresh,
// else what the store holds, else a new one from a refresh.
func (t OAuthTokenSource) Token(ctx context.Context) (string, error) {
	s := t.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errSourceClosed
	}
	if s.cur != nil && !s.unsaved && s.cur.AccessToken != s.rejected && s.fresh(s.cur, s.life) {
		tok := s.cur.AccessToken
		s.mu.Unlock()
		return tok, nil
	}
	f := s.flight
	if f == nil {
		f = s.startLocked(ctx)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.access, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("amojo: oauth: waiting for the token: %w", ctx.Err())
	}
}

// TokenRejected marks token as refused by the REST API, so the next Token
// call refreshes, unless the store already holds a newer pair.
func (t OAuthTokenSource) TokenRejected(_ context.Context, token string) {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && token != "" && s.cur.AccessToken == token {
		s.rejected = token
	}
}

// AccountURL returns the address of the account the pair belongs to, such
// as "https://acme.amocrm.ru", loading the pair if needed. It changes when
// the source followed a subdomain change; a CRMClient made for the old
// address must then be made again.
func (t OAuthTokenSource) AccountURL(ctx context.Context) (string, error) {
	if _, err := t.Token(ctx); err != nil {
		return "", err
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.cur.AccountURL, nil
}

// Close waits for a refresh in flight to be saved, and makes later Token
// calls fail. A wait for the store's lock ends at once.
func (t OAuthTokenSource) Close() error {
	s := t.s
	s.mu.Lock()
	s.closed = true
	if s.flight != nil {
		s.flight.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// startLocked starts a renewal; s.mu is held.
func (s *tokenSource) startLocked(ctx context.Context) *renewal {
	pre, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	f := &renewal{done: make(chan struct{}), cancel: cancel}
	s.flight = f
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		access, err := s.renew(pre)
		cancel()
		s.mu.Lock()
		s.flight = nil
		s.mu.Unlock()
		f.access, f.err = access, err
		close(f.done)
	}()
	return f
}

// margin is how long before tok's expiry it counts as stale: the option's
// margin, else a tenth of its lifetime (from the JWT's iat and exp, else
// life: its expires_in, or what it had left when read from the store; else
// amoCRM's day), at most DefaultRefreshMargin.
func (s *tokenSource) margin(tok *OAuthToken, life time.Duration) time.Duration {
	if s.o.oauth.margin > 0 {
		return s.o.oauth.margin
	}
	if c, ok := parseJWT(tok.AccessToken); ok && !c.IssuedAt.IsZero() && c.Expiry.After(c.IssuedAt) {
		life = c.Expiry.Sub(c.IssuedAt)
	}
	if life <= 0 {
		life = defaultAccessLifetime
	}
	return min(life/10, DefaultRefreshMargin)
}

// fresh reports whether tok, obtained with lifetime life (0: unknown), may
// be handed out without a refresh.
func (s *tokenSource) fresh(tok *OAuthToken, life time.Duration) bool {
	return s.o.now().Before(tok.Expiry.Add(-s.margin(tok, life)))
}

// setCurrent makes tok the pair in memory.
func (s *tokenSource) setCurrent(tok *OAuthToken, life time.Duration, unsaved bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.life, s.unsaved = tok, life, unsaved
}

// renew brings the pair up to date: under the store's lock, the store is
// read again (unless the pair in memory is newer and unsaved), and only if
// the pair there is still stale or refused is it refreshed and the new pair
// saved.
func (s *tokenSource) renew(pre context.Context) (string, error) {
	if s.locker != nil {
		unlock, err := s.locker.Lock(pre)
		if err != nil {
			return "", fmt.Errorf("amojo: oauth: lock the token store: %w", err)
		}
		defer unlock()
	}
	s.mu.Lock()
	base, life, unsaved, rejected := s.cur, s.life, s.unsaved, s.rejected
	s.mu.Unlock()
	if unsaved {
		// The store still holds the pair whose refresh token this one
		// replaced: save it before anything else. A store that holds
		// another pair by now (ErrTokenConflict: a save reported failed
		// had been written, and another process refreshed that pair
		// since) holds the newer one: load it instead of overwriting it.
		err := s.save(pre, base)
		if errors.Is(err, ErrTokenConflict) {
			unsaved = false
		} else if err != nil {
			return "", err
		}
	}
	if !unsaved {
		stored, err := s.load(pre)
		if err != nil {
			return "", err
		}
		if base != nil && stored.RefreshToken != base.RefreshToken {
			s.log(pre, slog.LevelInfo, "amojo oauth token reloaded", stored, nil)
		}
		base, life = stored, s.lifeOf(stored)
	}
	if s.fresh(base, life) && base.AccessToken != rejected {
		return base.AccessToken, nil
	}
	return s.refresh(pre, base)
}

// load reads the store and makes its pair the one in memory.
func (s *tokenSource) load(ctx context.Context) (*OAuthToken, error) {
	stored, err := s.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("amojo: oauth: load the token: %w", err)
	}
	if err := checkToken(stored); err != nil {
		return nil, fmt.Errorf("amojo: oauth: the store holds an unusable token: %w", err)
	}
	tok := *stored
	s.setCurrent(&tok, s.lifeOf(&tok), false)
	return &tok, nil
}

// lifeOf is the lifetime assumed for a pair read from the store, when its
// JWT does not tell: the one known for it if it is the pair in memory, else
// the time it has left. A pair another process just obtained then gets
// about its real lifetime, and a short-lived opaque token is never taken for
// stale as soon as it is read.
func (s *tokenSource) lifeOf(tok *OAuthToken) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.AccessToken == tok.AccessToken && s.life > 0 {
		return s.life
	}
	return max(tok.Expiry.Sub(s.o.now()), 0)
}

// refresh spends base's refresh token and saves the new pair. From the
// moment the request is sent nothing is cancelled any more.
func (s *tokenSource) refresh(pre context.Context, base *OAuthToken) (string, error) {
	ctx := context.WithoutCancel(pre)
	start := s.o.now()
	tok, err := s.cfg.refresh(ctx, s.o, base)
	switch {
	case errors.Is(err, ErrRefreshTokenRevoked):
		// Someone refreshed without holding the lock (or the store has
		// none): if the store holds another pair, that one is newer.
		newer := s.newerInStore(ctx, base)
		if newer == nil {
			break
		}
		if s.fresh(newer, s.lifeOf(newer)) {
			return newer.AccessToken, nil
		}
		start = s.o.now()
		tok, err = s.cfg.refresh(ctx, s.o, newer)
	case accountMayHaveMoved(err):
		if moved, merr := s.follow(ctx, base); merr != nil {
			return "", merr
		} else if moved != nil {
			start = s.o.now()
			tok, err = s.cfg.refresh(ctx, s.o, moved)
		}
	}
	if err != nil {
		s.log(ctx, slog.LevelWarn, "amojo oauth refresh failed", base, err)
		return "", err
	}
	// The old refresh token is dead now: this pair is the only one left.
	// Keep it, then save it before anyone gets its access token.
	s.setCurrent(tok, tok.Expiry.Sub(start), true)
	if err := s.save(ctx, tok); err != nil {
		return "", err
	}
	s.log(ctx, slog.LevelInfo, "amojo oauth token refreshed", tok, nil)
	return tok.AccessToken, nil
}

// newerInStore returns the store's pair if it is not base (nil otherwise),
// making it the pair in memory.
func (s *tokenSource) newerInStore(ctx context.Context, base *OAuthToken) *OAuthToken {
	stored, err := s.store.Load(ctx)
	if err != nil || checkToken(stored) != nil || stored.RefreshToken == base.RefreshToken {
		return nil
	}
	tok := *stored
	s.setCurrent(&tok, s.lifeOf(&tok), false)
	s.log(ctx, slog.LevelInfo, "amojo oauth token reloaded", &tok, nil)
	return &tok
}

// accountMayHaveMoved reports a refresh answered 401 or 404 without the
// revoked or not-linked hint: what a request to an account's old subdomain
// gets.
func accountMayHaveMoved(err error) bool {
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Hint != "" {
		return false
	}
	return oe.StatusCode == http.StatusUnauthorized || oe.StatusCode == http.StatusNotFound
}

// follow asks amoCRM where base's account lives now. When the address
// changed it saves the pair with the new address and returns it; nil when
// the lookup failed or found the same address (the refresh's own error then
// stands).
func (s *tokenSource) follow(ctx context.Context, base *OAuthToken) (*OAuthToken, error) {
	moved, err := lookupSubdomain(ctx, s.o, base.AccessToken, base.RefreshToken, base.AccountURL)
	if err != nil || moved == base.AccountURL {
		return nil, nil
	}
	next := *base
	next.AccountURL = moved
	s.log(ctx, slog.LevelWarn, "amojo oauth account moved", &next, nil)
	s.setCurrent(&next, 0, true)
	if err := s.save(ctx, &next); err != nil {
		return nil, err
	}
	return &next, nil
}

// save stores tok, which is the pair in memory; on failure it stays there,
// marked unsaved.
func (s *tokenSource) save(ctx context.Context, tok *OAuthToken) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	saved := *tok
	if err := s.store.Save(sctx, &saved); err != nil {
		s.log(ctx, slog.LevelError, "amojo oauth token not saved", tok, err)
		return fmt.Errorf("%w (kept in memory; saved again on the next call): %w", ErrTokenNotSaved, err)
	}
	s.mu.Lock()
	if s.cur == tok {
		s.unsaved = false
	}
	s.mu.Unlock()
	return nil
}

// log writes one line about tok: its account and expiry, never a token.
func (s *tokenSource) log(ctx context.Context, level slog.Level, msg string, tok *OAuthToken, err error) {
	l := s.o.logger
	if l == nil || !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("account", tok.AccountURL), slog.Time("expiry", tok.Expiry)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.LogAttrs(ctx, level, msg, attrs...)
}

// String describes the source: its integration and the account and expiry
// of its pair, never a token or the secret.
func (t OAuthTokenSource) String() string {
	if t.s == nil {
		return "amojo.OAuthTokenSource{}"
	}
	account, expiry := t.current()
	return fmt.Sprintf("amojo.OAuthTokenSource{client_id: %s, account: %s, expiry: %s}", t.s.cfg.ClientID, account, formatExpiry(expiry))
}

func (t OAuthTokenSource) current() (account string, expiry time.Time) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.cur == nil {
		return "not loaded", time.Time{}
	}
	return t.s.cur.AccountURL, t.s.cur.Expiry
}

// Format prints String for every verb, by value and by pointer.
func (t OAuthTokenSource) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

// LogValue describes the source to log/slog without tokens or the secret.
func (t OAuthTokenSource) LogValue() slog.Value {
	if t.s == nil {
		return slog.GroupValue()
	}
	account, expiry := t.current()
	return slog.GroupValue(slog.String("client_id", t.s.cfg.ClientID), slog.String("account", account), slog.Time("expiry", expiry))
}

// MarshalJSON writes what String shows.
func (t OAuthTokenSource) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.String())
}
