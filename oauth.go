package amojo

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// OAuthConfig is an amoCRM or Kommo integration as its settings show it: the
// integration ID, its secret key and the Redirect URI saved there. The
// RedirectURI is sent on both grants and must equal the saved one character
// for character (a trailing slash counts).
//
// Its String, Format, LogValue and JSON forms never contain the secret.
type OAuthConfig struct {
	ClientID     string
	ClientSecret string
	RedirectURI  string
}

// OAuthToken is one OAuth token pair of one account: the account's address
// (the host of the token endpoint and of the REST API), the access token, the
// single-use refresh token, and when the access token expires.
//
// Its String, Format, LogValue and JSON forms show the account and the
// expiry only, never the tokens: a TokenStore writes the fields themselves
// (see FileTokenStore for a file format).
type OAuthToken struct {
	AccountURL   string
	AccessToken  string
	RefreshToken string
	Expiry       time.Time
}

// String describes the integration without its secret.
func (c OAuthConfig) String() string {
	return fmt.Sprintf("amojo.OAuthConfig{client_id: %s, redirect_uri: %s, secret: %s}", c.ClientID, c.RedirectURI, redactedIfSet(c.ClientSecret))
}

// Format prints String for every verb, so no verb (%v, %+v, %#v, %d, …)
// shows the secret.
func (c OAuthConfig) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue describes the integration to log/slog without its secret.
func (c OAuthConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.String("redirect_uri", c.RedirectURI))
}

// MarshalJSON writes the client id and Redirect URI, never the secret.
func (c OAuthConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID    string `json:"client_id"`
		RedirectURI string `json:"redirect_uri"`
	}{c.ClientID, c.RedirectURI})
}

// String describes the token without the tokens themselves.
func (t OAuthToken) String() string {
	return fmt.Sprintf("amojo.OAuthToken{account: %s, expiry: %s, access_token: %s, refresh_token: %s}",
		t.AccountURL, formatExpiry(t.Expiry), redactedIfSet(t.AccessToken), redactedIfSet(t.RefreshToken))
}

// Format prints String for every verb, so no verb shows a token.
func (t OAuthToken) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

// LogValue describes the token to log/slog: account and expiry only.
func (t OAuthToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", t.AccountURL), slog.Time("expiry", t.Expiry))
}

// MarshalJSON writes the account and the expiry, never the tokens.
func (t OAuthToken) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccountURL string    `json:"account_url"`
		Expiry     time.Time `json:"expiry"`
	}{t.AccountURL, t.Expiry})
}

// Validate reports a token pair a TokenStore cannot keep or an
// OAuthTokenSource cannot use, as a *ValidationError naming the field: an
// AccountURL that is not an account's address (https, no path, query or
// credentials; http only on loopback), an empty access or refresh token or
// one with whitespace or control characters, a zero Expiry. It never quotes
// a token.
func (t OAuthToken) Validate() error { return checkToken(&t) }

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

func redactedIfSet(s string) string {
	if s == "" {
		return "none"
	}
	return "redacted"
}

// validate reports a configuration that cannot work, naming the field.
func (c OAuthConfig) validate() error {
	if err := checkCredential("OAuthConfig.ClientID", c.ClientID); err != nil {
		return err
	}
	if err := checkCredential("OAuthConfig.ClientSecret", c.ClientSecret); err != nil {
		return err
	}
	if c.RedirectURI == "" {
		return invalid("OAuthConfig.RedirectURI", "empty")
	}
	u, err := url.Parse(c.RedirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("OAuthConfig.RedirectURI", "must be an absolute http(s) URL")
	}
	if u.User != nil || u.Fragment != "" {
		return invalid("OAuthConfig.RedirectURI", "must not carry credentials or a fragment")
	}
	return nil
}

func checkCredential(field, v string) error {
	if v == "" {
		return invalid(field, "empty")
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f {
			return invalid(field, "contains whitespace or control characters")
		}
	}
	return nil
}

// IsAccountHost reports whether host is the address of an amoCRM or Kommo
// account or API host: a name under amocrm.ru, amocrm.com or kommo.com, such
// as "acme.amocrm.ru", without a port. The www hosts serve the
// authorization page only and are not account hosts.
func IsAccountHost(host string) bool {
	h := strings.ToLower(host)
	for _, suffix := range []string{".amocrm.ru", ".amocrm.com", ".kommo.com"} {
		name, ok := strings.CutSuffix(h, suffix)
		if !ok {
			continue
		}
		return name != "" && name != "www" && validHostLabels(name)
	}
	return false
}

// validHostLabels reports whether name is dot-separated labels of letters,
// digits and hyphens, none empty or starting or ending with a hyphen.
func validHostLabels(name string) bool {
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// IsLoopbackHost reports whether host (with or without a port) is
// "localhost" or a loopback IP address, such as the address of a fake amoCRM
// from package amojotest.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseAccountURL parses the address of an account and checks that client
// credentials may be sent there: https on a host that allowHost accepts (an
// amoCRM or Kommo host when allowHost is nil), or any loopback address
// (http or https), where fakes run. field names the input in errors.
func parseAccountURL(field, raw string, allowHost func(string) bool) (*url.URL, error) {
	if raw == "" {
		return nil, invalid(field, "empty")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, invalid(field, "must be an http(s) URL such as https://example.amocrm.ru")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, invalid(field, "must be the account's address only, without path, query or credentials")
	}
	loopback := IsLoopbackHost(u.Host)
	switch {
	case loopback:
	case u.Scheme != "https":
		return nil, invalid(field, "must use https (http only for a loopback address)")
	case allowHost != nil && allowHost(u.Host):
	case !IsAccountHost(u.Host):
		return nil, invalid(field, "host "+u.Host+" is not an amoCRM or Kommo account")
	}
	return &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host)}, nil
}

// oauthOptions are the options only the OAuth calls read.
type oauthOptions struct {
	margin    time.Duration     // refresh this long before expiry; 0: automatic
	allowHost func(string) bool // more account hosts; nil: amoCRM and Kommo only
}

// WithRefreshMargin makes an OAuthTokenSource refresh the access token d
// before it expires. By default the margin is a tenth of the token's
// lifetime, at most DefaultRefreshMargin, so it also suits short lifetimes.
// Other clients ignore it.
func WithRefreshMargin(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return invalid("RefreshMargin", "must be positive")
		}
		o.oauth.margin = d
		return nil
	}
}

// WithAccountHosts lets the OAuth calls (Exchange, refresh, the subdomain
// lookup) send client credentials and tokens to https hosts that allow
// accepts, besides amoCRM's and Kommo's (IsAccountHost) and loopback
// addresses. Use it for a proxy in front of amoCRM. Other clients ignore it.
func WithAccountHosts(allow func(host string) bool) Option {
	return func(o *options) error {
		if allow == nil {
			return invalid("AccountHosts", "nil")
		}
		o.oauth.allowHost = allow
		return nil
	}
}
