package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oauthClock is a clock the test moves by hand, shared by the fake and the
// clients.
type oauthClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *oauthClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *oauthClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// oauthEnv is a fake amoCRM with one authorized installation: its first pair
// saved in a FileTokenStore, a token source on it and a CRM client using it.
type oauthEnv struct {
	srv   *amojotest.Server
	clock *oauthClock
	cfg   amojo.OAuthConfig
	first *amojo.OAuthToken
	store *amojo.FileTokenStore
	src   *amojo.OAuthTokenSource
	crm   *amojo.CRMClient
}

func oauthSetup(t *testing.T, fakeOpts ...amojotest.Option) *oauthEnv {
	t.Helper()
	e := &oauthEnv{clock: &oauthClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.srv = amojotest.NewServer(append([]amojotest.Option{amojotest.WithClock(e.clock.Now), amojotest.WithRateLimit(0, 0)}, fakeOpts...)...)
	t.Cleanup(e.srv.Close)
	e.cfg = e.srv.OAuthConfig()
	code, err := e.srv.AuthorizationCode("")
	require.NoError(t, err)
	e.first, err = e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	require.NoError(t, err)
	e.store, err = amojo.NewFileTokenStore(filepath.Join(t.TempDir(), "token.json"))
	require.NoError(t, err)
	require.NoError(t, e.store.Save(t.Context(), e.first))
	e.src = e.newSource(t, e.store)
	e.crm = e.newCRM(t, e.src)
	return e
}

func (e *oauthEnv) opts() []amojo.Option {
	return []amojo.Option{amojo.WithHTTPClient(e.srv.HTTPClient()), amojo.WithClock(e.clock.Now)}
}

func (e *oauthEnv) newSource(t *testing.T, store amojo.TokenStore, opts ...amojo.Option) *amojo.OAuthTokenSource {
	t.Helper()
	src, err := amojo.NewOAuthTokenSource(e.cfg, store, append(e.opts(), opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src
}

func (e *oauthEnv) newCRM(t *testing.T, tokens amojo.TokenSource) *amojo.CRMClient {
	t.Helper()
	crm, err := amojo.NewCRMClient(e.srv.CRMURL, tokens, append(e.opts(), amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))...)
	require.NoError(t, err)
	return crm
}

// expire moves the clock past the first pair's expiry.
func (e *oauthEnv) expire() { e.clock.Set(e.first.Expiry.Add(time.Second)) }

func (e *oauthEnv) tokenRequests() int { return len(e.srv.RequestsTo(amojotest.RouteOAuthToken)) }

func (e *oauthEnv) stored(t *testing.T) *amojo.OAuthToken {
	t.Helper()
	tok, err := e.store.Load(t.Context())
	require.NoError(t, err)
	return tok
}

// The first pair is used as long as it is fresh; within the margin before
// its expiry (a tenth of its lifetime, at most 10 minutes) it is refreshed
// before any call fails, and the rotated pair is in the store.
func TestOAuthRefreshesAheadOfExpiry(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	e.clock.Set(e.first.Expiry.Add(-amojo.DefaultRefreshMargin - time.Second))
	tok, err := e.src.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, e.first.AccessToken, tok, "want the first access token")
	e.clock.Set(e.first.Expiry.Add(-amojo.DefaultRefreshMargin + time.Second))
	_, err = e.crm.Account(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, e.tokenRequests(), "token requests: the exchange and one refresh")
	st := e.stored(t)
	assert.Equal(t, e.srv.OAuthStats().RefreshToken, st.RefreshToken, "the store does not hold the newest pair")
	assert.NotEqual(t, e.first.RefreshToken, st.RefreshToken, "the store does not hold the newest pair")
	assert.Equal(t, amojotest.DefaultAccessLifetime, st.Expiry.Sub(e.clock.Now()), "new expiry on the injected clock")
	rest := e.srv.RequestsTo(amojotest.RouteAccount)
	assert.Equal(t, []int{200}, statuses(rest), "the refresh comes before a call fails")
}

// 50 goroutines find the access token expired at once: one refresh request
// reaches amoCRM, and all 50 calls succeed with its token. The source alone
// serialises them (a store without a lock), as it does with the store's
// lock.
func TestOAuthConcurrentCallsShareOneRefresh(t *testing.T) {
	t.Parallel()
	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) {
			t.Parallel()
			e := oauthSetup(t)
			if !locked {
				e.crm = e.newCRM(t, e.newSource(t, struct{ amojo.TokenStore }{e.store}))
			}
			testConcurrentRefresh(t, e)
		})
	}
}

