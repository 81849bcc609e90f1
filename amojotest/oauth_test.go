package amojotest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

// The requests below are written by hand, as amoCRM documents them, so the
// fake is checked against the documentation rather than against the SDK.

// tokenCall posts a token request as JSON (or form-encoded, when form).
func (e *env) tokenCall(fields map[string]string, form bool) result {
	e.t.Helper()
	var body []byte
	ct := "application/json"
	if form {
		v := url.Values{}
		for k, s := range fields {
			v.Set(k, s)
		}
		body, ct = []byte(v.Encode()), "application/x-www-form-urlencoded"
	} else {
		body, _ = json.Marshal(fields)
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.srv.CRMURL+"/oauth2/access_token", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return e.do(req)
}

func grant(kind, value string) map[string]string {
	f := map[string]string{
		"client_id": amojotest.DefaultClientID, "client_secret": amojotest.DefaultClientSecret,
		"grant_type": kind, "redirect_uri": amojotest.DefaultRedirectURI,
	}
	if kind == "authorization_code" {
		f["code"] = value
	} else {
		f["refresh_token"] = value
	}
	return f
}

// authorize issues a code and exchanges it: the first pair of an
// installation.
func (e *env) authorize() (access, refresh string) {
	e.t.Helper()
	code, err := e.srv.AuthorizationCode("")
	if err != nil {
		e.t.Fatal(err)
	}
	access, refresh, _ = pair(e.t, e.tokenCall(grant("authorization_code", code), false))
	return access, refresh
}

// pair reads a successful token answer.
func pair(t *testing.T, r result) (access, refresh string, expiresIn float64) {
	t.Helper()
	mustStatus(t, r, 200)
	m := r.json(t)
	access, _ = m["access_token"].(string)
	refresh, _ = m["refresh_token"].(string)
	expiresIn, _ = m["expires_in"].(float64)
	if m["token_type"] != "Bearer" || access == "" || refresh == "" || m["server_time"] == nil {
		t.Fatalf("token answer %s", r.body)
	}
	return access, refresh, expiresIn
}

func hint(t *testing.T, r result, status int) string {
	t.Helper()
	mustStatus(t, r, status)
	m := r.json(t)
	if m["type"] != amojotest.OAuthProblemType || m["status"] != float64(status) || m["title"] == "" {
		t.Errorf("problem %s", r.body)
	}
	h, _ := m["hint"].(string)
	return h
}

func TestOAuthTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Access: time.Hour}))
	code, err := e.srv.AuthorizationCode("")
	if err != nil {
		t.Fatal(err)
	}
	access, refresh, exp := pair(t, e.tokenCall(grant("authorization_code", code), false))
	if exp != 3600 {
		t.Errorf("expires_in %v", exp)
	}
	// The access token is a JWT with exp and api_domain, like amoCRM's.
	parts := strings.Split(access, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if len(parts) != 3 || json.Unmarshal(claims, &c) != nil || c["exp"] != float64(t0.Add(time.Hour).Unix()) || c["api_domain"] == "" {
		t.Errorf("access token claims %s", claims)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access), 200)

	// A code works once.
	if h := hint(t, e.tokenCall(grant("authorization_code", code), false), 400); h != amojotest.HintCodeRevoked {
		t.Errorf("reused code: hint %q", h)
	}
	// A refresh rotates the pair; form-encoded bodies work as well.
	access2, refresh2, _ := pair(t, e.tokenCall(grant("refresh_token", refresh), true))
	if access2 == access || refresh2 == refresh {
		t.Error("the refresh did not rotate the pair")
	}
	// The old refresh token is dead: amoCRM's "Token has been revoked".
	if h := hint(t, e.tokenCall(grant("refresh_token", refresh), false), 401); h != amojotest.HintTokenRevoked {
		t.Errorf("reused refresh token: hint %q", h)
	}
	st := e.srv.OAuthStats()
	if st.Exchanges != 1 || st.Refreshes != 1 || st.Reused != 1 || st.Refused != 2 || st.RefreshToken != refresh2 {
		t.Errorf("stats %+v", st)
	}
	// Access tokens expire on the fake's clock.
	e.clock.Add(time.Hour - time.Second)
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access2), 200)
	e.clock.Add(time.Second)
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access2), 401)
	// The static token keeps working beside OAuth.
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, e.srv.Token()), 200)
}

func TestOAuthTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	other := amojotest.OAuthClient{ID: "other", Secret: "other-secret", RedirectURI: "https://other.example/cb"}
	e := newEnv(t, amojotest.WithOAuthClient(amojotest.OAuthClient{ID: amojotest.DefaultClientID, Secret: amojotest.DefaultClientSecret, RedirectURI: amojotest.DefaultRedirectURI}),
		amojotest.WithOAuthClient(other))
	code, _ := e.srv.AuthorizationCode("")
	with := func(f map[string]string, k, v string) map[string]string {
		g := map[string]string{}
		for a, b := range f {
			g[a] = b
		}
		g[k] = v
		return g
	}
	ok := grant("authorization_code", code)
	for name, tt := range map[string]struct {
		fields map[string]string
		status int
		hint   string
	}{
		"wrong secret":            {with(ok, "client_secret", "nope"), 401, ""},
		"unknown client":          {with(ok, "client_id", "nope"), 401, ""},
		"redirect trailing slash": {with(ok, "redirect_uri", amojotest.DefaultRedirectURI+"/"), 400, amojotest.HintRedirectMismatch},
		"no redirect_uri":         {with(ok, "redirect_uri", ""), 400, amojotest.HintRedirectMismatch},
		"unknown code":            {with(ok, "code", "nope"), 400, amojotest.HintCodeInvalid},
		"another client's code":   {with(with(with(ok, "client_id", other.ID), "client_secret", other.Secret), "redirect_uri", other.RedirectURI), 400, amojotest.HintCodeNotLinked},
		"unsupported grant":       {with(ok, "grant_type", "password"), 400, amojotest.HintUnsupportedGrant},
		"unknown refresh token":   {grant("refresh_token", "nope"), 400, amojotest.HintRefreshInvalid},
		"refresh without a token": {grant("refresh_token", ""), 400, amojotest.HintMissingParameter},
		"exchange without a code": {grant("authorization_code", ""), 400, amojotest.HintMissingParameter},
	} {
		if h := hint(t, e.tokenCall(tt.fields, false), tt.status); h != tt.hint {
			t.Errorf("%s: hint %q, want %q", name, h, tt.hint)
		}
	}
	// None of those spent the code; it expires after 20 minutes.
	e.clock.Add(amojotest.DefaultCodeLifetime)
	if h := hint(t, e.tokenCall(ok, false), 400); h != amojotest.HintCodeExpired {
		t.Errorf("expired code: hint %q", h)
	}
	_, refresh := e.authorize()
	f := with(with(with(grant("refresh_token", refresh), "client_id", other.ID), "client_secret", other.Secret), "redirect_uri", other.RedirectURI)
	if h := hint(t, e.tokenCall(f, false), 401); h != amojotest.HintTokenNotLinked {
		t.Errorf("another client's refresh token: hint %q", h)
	}
	e.clock.Add(amojotest.DefaultRefreshLifetime)
	if h := hint(t, e.tokenCall(grant("refresh_token", refresh), false), 401); h != amojotest.HintTokenRevoked {
		t.Errorf("expired refresh token: hint %q", h)
	}
	mustStatus(t, e.tokenCall(nil, false), 400)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.CRMURL+"/oauth2/access_token", strings.NewReader("[1]"))
	req.Header.Set("Content-Type", "application/json")
	mustStatus(t, e.do(req), 400)
	if _, err := e.srv.AuthorizationCode("nope"); err == nil {
		t.Error("a code for an unknown client")
	}
}

func TestOAuthExpireAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	access, refresh := e.authorize()
	if n := e.srv.ExpireAccessTokens(); n != 1 {
		t.Errorf("expired %d", n)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access), 401)
	access, refresh, _ = pair(t, e.tokenCall(grant("refresh_token", refresh), false))
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access), 200)
	if n := e.srv.RevokeTokens(); n != 2 {
		t.Errorf("revoked %d, want the access and the refresh token", n)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access), 401)
	if h := hint(t, e.tokenCall(grant("refresh_token", refresh), false), 401); h != amojotest.HintTokenRevoked {
		t.Errorf("revoked: hint %q", h)
	}
}

