package amojo

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if got := c.Expiry.Unix(); tt.exp != 0 && got != tt.exp {
				t.Errorf("exp = %d, want %d", got, tt.exp)
			}
			if tt.exp == 0 && !c.Expiry.IsZero() {
				t.Errorf("exp = %v, want none", c.Expiry)
			}
			if tt.iat != 0 && c.IssuedAt.Unix() != tt.iat {
				t.Errorf("iat = %v", c.IssuedAt)
			}
			if c.APIDomain != tt.domain {
				t.Errorf("api_domain = %q", c.APIDomain)
			}
		})
	}
}

func TestStaticTokenExpiry(t *testing.T) {
	t.Parallel()
	exp, ok := StaticToken(testJWT(`{"exp":1767312000}`)).Expiry()
	if !ok || !exp.Equal(time.Unix(1767312000, 0)) {
		t.Errorf("Expiry = %v, %v", exp, ok)
	}
	if _, ok := StaticToken("not-a-jwt").Expiry(); ok {
		t.Error("an opaque token has an expiry")
	}
	if _, ok := StaticToken(testJWT(`{"sub":"1"}`)).Expiry(); ok {
		t.Error("a JWT without exp has an expiry")
	}
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
	if err != nil {
		t.Fatal(err)
	}
	_, err = crm.Account(t.Context())
	if !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v, want ErrTokenExpired", err)
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests sent with an expired token", calls.Load())
	}
	if msg := err.Error(); !strings.Contains(msg, "2026-01-02T00:00:00Z") || strings.Contains(msg, string(tok)) {
		t.Errorf("message %q: want the expiry, never the token", msg)
	}

	now = now.Add(-time.Second)
	if _, err := crm.Account(t.Context()); err != nil {
		t.Fatalf("a token one second before its expiry: %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests, want 1", calls.Load())
	}
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