func testConcurrentRefresh(t *testing.T, e *oauthEnv) {
	e.expire()
	e.srv.ResetRequests()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 50 {
		wg.Go(func() {
			<-start
			if _, err := e.crm.Account(t.Context()); !assert.NoError(t, err) {
				failed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, e.tokenRequests(), "refresh requests on the wire")
	assert.Len(t, e.srv.RequestsTo(amojotest.RouteAccount), 50, "REST requests")
	assert.Zero(t, failed.Load(), "failed calls")
	assert.Equal(t, e.srv.OAuthStats().RefreshToken, e.stored(t).RefreshToken, "the store does not hold the newest pair")
}

// A REST 401 to a token the source thought valid: one refresh, one retry.
// A second 401 is returned, not retried again.
func TestOAuthRESTUnauthorizedRefreshesOnce(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	_, err := e.crm.Account(t.Context())
	require.NoError(t, err)
	e.srv.ResetRequests()
	require.Equal(t, 1, e.srv.ExpireAccessTokens(), "tokens expired")
	_, err = e.crm.Account(t.Context())
	require.NoError(t, err, "after a 401")
	rest := e.srv.RequestsTo(amojotest.RouteAccount)
	require.Equal(t, 1, e.tokenRequests(), "want one refresh")
	require.Equal(t, []int{401, 200}, statuses(rest), "REST answers")
	assert.NotEqual(t, rest[0].Header.Get("Authorization"), rest[1].Header.Get("Authorization"), "the retry sent the refused token again")

	e.srv.ResetRequests()
	e.srv.FailNext(amojotest.RouteAccount, 2, 401, "")
	_, err = e.crm.Account(t.Context())
	require.ErrorIs(t, err, amojo.ErrUnauthorized, "want the second 401")
	assert.Equal(t, 1, e.tokenRequests(), "refreshes")
	assert.Len(t, e.srv.RequestsTo(amojotest.RouteAccount), 2, "REST requests")

	// A long-lived token is never refreshed: its 401 is the answer.
	e.srv.ResetRequests()
	e.srv.FailNext(amojotest.RouteAccount, 1, 401, "")
	static := e.newCRM(t, amojo.StaticToken(e.srv.Token()))
	_, err = static.Account(t.Context())
	assert.ErrorIs(t, err, amojo.ErrUnauthorized)
	assert.Len(t, e.srv.RequestsTo(amojotest.RouteAccount), 1, "requests with a long-lived token")
}

func statuses(reqs []amojotest.Request) []int {
	var out []int
	for _, r := range reqs {
		out = append(out, r.StatusCode)
	}
	return out
}

// userRefresher is a caller's own TokenSource that opts into the refresh on
// 401 by implementing TokenRefresher.
type userRefresher struct {
	mu       sync.Mutex
	tokens   []string
	rejected []string
}

func (u *userRefresher) Token(context.Context) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tokens[len(u.rejected)], nil
}

func (u *userRefresher) TokenRejected(_ context.Context, tok string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rejected = append(u.rejected, tok)
}

func TestOwnTokenSourceOptsIntoRefreshOn401(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	u := &userRefresher{tokens: []string{"stale-token", e.srv.Token()}}
	_, err := e.newCRM(t, u).Account(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"stale-token"}, u.rejected, "TokenRejected")
}

// A revoked refresh token (the integration was disabled) is
// ErrRefreshTokenRevoked at once: one refresh request, no retry, nothing
// sent to the REST API with a dead token.
func TestOAuthRevokedIsTypedAtOnce(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	e.srv.RevokeTokens()
	e.expire()
	e.srv.ResetRequests()
	_, err := e.crm.Account(t.Context())
	require.ErrorIs(t, err, amojo.ErrRefreshTokenRevoked)
	require.ErrorIs(t, err, amojo.ErrUnauthorized)
	var oe *amojo.OAuthError
	if assert.ErrorAs(t, err, &oe) {
		assert.Equal(t, 401, oe.StatusCode)
		assert.Equal(t, amojo.HintTokenRevoked, oe.Hint)
	}
	assert.Equal(t, 1, e.tokenRequests(), "refreshes")
	assert.Empty(t, e.srv.RequestsTo(amojotest.RouteAccount), "REST requests")
	assert.Equal(t, e.first.RefreshToken, e.stored(t).RefreshToken, "the store lost its pair")

	// Revoked while the access token still looks fresh: the 401 leads to
	// one refresh, which says revoked.
	e2 := oauthSetup(t)
	e2.srv.RevokeTokens()
	e2.srv.ResetRequests()
	_, err = e2.crm.Account(t.Context())
	require.ErrorIs(t, err, amojo.ErrRefreshTokenRevoked)
	assert.Equal(t, 1, e2.tokenRequests(), "refreshes")
	assert.Len(t, e2.srv.RequestsTo(amojotest.RouteAccount), 1, "REST requests")
}

// staleOnce is a store whose first Load returns the pair it was made with:
// a read made before another process saved a newer pair.
type staleOnce struct {
	amojo.TokenStore
	mu    sync.Mutex
	stale *amojo.OAuthToken
}

func (s *staleOnce) Load(ctx context.Context) (*amojo.OAuthToken, error) {
	s.mu.Lock()
	stale := s.stale
	s.stale = nil
	s.mu.Unlock()
	if stale != nil {
		return stale, nil
	}
	return s.TokenStore.Load(ctx)
}

// A process whose refresh token another process already rotated (without
// the lock) gets "revoked", re-reads the store, and uses the newer pair.
func TestOAuthRevokedUsesTheNewerPairInTheStore(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	e.expire()
	_, err := e.src.Token(t.Context()) // the other process
	require.NoError(t, err)
	newer := e.stored(t)
	late := e.newSource(t, &staleOnce{TokenStore: e.store, stale: e.first}) // no Lock: staleOnce is no TokenLocker
	tok, err := late.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, newer.AccessToken, tok, "the late process does not use the pair the other one saved")
	st := e.srv.OAuthStats()
	assert.Equal(t, 1, st.Reused, "want one refused reuse")
	assert.Equal(t, 1, st.Refreshes, "want one refresh")
	assert.Equal(t, newer.RefreshToken, e.stored(t).RefreshToken, "the store was overwritten")
}

