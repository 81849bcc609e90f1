package amojo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The grants of the token endpoint, and the name OAuthError gives the
// subdomain lookup.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantSubdomain         = "subdomain"
)

// The paths of the token endpoint (on the account host) and of the subdomain
// lookup (on the api_domain host).
const (
	tokenPath     = "/oauth2/access_token"
	subdomainPath = "/oauth2/account/current/subdomain"
)

// maxTokenLifetime caps an expires_in, so a broken answer cannot make a
// token look valid for ever.
const maxTokenLifetime = 10 * 365 * 24 * time.Hour

// tokenRequest is the JSON body of both grants. It holds secrets: it is only
// ever marshalled into a request body, never logged or formatted.
type tokenRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	GrantType    string `json:"grant_type"`
	Code         string `json:"code,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	RedirectURI  string `json:"redirect_uri"`
}

// Exchange trades the authorization code of a redirect (see ParseRedirect)
// for the account's first token pair: POST {accountURL}/oauth2/access_token
// with the client id and secret, grant_type authorization_code, the code and
// the Redirect URI. accountURL is the account's address, such as
// Authorization.AccountURL: https on an amoCRM or Kommo host, a loopback
// address (a fake), or a host WithAccountHosts allows. The token's Expiry is
// expires_in from now on the clock of WithClock.
//
// A code is valid for 20 minutes and only once, so the call is never
// repeated after a lost answer (only after a 429). Save the token in a
// TokenStore at once; an OAuthTokenSource then keeps it fresh. Options:
// WithHTTPClient, WithClock, WithLogger, WithRetry, WithUserAgent,
// WithAccountHosts. Errors from amoCRM are *OAuthError.
func (c OAuthConfig) Exchange(ctx context.Context, accountURL, code string, opts ...Option) (*OAuthToken, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := checkCredential("code", code); err != nil {
		return nil, err
	}
	o, err := buildOAuthOptions(opts)
	if err != nil {
		return nil, err
	}
	base, err := parseAccountURL("accountURL", accountURL, o.oauth.allowHost)
	if err != nil {
		return nil, err
	}
	return c.grant(ctx, o, base, tokenRequest{GrantType: grantAuthorizationCode, Code: code})
}

// refresh spends tok's refresh token for a new pair on tok's account.
func (c OAuthConfig) refresh(ctx context.Context, o *options, tok *OAuthToken) (*OAuthToken, error) {
	base, err := parseAccountURL("OAuthToken.AccountURL", tok.AccountURL, o.oauth.allowHost)
	if err != nil {
		return nil, err
	}
	return c.grant(ctx, o, base, tokenRequest{GrantType: grantRefreshToken, RefreshToken: tok.RefreshToken})
}

// buildOAuthOptions builds the options of the OAuth calls, which have no
// base URL: the account's address comes with each call.
func buildOAuthOptions(opts []Option) (*options, error) {
	o, err := buildOptions("", opts)
	if err != nil {
		return nil, err
	}
	if o.baseURL != nil {
		return nil, invalid("BaseURL", "does not apply to OAuth: the account's address comes from the redirect or the token")
	}
	return o, nil
}

// oauthRequester is the request path to one host: no rate limit unless
// WithRateLimit asks for one, and a JSON Content-Type on bodies. header adds
// request headers (nil: none).
func oauthRequester(o *options, base *url.URL, header func(http.Header)) *requester {
	oc := *o
	oc.baseURL = base
	return newRequester(&oc, nil, func(_ context.Context, req *http.Request, body []byte, _ time.Time) error {
		if len(body) > 0 {
			req.Header["Content-Type"] = []string{ContentTypeJSON}
		}
		if header != nil {
			header(req.Header)
		}
		return nil
	})
}

// grant calls the token endpoint of base with in, completed with the
// integration's credentials.
func (c OAuthConfig) grant(ctx context.Context, o *options, base *url.URL, in tokenRequest) (*OAuthToken, error) {
	in.ClientID, in.ClientSecret, in.RedirectURI = c.ClientID, c.ClientSecret, c.RedirectURI
	// The lifetime counts from before the request: the token then never
	// looks valid longer than it is.
	start := o.now()
	var raw json.RawMessage
	// Not idempotent: a code, like a refresh token, works once, and a
	// repeat after a lost answer could only be refused.
	_, err := oauthRequester(o, base, nil).do(ctx, request{method: http.MethodPost, path: tokenPath, in: in, out: &raw, notIdempotent: true})
	if err != nil {
		return nil, oauthFailure(in.GrantType, err, c.ClientSecret, in.Code, in.RefreshToken)
	}
	tok, err := parseTokenResponse(raw, start)
	if err != nil {
		return nil, fmt.Errorf("amojo: oauth %s: %w", in.GrantType, err)
	}
	tok.AccountURL = base.String()
	return tok, nil
}

// oauthFailure turns an error answer into an *OAuthError; other errors
// (network, context) are wrapped with the grant.
func oauthFailure(grant string, err error, secrets ...string) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return newOAuthError(grant, ae, secrets...)
	}
	return fmt.Errorf("amojo: oauth %s: %w", grant, err)
}

// parseTokenResponse reads a 200 answer of the token endpoint; the expiry is
// expires_in after start.
func parseTokenResponse(raw []byte, start time.Time) (*OAuthToken, error) {
	o, ok := decodeJSONObject(raw)
	if !ok {
		return nil, errors.New("the answer is not a JSON object")
	}
	if tt := o.str("token_type"); tt != "" && !strings.EqualFold(tt, "Bearer") {
		return nil, fmt.Errorf("the answer has token_type %q, not Bearer", cleanText(tt, 40))
	}
	tok := &OAuthToken{AccessToken: o.str("access_token"), RefreshToken: o.str("refresh_token")}
	for _, f := range []struct{ name, v string }{{"access_token", tok.AccessToken}, {"refresh_token", tok.RefreshToken}} {
		if f.v == "" {
			return nil, fmt.Errorf("the answer has no %s", f.name)
		}
		if strings.ContainsFunc(f.v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("the answer's %s contains whitespace or control characters", f.name)
		}
	}
	secs := o.int("expires_in")
	if secs <= 0 {
		return nil, errors.New("the answer has no positive expires_in")
	}
	life := maxTokenLifetime
	if secs < int64(maxTokenLifetime/time.Second) {
		life = time.Duration(secs) * time.Second
	}
	tok.Expiry = start.Add(life)
	return tok, nil
}

// lookupSubdomain asks the api_domain host of an access token for the
// account's current address: GET /oauth2/account/current/subdomain with the
// refresh token in X-Refresh-Token (the call reads, it does not rotate). It
// returns the account URL of the domain answered.
func lookupSubdomain(ctx context.Context, o *options, accessToken, refreshToken, accountURL string) (string, error) {
	claims, ok := parseJWT(accessToken)
	if !ok || claims.APIDomain == "" {
		return "", errors.New("the access token has no api_domain claim")
	}
	base, err := hostURL("api_domain", claims.APIDomain, accountURL, o.oauth.allowHost)
	if err != nil {
		return "", err
	}
	var raw json.RawMessage
	r := oauthRequester(o, base, func(h http.Header) { h["X-Refresh-Token"] = []string{refreshToken} })
	if _, err := r.do(ctx, request{method: http.MethodGet, path: subdomainPath, out: &raw}); err != nil {
		return "", oauthFailure(grantSubdomain, err, refreshToken)
	}
	obj, ok := decodeJSONObject(raw)
	if !ok || obj.str("domain") == "" {
		return "", errors.New("the subdomain answer has no domain")
	}
	u, err := hostURL("domain", obj.str("domain"), accountURL, o.oauth.allowHost)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// hostURL turns a host given by amoCRM (api_domain, domain) into a URL:
// https, or http for a loopback host when the account itself is on http (a
// fake). A name without a dot gets the top-level domain of accountURL, as
// the docs' "{api_domain}.amocrm.ru" form suggests. The result passes the
// checks of parseAccountURL.
func hostURL(field, host, accountURL string, allowHost func(string) bool) (*url.URL, error) {
	host = strings.TrimSpace(host)
	if strings.ContainsAny(host, "/?#@ ") {
		return nil, invalid(field, "not a host name")
	}
	acc, err := url.Parse(accountURL)
	if err != nil {
		return nil, invalid(field, "the account URL is not a URL")
	}
	if !strings.Contains(host, ".") && !IsLoopbackHost(host) {
		if i := strings.Index(acc.Hostname(), "."); i >= 0 {
			host += acc.Hostname()[i:]
		}
	}
	scheme := "https"
	if acc.Scheme == "http" && IsLoopbackHost(host) {
		scheme = "http"
	}
	return parseAccountURL(field, scheme+"://"+host, allowHost)
}
