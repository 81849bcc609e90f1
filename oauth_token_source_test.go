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
	if err != nil {
		t.Fatal(err)
	}
	e.first, err = e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	e.store, err = amojo.NewFileTokenStore(filepath.Join(t.TempDir(), "token.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Save(t.Context(), e.first); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func (e *oauthEnv) newCRM(t *testing.T, tokens amojo.TokenSource) *amojo.CRMClient {
	t.Helper()
	crm, err := amojo.NewCRMClient(e.srv.CRMURL, tokens, append(e.opts(), amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))...)
	if err != nil {
		t.Fatal(err)
	}
	return crm
}

// expire moves the clock past the first pair's expiry.
func (e *oauthEnv) expire() { e.clock.Set(e.first.Expiry.Add(time.Second)) }

func (e *oauthEnv) tokenRequests() int { return len(e.srv.RequestsTo(amojotest.RouteOAuthToken)) }

func (e *oauthEnv) stored(t *testing.T) *amojo.OAuthToken {
	t.Helper()
	tok, err := e.store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil || tok != e.first.AccessToken {
		t.Fatalf("Token = %v; want the first access token", err)
	}
	e.clock.Set(e.first.Expiry.Add(-amojo.DefaultRefreshMargin + time.Second))
	if _, err := e.crm.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenRequests(); n != 2 { // the exchange and one refresh
		t.Errorf("%d token requests, want 2", n)
	}
	st := e.stored(t)
	if st.RefreshToken != e.srv.OAuthStats().RefreshToken || st.RefreshToken == e.first.RefreshToken {
		t.Error("the store does not hold the newest pair")
	}
	if d := st.Expiry.Sub(e.clock.Now()); d != amojotest.DefaultAccessLifetime {
		t.Errorf("new expiry in %v, want %v on the injected clock", d, amojotest.DefaultAccessLifetime)
	}
	if rest := e.srv.RequestsTo(amojotest.RouteAccount); len(rest) != 1 || rest[0].StatusCode != 200 {
		t.Errorf("REST requests %v: the refresh comes before a call fails", rest)
	}
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
			if _, err := e.crm.Account(t.Context()); err != nil {
				t.Error(err)
				failed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := e.tokenRequests(); n != 1 {
		t.Errorf("%d refresh requests on the wire, want 1", n)
	}
	if n := len(e.srv.RequestsTo(amojotest.RouteAccount)); n != 50 || failed.Load() != 0 {
		t.Errorf("%d REST requests, %d failed; want 50 and 0", n, failed.Load())
	}
	if e.stored(t).RefreshToken != e.srv.OAuthStats().RefreshToken {
		t.Error("the store does not hold the newest pair")
	}
}

// A REST 401 to a token the source thought valid: one refresh, one retry.
// A second 401 is returned, not retried again.
func TestOAuthRESTUnauthorizedRefreshesOnce(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	if _, err := e.crm.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	if n := e.srv.ExpireAccessTokens(); n != 1 {
		t.Fatalf("expired %d tokens", n)
	}
	if _, err := e.crm.Account(t.Context()); err != nil {
		t.Fatalf("after a 401: %v", err)
	}
	rest := e.srv.RequestsTo(amojotest.RouteAccount)
	if e.tokenRequests() != 1 || len(rest) != 2 || rest[0].StatusCode != 401 || rest[1].StatusCode != 200 {
		t.Fatalf("%d refreshes, REST %v; want one refresh, 401 then 200", e.tokenRequests(), statuses(rest))
	}
	if rest[0].Header.Get("Authorization") == rest[1].Header.Get("Authorization") {
		t.Error("the retry sent the refused token again")
	}

	e.srv.ResetRequests()
	e.srv.FailNext(amojotest.RouteAccount, 2, 401, "")
	_, err := e.crm.Account(t.Context())
	if !errors.Is(err, amojo.ErrUnauthorized) {
		t.Fatalf("err = %v, want the second 401", err)
	}
	if n, rest := e.tokenRequests(), e.srv.RequestsTo(amojotest.RouteAccount); n != 1 || len(rest) != 2 {
		t.Errorf("%d refreshes, %d REST requests; want 1 and 2", n, len(rest))
	}

	// A long-lived token is never refreshed: its 401 is the answer.
	e.srv.ResetRequests()
	e.srv.FailNext(amojotest.RouteAccount, 1, 401, "")
	static := e.newCRM(t, amojo.StaticToken(e.srv.Token()))
	if _, err := static.Account(t.Context()); !errors.Is(err, amojo.ErrUnauthorized) {
		t.Errorf("err = %v", err)
	}
	if n := len(e.srv.RequestsTo(amojotest.RouteAccount)); n != 1 {
		t.Errorf("%d requests with a long-lived token, want 1", n)
	}
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
	if _, err := e.newCRM(t, u).Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(u.rejected) != 1 || u.rejected[0] != "stale-token" {
		t.Errorf("TokenRejected got %q", u.rejected)
	}
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
	if !errors.Is(err, amojo.ErrRefreshTokenRevoked) || !errors.Is(err, amojo.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrRefreshTokenRevoked", err)
	}
	var oe *amojo.OAuthError
	if !errors.As(err, &oe) || oe.StatusCode != 401 || oe.Hint != amojo.HintTokenRevoked {
		t.Errorf("err = %#v", err)
	}
	if n, rest := e.tokenRequests(), len(e.srv.RequestsTo(amojotest.RouteAccount)); n != 1 || rest != 0 {
		t.Errorf("%d refreshes and %d REST requests, want 1 and 0", n, rest)
	}
	if e.stored(t).RefreshToken != e.first.RefreshToken {
		t.Error("the store lost its pair")
	}

	// Revoked while the access token still looks fresh: the 401 leads to
	// one refresh, which says revoked.
	e2 := oauthSetup(t)
	e2.srv.RevokeTokens()
	e2.srv.ResetRequests()
	if _, err := e2.crm.Account(t.Context()); !errors.Is(err, amojo.ErrRefreshTokenRevoked) {
		t.Fatalf("err = %v", err)
	}
	if n, rest := e2.tokenRequests(), len(e2.srv.RequestsTo(amojotest.RouteAccount)); n != 1 || rest != 1 {
		t.Errorf("%d refreshes and %d REST requests, want 1 and 1", n, rest)
	}
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
	if _, err := e.src.Token(t.Context()); err != nil { // the other process
		t.Fatal(err)
	}
	newer := e.stored(t)
	late := e.newSource(t, &staleOnce{TokenStore: e.store, stale: e.first}) // no Lock: staleOnce is no TokenLocker
	tok, err := late.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok != newer.AccessToken {
		t.Error("the late process does not use the pair the other one saved")
	}
	if st := e.srv.OAuthStats(); st.Reused != 1 || st.Refreshes != 1 {
		t.Errorf("stats %+v: want one refresh and one refused reuse", st)
	}
	if e.stored(t).RefreshToken != newer.RefreshToken {
		t.Error("the store was overwritten")
	}
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
		if _, err := crm.Account(t.Context()); !errors.Is(err, amojo.ErrTokenNotSaved) {
			t.Fatalf("err = %v, want ErrTokenNotSaved", err)
		}
	}
	if n, rest := e.tokenRequests(), len(e.srv.RequestsTo(amojotest.RouteAccount)); n != 1 || rest != 0 {
		t.Errorf("%d refreshes, %d REST requests; want 1 and 0", n, rest)
	}
	if e.stored(t).RefreshToken != e.first.RefreshToken || fs.saves.Load() != 2 {
		t.Errorf("%d saves", fs.saves.Load())
	}
	fs.failing.Store(false)
	if _, err := crm.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.tokenRequests() != 1 || e.stored(t).RefreshToken != e.srv.OAuthStats().RefreshToken {
		t.Error("the kept pair was not saved, or another refresh was made")
	}
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
	if _, err := e.newSource(t, fs).Token(t.Context()); !errors.Is(err, amojo.ErrTokenNotSaved) {
		t.Fatalf("err = %v", err)
	}
	restarted := e.newSource(t, e.store)
	if _, err := restarted.Token(t.Context()); !errors.Is(err, amojo.ErrRefreshTokenRevoked) {
		t.Fatalf("after the crash: %v, want ErrRefreshTokenRevoked", err)
	}
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
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(g.release)
	src.Close()
	if st := e.srv.OAuthStats(); st.Refreshes != 1 || e.stored(t).RefreshToken != st.RefreshToken {
		t.Fatalf("stats %+v: the abandoned refresh was not carried out and saved", st)
	}
	if _, err := src.Token(t.Context()); err == nil {
		t.Error("Token after Close succeeded")
	}
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
	if _, err := e.src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := e.stored(t)
	if st.AccountURL != "http://"+moved || st.RefreshToken != e.srv.OAuthStats().RefreshToken {
		t.Errorf("stored account %s", st.AccountURL)
	}
	if u, err := e.src.AccountURL(t.Context()); err != nil || u != "http://"+moved {
		t.Errorf("AccountURL = %q, %v", u, err)
	}
	tokenReqs := e.srv.RequestsTo(amojotest.RouteOAuthToken)
	lookups := e.srv.RequestsTo(amojotest.RouteOAuthSubdomain)
	if len(tokenReqs) != 2 || tokenReqs[0].StatusCode != 404 || tokenReqs[1].StatusCode != 200 || len(lookups) != 1 {
		t.Fatalf("token requests %v, %d lookups", statuses(tokenReqs), len(lookups))
	}
	if lookups[0].Header.Get("X-Refresh-Token") != e.first.RefreshToken || lookups[0].Header.Get("Authorization") != "" {
		t.Error("the lookup must send the refresh token in X-Refresh-Token and no Authorization")
	}

	// Without a move, a 401 without a hint is a wrong client: the lookup
	// finds the same domain, and the refresh's own error stands.
	e2 := oauthSetup(t)
	e2.cfg.ClientSecret = "wrong"
	e2.expire()
	if _, err := e2.newSource(t, e2.store).Token(t.Context()); !errors.Is(err, amojo.ErrInvalidClient) {
		t.Errorf("err = %v, want ErrInvalidClient", err)
	}
}