// flakyStore fails its saves while failing is set.
type flakyStore struct {
	amojo.TokenStore
	failing atomic.Bool
	saves   atomic.Int32
}

func (s *flakyStore) Save(ctx context.Context, tok *amojo.OAuthToken) error {
	s.saves.Add(1)
	if s.failing.Load() {
		return errors.New("disk full")
	}
	return s.TokenStore.Save(ctx, tok)
}

// A refreshed pair the store refuses is kept in memory: every call fails
// with ErrTokenNotSaved (its access token goes to nobody) without spending
// the new refresh token, and the first call after the store recovers saves
// it and goes on.
func TestOAuthFailedSaveKeepsThePair(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	fs := &flakyStore{TokenStore: e.store}
	fs.failing.Store(true)
	src := e.newSource(t, fs)
	crm := e.newCRM(t, src)
	e.expire()
	e.srv.ResetRequests()
	for range 2 {
		_, err := crm.Account(t.Context())
		require.ErrorIs(t, err, amojo.ErrTokenNotSaved)
	}
	assert.Equal(t, 1, e.tokenRequests(), "refreshes")
	assert.Empty(t, e.srv.RequestsTo(amojotest.RouteAccount), "REST requests")
	assert.Equal(t, e.first.RefreshToken, e.stored(t).RefreshToken, "the store changed")
	assert.Equal(t, int32(2), fs.saves.Load(), "saves")
	fs.failing.Store(false)
	_, err := crm.Account(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, e.tokenRequests(), "another refresh was made")
	assert.Equal(t, e.srv.OAuthStats().RefreshToken, e.stored(t).RefreshToken, "the kept pair was not saved")
}

