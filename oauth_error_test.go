package amojo

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOAuthErrorTextIsCleanAndTraceable: the token endpoint's text reaches
// the message on one line without escape sequences, an echoed secret is
// replaced, and the request id amoCRM sent is kept.
func TestOAuthErrorTextIsCleanAndTraceable(t *testing.T) {
	t.Parallel()
	const secret = "client-secret-4f0c9a2b"
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{
		"Content-Type": {"application/problem+json"},
		"X-Request-Id": {"req-81c2"},
	}}
	body := []byte(`{"title":"Unauthorized\u001b[31m red","detail":"secret ` + secret + `\nsecond line","hint":"Token has been revoked","status":401}`)
	ae := newAPIError(http.MethodPost, "/oauth2/access_token", resp, body, time.Now())
	e := newOAuthError(grantRefreshToken, ae, secret, "")

	require.Equal(t, "req-81c2", e.RequestID)
	msg := e.Error()
	assert.Equal(t, "amojo: oauth refresh_token: 401: Token has been revoked: Unauthorized red: secret [redacted] second line (request id req-81c2)", msg)
	assert.False(t, strings.ContainsAny(msg, "\x1b\n"), "message %q has control characters", msg)
	assert.ErrorIs(t, e, ErrRefreshTokenRevoked)
}
