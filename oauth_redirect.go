package amojo

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// The authorization pages, where a user grants an integration access to an
// account: amoCRM's (accounts on amocrm.ru) and Kommo's.
const (
	AmoCRMAuthorizationPage = "https://www.amocrm.ru/oauth"
	KommoAuthorizationPage  = "https://www.kommo.com/oauth"
)

// AuthMode is the mode parameter of the authorization page.
type AuthMode string

// The modes of the authorization page; the empty mode is the plain page.
const (
	// AuthModePopup: the popup closes and the main window goes to the
	// Redirect URI.
	AuthModePopup AuthMode = "popup"
	// AuthModePostMessage: the popup itself goes to the Redirect URI; your
	// page there closes it (and may postMessage the opener).
	AuthModePostMessage AuthMode = "post_message"
)

// Platform is the platform parameter of the redirect: which family of hosts
// the account lives on.
type Platform int

// The platforms amoCRM names in the redirect.
const (
	PlatformAmoCRM Platform = 1 // an amocrm.ru account
	PlatformKommo  Platform = 2 // an amocrm.com or kommo.com account
)

// String returns "amocrm.ru", "kommo.com" or the number.
func (p Platform) String() string {
	switch p {
	case PlatformAmoCRM:
		return "amocrm.ru"
	case PlatformKommo:
		return "kommo.com"
	}
	return strconv.Itoa(int(p))
}

// NewOAuthState returns a fresh random state for one authorization: 26
// characters from crypto/rand. Bind it to the user's session and give it to
// ParseRedirect when the redirect comes back.
func NewOAuthState() string { return rand.Text() }

// AuthorizationURL returns the address to send the user to: page
// (AmoCRMAuthorizationPage, KommoAuthorizationPage, or a fake's page) with
// the client id, state and, unless empty, mode. The Redirect URI is not a
// parameter: amoCRM uses the one saved in the integration's settings. state
// must not be empty (see NewOAuthState).
func (c OAuthConfig) AuthorizationURL(page, state string, mode AuthMode) (string, error) {
	if err := checkCredential("OAuthConfig.ClientID", c.ClientID); err != nil {
		return "", err
	}
	if err := checkCredential("state", state); err != nil {
		return "", err
	}
	switch mode {
	case "", AuthModePopup, AuthModePostMessage:
	default:
		return "", invalid("mode", "must be empty, popup or post_message")
	}
	u, err := url.Parse(page)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Host))) {
		return "", invalid("page", "must be an https URL (http only for a loopback address)")
	}
	q := u.Query()
	q.Set("client_id", c.ClientID)
	q.Set("state", state)
	if mode != "" {
		q.Set("mode", string(mode))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ErrAccessDenied reports a redirect with error=access_denied: the user
// refused to grant access. A normal outcome, not a failure of the program.
var ErrAccessDenied = errors.New("amojo: oauth: the user denied access")

// ErrStateMismatch reports a redirect whose state is not the one expected:
// it belongs to another authorization, or was forged. Nothing in it may be
// used.
var ErrStateMismatch = errors.New("amojo: oauth: the redirect's state does not match")

// RedirectError is a redirect that carries an error parameter instead of a
// code. It matches ErrAccessDenied when the error is access_denied.
type RedirectError struct {
	Code string // the error parameter, such as "access_denied"
}

// Error returns "amojo: oauth: redirect error CODE".
func (e *RedirectError) Error() string {
	if e.Is(ErrAccessDenied) {
		return ErrAccessDenied.Error()
	}
	return "amojo: oauth: redirect error " + strconv.Quote(cleanText(e.Code, 64))
}

// Is matches ErrAccessDenied.
func (e *RedirectError) Is(target error) bool {
	return target == ErrAccessDenied && e.Code == "access_denied"
}

// Authorization is what amoCRM's redirect to the Redirect URI carries after
// the user granted access. Its String, Format, LogValue and JSON forms never
// show the code.
type Authorization struct {
	Code       string   // valid 20 minutes, once: give it to OAuthConfig.Exchange
	AccountURL string   // the account's address, from referer, such as https://acme.amocrm.ru
	State      string   // as sent in AuthorizationURL
	Platform   Platform // 0 when the redirect had none
	FromWidget bool     // the redirect is the server-side hook of a widget installation
}

// String describes the authorization without its code.
func (a Authorization) String() string {
	return fmt.Sprintf("amojo.Authorization{account: %s, platform: %s, from_widget: %t, code: %s}", a.AccountURL, a.Platform, a.FromWidget, redactedIfSet(a.Code))
}

// Format prints String for every verb, so no verb shows the code.
func (a Authorization) Format(f fmt.State, verb rune) { formatRedacted(f, verb, a.String()) }

// LogValue describes the authorization to log/slog without its code.
func (a Authorization) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", a.AccountURL), slog.Int("platform", int(a.Platform)), slog.Bool("from_widget", a.FromWidget))
}

// MarshalJSON writes everything but the code and the state.
func (a Authorization) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccountURL string   `json:"account_url"`
		Platform   Platform `json:"platform,omitempty"`
		FromWidget bool     `json:"from_widget,omitempty"`
	}{a.AccountURL, a.Platform, a.FromWidget})
}

// ParseRedirect reads the query of amoCRM's redirect to the Redirect URI
// (r.URL.Query() in its handler). In order:
//
//   - the state must equal state (compared in constant time), else
//     ErrStateMismatch; pass "" only where none was sent (the widget
//     installation hook), and then the redirect must carry none;
//   - an error parameter gives a *RedirectError (errors.Is(err,
//     ErrAccessDenied) when the user refused);
//   - code and referer must be there; referer, a bare host ("acme.amocrm.ru",
//     read as https) or a URL, must name an amoCRM or Kommo account host
//     (IsAccountHost), or a host allowHost accepts (nil: none more), such as
//     a fake's loopback address. A plain http referer is accepted for
//     loopback hosts only.
//
// The redirect is outside input: nothing in it is trusted before these
// checks, since the client secret is sent to the account host next.
func ParseRedirect(query url.Values, state string, allowHost func(host string) bool) (*Authorization, error) {
	got, sent := query.Get("state"), query.Has("state")
	if (state == "" && sent) || (state != "" && subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1) {
		return nil, ErrStateMismatch
	}
	if e := query.Get("error"); e != "" || query.Has("error") {
		return nil, &RedirectError{Code: e}
	}
	a := &Authorization{Code: query.Get("code"), State: got, FromWidget: query.Has("from_widget")}
	if err := checkCredential("code", a.Code); err != nil {
		return nil, err
	}
	acc, err := refererURL(query.Get("referer"), allowHost)
	if err != nil {
		return nil, err
	}
	a.AccountURL = acc
	if p := query.Get("platform"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 9 {
			return nil, invalid("platform", "must be 1 or 2")
		}
		a.Platform = Platform(n)
	}
	return a, nil
}

// refererURL turns the referer of a redirect into the account URL, checking
// the host before anything is sent there.
func refererURL(ref string, allowHost func(string) bool) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", invalid("referer", "empty")
	}
	raw := ref
	if !strings.Contains(ref, "://") {
		raw = "https://" + ref
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", invalid("referer", "not an account host")
	}
	host := strings.ToLower(u.Host)
	allowed := IsAccountHost(host) || (allowHost != nil && allowHost(host))
	switch {
	case !allowed:
		return "", invalid("referer", "host "+cleanText(host, 100)+" is not an amoCRM or Kommo account")
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(host):
	default:
		return "", invalid("referer", "must be https (http only for a loopback address)")
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}