// casStore writes only over the pair it last loaded or saved, or over the
// pair being saved (a compare-and-swap, as package pgstore's store does).
// While lostAnswer is set, a Save writes and then reports a failure: a
// commit whose answer was lost.
type casStore struct {
	amojo.TokenStore
	mu         sync.Mutex
	known      string // the refresh token last loaded or saved
	lostAnswer bool
}

func (s *casStore) Load(ctx context.Context) (*amojo.OAuthToken, error) {
	tok, err := s.TokenStore.Load(ctx)
	if err == nil {
		s.mu.Lock()
		s.known = tok.RefreshToken
		s.mu.Unlock()
	}
	return tok, err
}

func (s *casStore) Save(ctx context.Context, tok *amojo.OAuthToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, err := s.TokenStore.Load(ctx); err == nil && s.known != "" && cur.RefreshToken != s.known && cur.RefreshToken != tok.RefreshToken {
		return amojo.ErrTokenConflict
	}
	if err := s.TokenStore.Save(ctx, tok); err != nil {
		return err
	}
	if s.lostAnswer {
		s.lostAnswer = false
		return errors.New("connection reset")
	}
	s.known = tok.RefreshToken
	return nil
}

// A pair whose save was reported failed though it was written (a lost
// commit answer) is kept and saved again on the next call. If another
// process refreshed it from the store meanwhile, a store that compares
// before it writes refuses that save with ErrTokenConflict, and the source
// loads the newer pair instead of overwriting it with its spent one.
func TestOAuthConflictingSaveLoadsTheNewerPair(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	cs := &casStore{TokenStore: e.store, lostAnswer: true}
	src := e.newSource(t, cs)
	e.expire()
	if _, err := src.Token(t.Context()); !errors.Is(err, amojo.ErrTokenNotSaved) {
		t.Fatalf("err = %v, want ErrTokenNotSaved", err)
	}
	written := e.stored(t) // the save was written after all
	e.clock.Set(written.Expiry.Add(time.Second))
	if _, err := e.newSource(t, e.store).Token(t.Context()); err != nil { // the other process
		t.Fatal(err)
	}
	newest := e.stored(t)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("after the other process refreshed: %v", err)
	}
	if tok != newest.AccessToken {
		t.Error("the source does not use the newer pair in the store")
	}
	if got := e.stored(t); got.RefreshToken != newest.RefreshToken {
		t.Error("the store was overwritten with the spent pair")
	}
	if st := e.srv.OAuthStats(); st.Refreshes != 2 || st.Reused != 0 {
		t.Errorf("stats %+v: want two refreshes, no reuse", st)
	}
}

// What a crash between receiving a new pair and saving it loses: the pair.
// The refresh token in the store was spent by the refresh, so the next
// process to start gets ErrRefreshTokenRevoked and the user must authorize
// again. The source keeps that window to the time of one Save (nothing else
// runs between the answer and the save); this test pins what is lost.
func TestOAuthCrashBeforeSaveLosesThePair(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	fs := &flakyStore{TokenStore: e.store}
	fs.failing.Store(true) // the process dies inside Save
	e.expire()
	_, err := e.newSource(t, fs).Token(t.Context())
	require.ErrorIs(t, err, amojo.ErrTokenNotSaved)
	restarted := e.newSource(t, e.store)
	_, err = restarted.Token(t.Context())
	require.ErrorIs(t, err, amojo.ErrRefreshTokenRevoked, "after the crash")
}

