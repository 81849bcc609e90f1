package amojo

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Sentinels of the OAuth token endpoint's answers, matched by *OAuthError
// with errors.Is. amoCRM localises title and detail, so they are told apart
// by status and hint only.
var (
	// ErrRefreshTokenRevoked reports a refresh token that was already used
	// (by this or another process) or revoked: amoCRM's hint "Token has been
	// revoked". A token source matches it only after re-reading its store
	// found no newer token: the user must authorize the integration again.
	ErrRefreshTokenRevoked = errors.New("amojo: refresh token revoked or already used; authorize the integration again")
	// ErrTokenNotLinked reports a token of another integration: amoCRM's
	// hint "Token is not linked to client". A configuration error.
	ErrTokenNotLinked = errors.New("amojo: token is not linked to this integration")
	// ErrInvalidClient reports a wrong client id or secret (for example a
	// regenerated secret): 401 without a hint. A configuration error.
	ErrInvalidClient = errors.New("amojo: invalid client id or secret")
)

// The hints of the token endpoint's answers that the SDK branches on.
const (
	HintTokenRevoked   = "Token has been revoked"
	HintTokenNotLinked = "Token is not linked to client"
)

// OAuthError is an error answer of the OAuth token endpoint (or of the
// subdomain lookup): the status and the problem fields amoCRM sends. Its
// message never contains a secret, a code or a token, even if the server
// echoed one.
type OAuthError struct {
	StatusCode int
	Grant      string // "authorization_code", "refresh_token", or "subdomain" for the lookup
	Hint       string // English and stable: the field to branch on
	Title      string // localised
	Detail     string // localised
	Type       string
	RequestID  string // the answer's X-Request-Id, when amoCRM sent one
}

// maxOAuthText caps each text of an OAuthError.
const maxOAuthText = 300

// Error returns "amojo: oauth GRANT: STATUS HINT: TITLE: DETAIL", leaving out
// what the answer did not have.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("amojo: oauth ")
	b.WriteString(e.Grant)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	for _, s := range []string{e.Hint, e.Title, e.Detail} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	if e.Hint == "" && e.Title == "" && e.Detail == "" {
		b.WriteString(" ")
		b.WriteString(http.StatusText(e.StatusCode))
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteByte(')')
	}
	return b.String()
}

// Is matches ErrRefreshTokenRevoked, ErrTokenNotLinked and ErrInvalidClient
// by hint and status, and ErrUnauthorized for every 401.
func (e *OAuthError) Is(target error) bool {
	switch target {
	case ErrRefreshTokenRevoked:
		return strings.EqualFold(e.Hint, HintTokenRevoked)
	case ErrTokenNotLinked:
		return strings.EqualFold(e.Hint, HintTokenNotLinked)
	case ErrInvalidClient:
		return e.StatusCode == http.StatusUnauthorized && e.Hint == "" && e.Grant != grantSubdomain
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	}
	return false
}

// newOAuthError reads the answer kept in ae. Every text is cleaned of the
// secret values of the request, in case the server echoed one.
func newOAuthError(grant string, ae *APIError, secrets ...string) *OAuthError {
	e := &OAuthError{StatusCode: ae.StatusCode, Grant: grant}
	if o, ok := decodeJSONObject(ae.Body); ok {
		e.Hint, e.Title, e.Detail, e.Type = o.str("hint"), o.str("title"), o.str("detail"), o.str("type")
		if e.Title == "" {
			// OAuth 2.0's own error fields, should an answer use them.
			e.Title, e.Detail = o.str("error"), firstNonEmpty(e.Detail, o.str("error_description"))
		}
	}
	e.RequestID = ae.RequestID
	secrets = slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
	for _, p := range []*string{&e.Hint, &e.Title, &e.Detail, &e.Type} {
		*p = cleanText(redactString(*p, secrets), maxOAuthText)
	}
	return e
}
