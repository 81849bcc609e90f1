package amojotest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/amojo-go/amojo"
)

// The OAuth routes of the fake.
const (
	RouteOAuthAuthorize Route = "oauth_authorize" // GET /oauth (the authorization page)
	RouteOAuthToken     Route = "oauth_token"     // POST /oauth2/access_token
	RouteOAuthSubdomain Route = "oauth_subdomain" // GET /oauth2/account/current/subdomain
)

// The integration a server made without WithOAuthClient knows.
const (
	DefaultClientID     = "5c1a3d2e-7b4f-4c8a-9e6d-2f0b1a3c4d5e"
	DefaultClientSecret = "amojotest-client-secret-6Lq2VmP4xR8s"
	DefaultRedirectURI  = "http://127.0.0.1:8090/oauth/callback"
)

// The lifetimes of a server made without WithOAuthLifetimes: amoCRM's.
const (
	DefaultCodeLifetime    = 20 * time.Minute
	DefaultAccessLifetime  = 24 * time.Hour
	DefaultRefreshLifetime = 90 * 24 * time.Hour
)

// OAuthClient is an integration registered with the fake: its integration
// ID, secret key and Redirect URI.
type OAuthClient struct {
	ID          string
	Secret      string
	RedirectURI string
}

// OAuthLifetimes are how long authorization codes, access tokens and refresh
// tokens stay valid, on the server's clock. A zero field keeps its default.
// The access token lifetime is at least one second (expires_in counts
// seconds).
type OAuthLifetimes struct {
	Code    time.Duration
	Access  time.Duration
	Refresh time.Duration
}

// WithOAuthClient registers an integration with the token endpoint. The
// first one registered is the one OAuthConfig, AuthorizationCode and
// NewOAuthToken use by default. Without any the server knows
// DefaultClientID, DefaultClientSecret and DefaultRedirectURI.
//
// With WithControlAPI, programs outside Go drive the OAuth side through
//
//	POST /amojotest/oauth/code                 {"client_id"} → {"code","referer"} (AuthorizationCode)
//	POST /amojotest/oauth/expire-access-tokens → {"expired": N} (ExpireAccessTokens)
//	POST /amojotest/oauth/revoke-tokens        → {"revoked": N} (RevokeTokens)
//	POST /amojotest/oauth/move-account         {"host"} (MoveAccount)
//	GET  /amojotest/oauth/stats                → {"exchanges","refreshes","reused","refused","refresh_token"}
func WithOAuthClient(c OAuthClient) Option {
	return func(cfg *config) { cfg.oauth.clients = append(cfg.oauth.clients, c) }
}

// WithOAuthLifetimes sets the lifetimes of codes and tokens.
func WithOAuthLifetimes(l OAuthLifetimes) Option {
	return func(cfg *config) { cfg.oauth.life = l }
}

// oauthConfig is the OAuth part of config.
type oauthConfig struct {
	clients []OAuthClient
	life    OAuthLifetimes
}