// gate holds each token request until released, failing it if its context
// ends first.
type gate struct {
	base    http.RoundTripper
	sent    chan struct{}
	release chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/oauth2/access_token" {
		g.sent <- struct{}{}
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return g.base.RoundTrip(r)
}

// A caller that gives up while the refresh is on the wire gets its
// context's error at once; the refresh goes on and its pair is saved, and
// Close waits for that.
func TestOAuthCancelledCallerDoesNotLoseThePair(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	g := &gate{base: e.srv.HTTPClient().Transport, sent: make(chan struct{}, 1), release: make(chan struct{})}
	src := e.newSource(t, e.store, amojo.WithHTTPClient(&http.Client{Transport: g}))
	e.expire()
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan error, 1)
	go func() {
		_, err := src.Token(ctx)
		got <- err
	}()
	<-g.sent
	cancel()
	require.ErrorIs(t, <-got, context.Canceled)
	close(g.release)
	src.Close()
	st := e.srv.OAuthStats()
	require.Equal(t, 1, st.Refreshes, "the abandoned refresh was not carried out")
	require.Equal(t, st.RefreshToken, e.stored(t).RefreshToken, "the abandoned refresh was not saved")
	_, err := src.Token(t.Context())
	assert.Error(t, err, "Token after Close succeeded")
}

// When the account's subdomain changed, the refresh on the old host is
// answered 404; the source asks the access token's api_domain for the new
// domain, saves the pair with it, and refreshes there once.
func TestOAuthFollowsASubdomainChange(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(e.srv.CRMURL, "http://"), ":")
	moved := "localhost:" + port
	e.srv.MoveAccount(moved)
	e.expire()
	e.srv.ResetRequests()
	_, err := e.src.Token(t.Context())
	require.NoError(t, err)
	st := e.stored(t)
	assert.Equal(t, "http://"+moved, st.AccountURL, "stored account")
	assert.Equal(t, e.srv.OAuthStats().RefreshToken, st.RefreshToken, "stored refresh token")
	u, err := e.src.AccountURL(t.Context())
	assert.NoError(t, err)
	assert.Equal(t, "http://"+moved, u, "AccountURL")
	tokenReqs := e.srv.RequestsTo(amojotest.RouteOAuthToken)
	lookups := e.srv.RequestsTo(amojotest.RouteOAuthSubdomain)
	require.Equal(t, []int{404, 200}, statuses(tokenReqs), "token requests")
	require.Len(t, lookups, 1, "lookups")
	assert.Equal(t, e.first.RefreshToken, lookups[0].Header.Get("X-Refresh-Token"), "the lookup must send the refresh token in X-Refresh-Token")
	assert.Empty(t, lookups[0].Header.Get("Authorization"), "the lookup must send no Authorization")

	// Without a move, a 401 without a hint is a wrong client: the lookup
	// finds the same domain, and the refresh's own error stands.
	e2 := oauthSetup(t)
	e2.cfg.ClientSecret = "wrong"
	e2.expire()
	_, err = e2.newSource(t, e2.store).Token(t.Context())
	assert.ErrorIs(t, err, amojo.ErrInvalidClient)
}