// Configuration errors the fake answers as amoCRM does.
func TestOAuthConfigurationErrors(t *testing.T) {
	t.Parallel()
	other := amojotest.OAuthClient{ID: "other-integration", Secret: "other-secret", RedirectURI: "https://other.example/cb"}
	e := oauthSetup(t, amojotest.WithOAuthClient(amojotest.OAuthClient{ID: amojotest.DefaultClientID, Secret: amojotest.DefaultClientSecret, RedirectURI: amojotest.DefaultRedirectURI}), amojotest.WithOAuthClient(other))
	code, _ := e.srv.AuthorizationCode("")

	wrong := e.cfg
	wrong.ClientSecret = "not-the-secret"
	if _, err := wrong.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...); !errors.Is(err, amojo.ErrInvalidClient) {
		t.Errorf("wrong secret: %v", err)
	}
	slash := e.cfg
	slash.RedirectURI += "/"
	_, err := slash.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	var oe *amojo.OAuthError
	if !errors.As(err, &oe) || oe.StatusCode != 400 || oe.Hint != amojotest.HintRedirectMismatch {
		t.Errorf("redirect URI with a trailing slash: %v", err)
	}
	// The code survived both refusals; it works once.
	if _, err := e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...); !errors.As(err, &oe) || oe.Hint != amojotest.HintCodeRevoked {
		t.Errorf("second exchange of a code: %v", err)
	}

	otherCfg := amojo.OAuthConfig{ClientID: other.ID, ClientSecret: other.Secret, RedirectURI: other.RedirectURI}
	src, err := amojo.NewOAuthTokenSource(otherCfg, e.store, e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e.expire()
	if _, err := src.Token(t.Context()); !errors.Is(err, amojo.ErrTokenNotLinked) {
		t.Errorf("another integration's token: %v", err)
	}
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
		if _, err := amojo.NewOAuthTokenSource(tt.cfg, tt.store, tt.opts...); !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("err = %v, want a ValidationError on %s", err, tt.field)
		}
	}
	src, _ := amojo.NewOAuthTokenSource(cfg, store)
	if _, err := src.Token(t.Context()); !errors.Is(err, amojo.ErrNoToken) {
		t.Errorf("empty store: %v", err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if tok, err := src.Token(t.Context()); err != nil || tok != "opaque" {
		t.Fatalf("Token = %q, %v (a refresh was tried)", tok, err)
	}
	clock.Set(now.Add(2*time.Minute - 11*time.Second)) // inside a tenth of its 2 minutes
	if _, err := src.Token(t.Context()); err == nil {
		t.Error("a token within its margin was handed out without a refresh")
	}
}