// The authorization page consents at once and redirects to the Redirect URI
// with code, state, referer and platform.
func TestOAuthAuthorizationPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.srv.AuthorizationPage() + "?client_id=" + amojotest.DefaultClientID + "&state=st-1&mode=post_message")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), amojotest.DefaultRedirectURI+"?") ||
		q.Get("state") != "st-1" || q.Get("referer") != e.srv.URL || q.Get("platform") != "1" || q.Get("code") == "" {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
	pair(t, e.tokenCall(grant("authorization_code", q.Get("code")), false))
	resp, err = noFollow.Get(e.srv.AuthorizationPage() + "?client_id=unknown")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown client: %d", resp.StatusCode)
	}
	if !e.srv.IsHost(strings.TrimPrefix(e.srv.URL, "http://")) || e.srv.IsHost("acme.amocrm.ru") {
		t.Error("IsHost")
	}
}

// MoveAccount: the old host answers 404, the subdomain lookup (with a valid
// refresh token) names the new one, where refreshes work.
func TestOAuthMoveAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, refresh := e.authorize()
	_, port, _ := strings.Cut(strings.TrimPrefix(e.srv.URL, "http://"), ":")
	e.srv.MoveAccount("localhost:" + port)
	if h := hint(t, e.tokenCall(grant("refresh_token", refresh), false), 404); h != "" {
		t.Errorf("hint %q on the old host", h)
	}
	lookup := func(tok string) result {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/oauth2/account/current/subdomain", nil)
		req.Header.Set("X-Refresh-Token", tok)
		return e.do(req)
	}
	r := lookup(refresh)
	mustStatus(t, r, 200)
	if m := r.json(t); m["domain"] != "localhost:"+port || m["subdomain"] != amojotest.DefaultSubdomain {
		t.Errorf("lookup %s", r.body)
	}
	mustStatus(t, lookup("nope"), 401)
	body, _ := json.Marshal(grant("refresh_token", refresh))
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://localhost:"+port+"/oauth2/access_token", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	pair(t, e.do(req))
}

func TestOAuthControlAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithControlAPI())
	call := func(method, action, body string) map[string]any {
		req, _ := http.NewRequestWithContext(t.Context(), method, e.srv.URL+"/amojotest/oauth/"+action, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r := e.do(req)
		mustStatus(t, r, 200)
		return r.json(t)
	}
	m := call("POST", "code", `{}`)
	code, _ := m["code"].(string)
	if m["referer"] != e.srv.URL {
		t.Errorf("referer %v", m["referer"])
	}
	access, _, _ := pair(t, e.tokenCall(grant("authorization_code", code), false))
	if m := call("POST", "expire-access-tokens", ""); m["expired"] != float64(1) {
		t.Errorf("expire: %v", m)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, access), 401)
	if m := call("POST", "revoke-tokens", ""); m["revoked"] != float64(1) {
		t.Errorf("revoke: %v", m)
	}
	if m := call("GET", "stats", ""); m["exchanges"] != float64(1) || m["refresh_token"] == "" {
		t.Errorf("stats: %v", m)
	}
	call("POST", "move-account", `{"host":"localhost:1"}`)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/amojotest/oauth/code", strings.NewReader(`{"client_id":"nope"}`))
	req.Header.Set("Content-Type", "application/json")
	mustStatus(t, e.do(req), 400)
}

func TestOAuthOptionsValidated(t *testing.T) {
	t.Parallel()
	for _, opt := range []amojotest.Option{
		amojotest.WithOAuthClient(amojotest.OAuthClient{ID: "x"}),
		amojotest.WithOAuthClient(amojotest.OAuthClient{ID: "x", Secret: "s", RedirectURI: "/cb"}),
		amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Access: time.Millisecond}),
		amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Code: -time.Second}),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("invalid OAuth option accepted")
				}
			}()
			amojotest.NewUnstartedServer(opt).Close()
		}()
	}
}

func TestNewOAuthToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, err := e.srv.NewOAuthToken("")
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccountURL != e.srv.CRMURL || !tok.Expiry.Equal(t0.Add(amojotest.DefaultAccessLifetime)) {
		t.Errorf("token for %s until %v", tok.AccountURL, tok.Expiry)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok.AccessToken), 200)
	pair(t, e.tokenCall(grant("refresh_token", tok.RefreshToken), false))
	if _, err := e.srv.NewOAuthToken("nope"); err == nil {
		t.Error("a token for an unknown client")
	}
}