func (c *oauthConfig) validate() error {
	if len(c.clients) == 0 {
		c.clients = []OAuthClient{{ID: DefaultClientID, Secret: DefaultClientSecret, RedirectURI: DefaultRedirectURI}}
	}
	seen := map[string]bool{}
	for i, cl := range c.clients {
		if cl.ID == "" || cl.Secret == "" || cl.RedirectURI == "" {
			return fmt.Errorf("amojotest: OAuth client %d: empty id, secret or redirect URI", i)
		}
		if u, err := url.Parse(cl.RedirectURI); err != nil || u.Host == "" {
			return fmt.Errorf("amojotest: OAuth client %s: redirect URI is not an absolute URL", cl.ID)
		}
		if seen[cl.ID] {
			return fmt.Errorf("amojotest: OAuth client %s registered twice", cl.ID)
		}
		seen[cl.ID] = true
	}
	l := &c.life
	if l.Code < 0 || l.Access < 0 || l.Refresh < 0 {
		return fmt.Errorf("amojotest: negative OAuth lifetime")
	}
	if l.Access != 0 && l.Access < time.Second {
		return fmt.Errorf("amojotest: OAuth access token lifetime %v is under one second", l.Access)
	}
	l.Code = cmpOr(l.Code, DefaultCodeLifetime)
	l.Access = cmpOr(l.Access, DefaultAccessLifetime)
	l.Refresh = cmpOr(l.Refresh, DefaultRefreshLifetime)
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// oauthState is what the token endpoint issued; guarded by Server.mu.
type oauthState struct {
	codes   map[string]*oauthGrant // authorization codes
	refresh map[string]*oauthGrant // refresh tokens
	access  map[string]*oauthGrant // access tokens
	stats   OAuthStats
	movedTo string // the host the account moved to (MoveAccount); "" none
}

// oauthGrant is one code or token: whose, for which account, until when.
type oauthGrant struct {
	client  string
	acc     *account
	expires time.Time
	used    bool // codes and refresh tokens work once
	revoked bool
}

func newOAuthState() *oauthState {
	return &oauthState{codes: map[string]*oauthGrant{}, refresh: map[string]*oauthGrant{}, access: map[string]*oauthGrant{}}
}

// OAuthStats counts what the token endpoint did.
type OAuthStats struct {
	Exchanges int // codes exchanged for a first pair
	Refreshes int // refresh tokens rotated
	// Reused counts refresh requests with a refresh token that had already
	// been used: each is a pair some client lost.
	Reused  int
	Refused int // error answers of the token endpoint
	// RefreshToken is the newest refresh token issued ("" before any): the
	// one a client's store should hold.
	RefreshToken string
}

// OAuthConfig returns the configuration of the first registered
// integration, for amojo.NewOAuthTokenSource and OAuthConfig.Exchange.
func (s *Server) OAuthConfig() amojo.OAuthConfig {
	c := s.cfg.oauth.clients[0]
	return amojo.OAuthConfig{ClientID: c.ID, ClientSecret: c.Secret, RedirectURI: c.RedirectURI}
}

// AuthorizationPage returns the address of the fake's authorization page,
// for OAuthConfig.AuthorizationURL. A GET there grants access at once (as a
// user who consents) and redirects to the integration's Redirect URI with
// code, state, referer (the fake's base URL: amoCRM sends a bare host) and
// platform=1. It panics before Start.
func (s *Server) AuthorizationPage() string { return s.baseURL() + "/oauth" }

// IsHost reports whether host is the fake's address, for the allowHost of
// amojo.ParseRedirect. It panics before Start.
func (s *Server) IsHost(host string) bool {
	u, err := url.Parse(s.baseURL())
	return err == nil && strings.EqualFold(u.Host, host)
}

// AuthorizationCode issues an authorization code for the first account, as
// if an administrator had granted access to the integration clientID (""
// for the first registered). It is valid once, for the code lifetime.
func (s *Server) AuthorizationCode(clientID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID == "" {
		clientID = s.cfg.oauth.clients[0].ID
	}
	if s.oauthClient(clientID) == nil {
		return "", fmt.Errorf("amojotest: unknown OAuth client %q", clientID)
	}
	return s.issueCodeLocked(clientID), nil
}

func (s *Server) issueCodeLocked(clientID string) string {
	code := "def50200" + randomHex(48)
	s.oauth.codes[code] = &oauthGrant{client: clientID, acc: s.accounts[s.cfg.accounts[0].AmojoID], expires: s.now().Add(s.cfg.oauth.life.Code)}
	return code
}

// NewOAuthToken issues a token pair for the first account to the
// integration clientID ("" for the first registered), as an exchange of a
// code would: a shortcut for tests that start authorized. The pair's
// AccountURL is the server's URL.
func (s *Server) NewOAuthToken(clientID string) (*amojo.OAuthToken, error) {
	base := s.crmBaseURL()
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID == "" {
		clientID = s.cfg.oauth.clients[0].ID
	}
	if s.oauthClient(clientID) == nil {
		return nil, fmt.Errorf("amojotest: unknown OAuth client %q", clientID)
	}
	now := s.now()
	p := s.issuePairLocked(u.Host, clientID, s.accounts[s.cfg.accounts[0].AmojoID], now)
	return &amojo.OAuthToken{AccountURL: base, AccessToken: p["access_token"].(string), RefreshToken: p["refresh_token"].(string), Expiry: now.Add(s.cfg.oauth.life.Access)}, nil
}

// ExpireAccessTokens makes every access token issued so far expire now: the
// REST API answers 401 to them, while their holders still believe them
// valid. It returns how many were valid.
func (s *Server) ExpireAccessTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, g := range s.oauth.access {
		if now.Before(g.expires) && !g.revoked {
			g.expires = now
			n++
		}
	}
	return n
}

