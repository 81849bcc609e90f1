package amojo

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testJWT builds a compact JWT with the given claims JSON and a dummy
// signature.
func testJWT(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2lnbmF0dXJl"
}

func TestParseJWT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tok    string
		ok     bool
		exp    int64
		iat    int64
		domain string
	}{
		{"amoCRM claims", testJWT(`{"aud":"x","iat":1767225600,"nbf":1767225600,"exp":1767312000,"api_domain":"api-b.amocrm.ru"}`), true, 1767312000, 1767225600, "api-b.amocrm.ru"},
		{"exp as float", testJWT(`{"exp":1.7673120e9}`), true, 1767312000, 0, ""},
		{"exp as string", testJWT(`{"exp":"1767312000"}`), true, 1767312000, 0, ""},
		{"no exp", testJWT(`{"sub":"1"}`), true, 0, 0, ""},
		{"padded payload", strings.Replace(testJWT(`{"exp":5}`), ".c2ln", "==.c2ln", 1), true, 5, 0, ""},
		{"opaque token", "amojotest-long-lived-token", false, 0, 0, ""},
		{"two parts", "a.b", false, 0, 0, ""},
		{"payload not base64", "a.!!!.c", false, 0, 0, ""},
		{"payload not an object", testJWT(`[1,2]`), false, 0, 0, ""},
		{"payload invalid JSON", testJWT(`{"exp":`), false, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseJWT(tt.tok)
			require.Equal(t, tt.ok, ok)
			if tt.exp != 0 {
				assert.Equal(t, tt.exp, c.Expiry.Unix(), "exp")
			} else {
				assert.True(t, c.Expiry.IsZero(), "exp = %v, want none", c.Expiry)
			}
			if tt.iat != 0 {
				assert.Equal(t, tt.iat, c.IssuedAt.Unix(), "iat")
			}
			assert.Equal(t, tt.domain, c.APIDomain, "api_domain")
		})
	}
}

func TestStaticTokenExpiry(t *testing.T) {
	t.Parallel()
	exp, ok := StaticToken(testJWT(`{"exp":1767312000}`)).Expiry()
	assert.True(t, ok, "no expiry")
	assert.True(t, exp.Equal(time.Unix(1767312000, 0)), "Expiry = %v", exp)
	_, ok = StaticToken("not-a-jwt").Expiry()
	assert.False(t, ok, "an opaque token has an expiry")
	_, ok = StaticToken(testJWT(`{"sub":"1"}`)).Expiry()
	assert.False(t, ok, "a JWT without exp has an expiry")
}

// An expired long-lived token fails before anything is sent, with an error
// that says so; one that has not expired yet is sent as it is.
func TestExpiredLongLivedTokenFailsBeforeSending(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	now := time.Unix(1767312000, 0)
	tok := StaticToken(testJWT(`{"exp":1767312000}`))
	crm, srv := restSetup(t, WithClock(func() time.Time { return now }))
	srv.handle("GET", "/api/v4/account", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		restReply(200, []byte(`{"id":1,"amojo_id":"a"}`))(w, nil)
	})
	crm, err := NewCRMClient(crm.BaseURL(), tok, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	_, err = crm.Account(t.Context())
	require.ErrorIs(t, err, ErrTokenExpired)
	assert.Zero(t, calls.Load(), "requests sent with an expired token")
	assert.Contains(t, err.Error(), "2026-01-02T00:00:00Z", "the message names the expiry")
	assert.NotContains(t, err.Error(), string(tok), "the message shows the token")

	now = now.Add(-time.Second)
	_, err = crm.Account(t.Context())
	require.NoError(t, err, "a token one second before its expiry")
	assert.Equal(t, int32(1), calls.Load(), "requests")
}

func FuzzParseJWT(f *testing.F) {
	f.Add(testJWT(`{"exp":1767312000,"iat":1767225600,"api_domain":"api-b.amocrm.ru"}`))
	f.Add(testJWT(`{"exp":"1e400"}`))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, ok := parseJWT(tok)
		if !ok && (c != jwtClaims{}) {
			t.Fatalf("claims %+v without ok", c)
		}
		if strings.Count(tok, ".") != 2 && ok {
			t.Fatalf("%q read as a JWT", tok)
		}
	})
}