// Configuration errors the fake answers as amoCRM does.
func TestOAuthConfigurationErrors(t *testing.T) {
	t.Parallel()
	other := amojotest.OAuthClient{ID: "other-integration", Secret: "other-secret", RedirectURI: "https://other.example/cb"}
	e := oauthSetup(t, amojotest.WithOAuthClient(amojotest.OAuthClient{ID: amojotest.DefaultClientID, Secret: amojotest.DefaultClientSecret, RedirectURI: amojotest.DefaultRedirectURI}), amojotest.WithOAuthClient(other))
	code, _ := e.srv.AuthorizationCode("")

	wrong := e.cfg
	wrong.ClientSecret = "not-the-secret"
	_, err := wrong.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	assert.ErrorIs(t, err, amojo.ErrInvalidClient, "wrong secret")
	slash := e.cfg
	slash.RedirectURI += "/"
	_, err = slash.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	var oe *amojo.OAuthError
	if assert.ErrorAs(t, err, &oe, "redirect URI with a trailing slash") {
		assert.Equal(t, 400, oe.StatusCode, "redirect URI with a trailing slash")
		assert.Equal(t, amojotest.HintRedirectMismatch, oe.Hint, "redirect URI with a trailing slash")
	}
	// The code survived both refusals; it works once.
	_, err = e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	require.NoError(t, err)
	_, err = e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	if assert.ErrorAs(t, err, &oe, "second exchange of a code") {
		assert.Equal(t, amojotest.HintCodeRevoked, oe.Hint, "second exchange of a code")
	}

	otherCfg := amojo.OAuthConfig{ClientID: other.ID, ClientSecret: other.Secret, RedirectURI: other.RedirectURI}
	src, err := amojo.NewOAuthTokenSource(otherCfg, e.store, e.opts()...)
	require.NoError(t, err)
	defer src.Close()
	e.expire()
	_, err = src.Token(t.Context())
	assert.ErrorIs(t, err, amojo.ErrTokenNotLinked, "another integration's token")
}

func TestOAuthTokenSourceValidation(t *testing.T) {
	t.Parallel()
	cfg := amojo.OAuthConfig{ClientID: "i", ClientSecret: "s", RedirectURI: "https://a.example/cb"}
	store, _ := amojo.NewFileTokenStore(filepath.Join(t.TempDir(), "t.json"))
	var ve *amojo.ValidationError
	for _, tt := range []struct {
		cfg   amojo.OAuthConfig
		store amojo.TokenStore
		opts  []amojo.Option
		field string
	}{
		{amojo.OAuthConfig{}, store, nil, "OAuthConfig.ClientID"},
		{cfg, nil, nil, "store"},
		{cfg, store, []amojo.Option{amojo.WithRefreshMargin(0)}, "RefreshMargin"},
		{cfg, store, []amojo.Option{amojo.WithBaseURL("https://a.amocrm.ru")}, "BaseURL"},
	} {
		_, err := amojo.NewOAuthTokenSource(tt.cfg, tt.store, tt.opts...)
		if assert.ErrorAs(t, err, &ve, tt.field) {
			assert.Equal(t, tt.field, ve.Field)
		}
	}
	src, _ := amojo.NewOAuthTokenSource(cfg, store)
	_, err := src.Token(t.Context())
	assert.ErrorIs(t, err, amojo.ErrNoToken, "empty store")
}

// memStore is a TokenStore in memory, without a lock.
type memStore struct {
	mu  sync.Mutex
	tok *amojo.OAuthToken
}

func (m *memStore) Load(context.Context) (*amojo.OAuthToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, amojo.ErrNoToken
	}
	t := *m.tok
	return &t, nil
}

func (m *memStore) Save(_ context.Context, tok *amojo.OAuthToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := *tok
	m.tok = &t
	return nil
}

// A pair read from the store whose lifetime its token does not tell (not a
// JWT) counts its remaining time as its lifetime: a 2-minute opaque token
// is used, not refreshed at once for being inside a 10-minute margin.
func TestOAuthOpaqueShortTokenFromStoreIsUsed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := &memStore{tok: &amojo.OAuthToken{AccountURL: "http://127.0.0.1:1", AccessToken: "opaque", RefreshToken: "r", Expiry: now.Add(2 * time.Minute)}}
	cfg := amojo.OAuthConfig{ClientID: "i", ClientSecret: "s", RedirectURI: "https://a.example/cb"}
	clock := &oauthClock{now: now}
	src, err := amojo.NewOAuthTokenSource(cfg, store, amojo.WithClock(clock.Now))
	require.NoError(t, err)
	defer src.Close()
	tok, err := src.Token(t.Context())
	require.NoError(t, err, "a refresh was tried")
	require.Equal(t, "opaque", tok)
	clock.Set(now.Add(2*time.Minute - 11*time.Second)) // inside a tenth of its 2 minutes
	_, err = src.Token(t.Context())
	assert.Error(t, err, "a token within its margin was handed out without a refresh")
}