// RevokeTokens revokes every access and refresh token issued so far, as
// disabling the integration in the account does: the REST API answers 401
// and a refresh gets "Token has been revoked". It returns how many tokens
// were valid.
func (s *Server) RevokeTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, m := range []map[string]*oauthGrant{s.oauth.access, s.oauth.refresh} {
		for _, g := range m {
			if !g.revoked && !g.used && now.Before(g.expires) {
				n++
			}
			g.revoked = true
		}
	}
	return n
}

// MoveAccount models a change of the account's subdomain: from now on the
// token endpoint answers 404 (without a hint) unless the request's Host is
// host, and the subdomain lookup (GET /oauth2/account/current/subdomain on
// the access token's api_domain) answers host as the domain. On loopback,
// "localhost:PORT" reaches the same server under another host name. The REST
// routes keep answering on every host.
func (s *Server) MoveAccount(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.movedTo = host
}

// OAuthStats returns what the token endpoint did so far.
func (s *Server) OAuthStats() OAuthStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.stats
}

// bearerAccount returns the account a REST Bearer token opens: a static
// token, or an OAuth access token that is neither expired nor revoked.
// s.mu is held.
func (s *Server) bearerAccount(tok string) (*account, bool) {
	if acc, ok := s.tokens[tok]; ok {
		return acc, true
	}
	g, ok := s.oauth.access[tok]
	if !ok || g.revoked || !s.now().Before(g.expires) {
		return nil, false
	}
	return g.acc, true
}

func (s *Server) oauthClient(id string) *OAuthClient {
	for i := range s.cfg.oauth.clients {
		if s.cfg.oauth.clients[i].ID == id {
			return &s.cfg.oauth.clients[i]
		}
	}
	return nil
}

// oauthRoutes mounts the authorization page, the token endpoint and the
// subdomain lookup.
func (s *Server) oauthRoutes(m *http.ServeMux) {
	m.Handle("GET /oauth", s.faulty(RouteOAuthAuthorize, true, http.HandlerFunc(s.handleOAuthAuthorize)))
	m.Handle("POST /oauth2/access_token", s.faulty(RouteOAuthToken, true, http.HandlerFunc(s.handleOAuthToken)))
	m.Handle("GET /oauth2/account/current/subdomain", s.faulty(RouteOAuthSubdomain, true, http.HandlerFunc(s.handleOAuthSubdomain)))
}

// The hints and problem type of the token endpoint's error answers. amoCRM
// documents the first two; the others are the fake's choice.
const (
	HintTokenRevoked        = "Token has been revoked"        // refresh token used, revoked or expired (401)
	HintTokenNotLinked      = "Token is not linked to client" // refresh token of another integration (401)
	HintCodeRevoked         = "Authorization code has been revoked"
	HintCodeExpired         = "Authorization code has expired"
	HintCodeInvalid         = "Cannot decrypt the authorization code"
	HintCodeNotLinked       = "Authorization code was not issued to this client"
	HintRefreshInvalid      = "Cannot decrypt the refresh token"
	HintRedirectMismatch    = "Redirect URI mismatch"
	HintMissingParameter    = "Check the request parameters"
	HintUnsupportedGrant    = "Unsupported grant type"
	OAuthProblemType        = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
	oauthInvalidClient      = "Client authentication failed"
	oauthInvalidClientTitle = "Invalid client"
)

// oauthProblem is an error answer of the token endpoint.
type oauthProblem struct {
	status              int
	title, detail, hint string
}

func writeOAuthProblem(w http.ResponseWriter, p oauthProblem) {
	body := map[string]any{"title": p.title, "type": OAuthProblemType, "status": p.status, "detail": p.detail}
	if p.hint != "" {
		body["hint"] = p.hint
	}
	writeJSON(w, p.status, "application/json", body)
}

