package amojo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTokenExpired reports a long-lived token whose expiry (the exp claim of
// the JWT) has passed. It is returned before anything is sent: create a new
// token in the integration's "Keys" tab ("Keys and scopes" on Kommo).
var ErrTokenExpired = errors.New("amojo: long-lived token expired")

// maxJWT bounds the length of a token read as a JWT.
const maxJWT = 16 << 10

// jwtClaims are the claims of an amoCRM token that the SDK reads. They are
// hints only: no verification key is published, so the signature is never
// checked.
type jwtClaims struct {
	Expiry    time.Time // exp; zero when absent
	IssuedAt  time.Time // iat; zero when absent
	APIDomain string    // api_domain, the host of the subdomain lookup; newer tokens only
}

// parseJWT reads the claims of tok, a JWT in compact form
// (header.payload.signature, base64url). It reports false for anything else:
// an opaque token, a payload that is not a JSON object.
func parseJWT(tok string) (jwtClaims, bool) {
	if len(tok) > maxJWT || strings.Count(tok, ".") != 2 {
		return jwtClaims{}, false
	}
	_, rest, _ := strings.Cut(tok, ".")
	payload, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return jwtClaims{}, false
	}
	o, ok := decodeJSONObject(raw)
	if !ok {
		return jwtClaims{}, false
	}
	var c jwtClaims
	if exp := o.int("exp"); exp > 0 {
		c.Expiry = time.Unix(exp, 0).UTC()
	}
	if iat := o.int("iat"); iat > 0 {
		c.IssuedAt = time.Unix(iat, 0).UTC()
	}
	c.APIDomain = strings.TrimSpace(o.str("api_domain"))
	return c, true
}

// decodeJSONObject decodes b, which must hold exactly one JSON object, with
// numbers kept as json.Number.
func decodeJSONObject(b []byte) (jsonObject, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// Expiry returns the expiry of a long-lived token: the exp claim of its JWT,
// read without checking the signature. ok is false when the token is not a
// JWT or has no exp claim.
func (t StaticToken) Expiry() (exp time.Time, ok bool) {
	c, ok := parseJWT(string(t))
	if !ok || c.Expiry.IsZero() {
		return time.Time{}, false
	}
	return c.Expiry, true
}

// expiringToken is a StaticToken whose JWT carries an expiry: it refuses to
// hand the token out once the expiry has passed on the client's clock.
type expiringToken struct {
	tok StaticToken
	exp time.Time
	now func() time.Time
}

func (t expiringToken) Token(ctx context.Context) (string, error) {
	if !t.now().Before(t.exp) {
		return "", fmt.Errorf("%w at %s (create a new one in the integration's Keys tab)", ErrTokenExpired, t.exp.UTC().Format(time.RFC3339))
	}
	return t.tok.Token(ctx)
}

// String hides the token.
func (t expiringToken) String() string { return t.tok.String() }

// checkLongLivedExpiry makes a StaticToken with an exp claim fail before
// anything is sent once it has expired; other token sources are returned
// unchanged.
func checkLongLivedExpiry(tokens TokenSource, now func() time.Time) TokenSource {
	st, ok := tokens.(StaticToken)
	if !ok {
		return tokens
	}
	exp, ok := st.Expiry()
	if !ok {
		return tokens
	}
	return expiringToken{tok: st, exp: exp, now: now}
}