func badOAuthRequest(hint, detail string) *oauthProblem {
	return &oauthProblem{status: http.StatusBadRequest, title: "Bad Request", detail: detail, hint: hint}
}

func revoked(detail string) *oauthProblem {
	return &oauthProblem{status: http.StatusUnauthorized, title: "Unauthorized", detail: detail, hint: HintTokenRevoked}
}

// handleOAuthAuthorize is the authorization page: it grants access at once
// and redirects to the Redirect URI.
func (s *Server) handleOAuthAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	c := s.oauthClient(q.Get("client_id"))
	if c == nil {
		s.mu.Unlock()
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if m := q.Get("mode"); m != "" && m != "popup" && m != "post_message" {
		s.mu.Unlock()
		http.Error(w, "mode must be popup or post_message", http.StatusBadRequest)
		return
	}
	code := s.issueCodeLocked(c.ID)
	s.mu.Unlock()
	to, _ := url.Parse(c.RedirectURI) // checked by validate
	rq := to.Query()
	rq.Set("code", code)
	rq.Set("referer", requestBase(r))
	rq.Set("platform", "1")
	if q.Has("state") {
		rq.Set("state", q.Get("state"))
	}
	to.RawQuery = rq.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// requestBase is the base URL the request was sent to.
func requestBase(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// tokenParams are the fields of a token request, from a JSON or a
// form-encoded body.
type tokenParams struct {
	clientID, clientSecret, grantType, code, refreshToken, redirectURI string
}

// parseTokenParams reads a token request body: JSON (documented) or
// form-encoded (also accepted by amoCRM).
func parseTokenParams(contentType string, body []byte) (tokenParams, *oauthProblem) {
	mt, _, _ := mime.ParseMediaType(contentType)
	var get func(string) (string, bool)
	switch mt {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return tokenParams{}, badOAuthRequest(HintMissingParameter, "the body is not form-encoded")
		}
		get = func(k string) (string, bool) { return form.Get(k), true }
	default:
		o, aerr := parseObject(body, "")
		if aerr != nil {
			return tokenParams{}, badOAuthRequest(HintMissingParameter, "the body must be a JSON object")
		}
		get = func(k string) (string, bool) {
			v, err := o.str(k)
			return v, err == nil
		}
	}
	var p tokenParams
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"client_id", &p.clientID}, {"client_secret", &p.clientSecret}, {"grant_type", &p.grantType},
		{"code", &p.code}, {"refresh_token", &p.refreshToken}, {"redirect_uri", &p.redirectURI},
	} {
		v, ok := get(f.key)
		if !ok {
			return tokenParams{}, badOAuthRequest(HintMissingParameter, f.key+" must be a string")
		}
		*f.dst = v
	}
	return p, nil
}

// handleOAuthToken is the token endpoint, with amoCRM's semantics: codes and
// refresh tokens work once, each refresh rotates the pair, the Redirect URI
// must match exactly on both grants.
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	p, bad := parseTokenParams(r.Header.Get("Content-Type"), exchangeOf(r).body)
	s.mu.Lock()
	var body map[string]any
	if bad == nil {
		body, bad = s.grantLocked(r, p)
	}
	if bad != nil {
		s.oauth.stats.Refused++
		s.mu.Unlock()
		writeOAuthProblem(w, *bad)
		return
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", body)
}

// grantLocked checks a token request and issues a pair; s.mu is held.
func (s *Server) grantLocked(r *http.Request, p tokenParams) (map[string]any, *oauthProblem) {
	if s.oauth.movedTo != "" && !strings.EqualFold(r.Host, s.oauth.movedTo) {
		return nil, &oauthProblem{status: http.StatusNotFound, title: "Not Found", detail: "no account at this address"}
	}
	c := s.oauthClient(p.clientID)
	if c == nil || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(p.clientSecret)) != 1 {
		return nil, &oauthProblem{status: http.StatusUnauthorized, title: oauthInvalidClientTitle, detail: oauthInvalidClient}
	}
	if p.redirectURI != c.RedirectURI {
		return nil, badOAuthRequest(HintRedirectMismatch, "redirect_uri must equal the integration's Redirect URI")
	}
	now := s.now()
	var acc *account
	switch p.grantType {
	case "authorization_code":
		g, ok := s.oauth.codes[p.code]
		switch {
		case p.code == "":
			return nil, badOAuthRequest(HintMissingParameter, "code is required")
		case !ok:
			return nil, badOAuthRequest(HintCodeInvalid, "unknown authorization code")
		case g.client != c.ID:
			return nil, badOAuthRequest(HintCodeNotLinked, "the code belongs to another integration")
		case g.used || g.revoked:
			return nil, badOAuthRequest(HintCodeRevoked, "the code was already exchanged")
		case !now.Before(g.expires):
			return nil, badOAuthRequest(HintCodeExpired, "the code is older than its lifetime")
		}
		g.used = true
		acc = g.acc
		s.oauth.stats.Exchanges++
	case "refresh_token":
		g, ok := s.oauth.refresh[p.refreshToken]
		switch {
		case p.refreshToken == "":
			return nil, badOAuthRequest(HintMissingParameter, "refresh_token is required")
		case !ok:
			return nil, badOAuthRequest(HintRefreshInvalid, "unknown refresh token")
		case g.client != c.ID:
			return nil, &oauthProblem{status: http.StatusUnauthorized, title: "Unauthorized", detail: "the token belongs to another integration", hint: HintTokenNotLinked}
		case g.used:
			s.oauth.stats.Reused++
			return nil, revoked("the refresh token was already used")
		case g.revoked:
			return nil, revoked("access was revoked")
		case !now.Before(g.expires):
			return nil, revoked("the refresh token is older than its lifetime")
		}
		g.used = true
		acc = g.acc
		s.oauth.stats.Refreshes++
	default:
		return nil, badOAuthRequest(HintUnsupportedGrant, "grant_type must be authorization_code or refresh_token")
	}
	return s.issuePairLocked(r.Host, c.ID, acc, now), nil
}

// issuePairLocked issues a new access token (a JWT, like amoCRM's, whose
// api_domain is host) and refresh token; s.mu is held.
func (s *Server) issuePairLocked(host, clientID string, acc *account, now time.Time) map[string]any {
	life := s.cfg.oauth.life
	access := newJWT(map[string]any{
		"aud": clientID, "jti": randomHex(20), "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(life.Access).Unix(), "sub": strconv.Itoa(firstUserID(acc)),
		"account_id": acc.ID, "base_domain": "amocrm.ru", "api_domain": host, "version": 2,
		"scopes": []string{"crm", "files", "notifications", "push_notifications"},
	})
	refresh := "def50200" + randomHex(96)
	s.oauth.access[access] = &oauthGrant{client: clientID, acc: acc, expires: now.Add(life.Access)}
	s.oauth.refresh[refresh] = &oauthGrant{client: clientID, acc: acc, expires: now.Add(life.Refresh)}
	s.oauth.stats.RefreshToken = refresh
	return map[string]any{
		"token_type":    "Bearer",
		"expires_in":    int64(life.Access / time.Second),
		"server_time":   now.Unix(),
		"access_token":  access,
		"refresh_token": refresh,
	}
}

func firstUserID(acc *account) int {
	if len(acc.Users) > 0 {
		return acc.Users[0].ID
	}
	return 0
}

// handleOAuthSubdomain is the subdomain lookup: it needs a valid refresh
// token in X-Refresh-Token, reads and rotates nothing.
func (s *Server) handleOAuthSubdomain(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g, ok := s.oauth.refresh[r.Header.Get("X-Refresh-Token")]
	if !ok || g.used || g.revoked || !s.now().Before(g.expires) {
		s.mu.Unlock()
		writeProblem(w, http.StatusUnauthorized, "a valid refresh token is required in X-Refresh-Token", nil)
		return
	}
	domain := s.oauth.movedTo
	if domain == "" {
		domain = r.Host
	}
	body := map[string]any{"id": g.acc.ID, "subdomain": g.acc.Subdomain, "domain": domain, "top_level_domain": "ru"}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", body)
}

// newJWT returns an unsigned-looking JWT: header and claims in base64url, and
// random bytes where the signature goes (nobody can check it anyway).
func newJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "jti": randomHex(8)})
	body, _ := json.Marshal(claims)
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	return enc.EncodeToString(head) + "." + enc.EncodeToString(body) + "." + enc.EncodeToString(sig)
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
