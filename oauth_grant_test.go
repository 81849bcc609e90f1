package amojo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokenServer is an httptest token endpoint answering with the queued
// answers in turn and recording each request.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []restRecorded
	answers []func(w http.ResponseWriter)
}

func newTokenServer(t *testing.T, answers ...func(w http.ResponseWriter)) *tokenServer {
	t.Helper()
	s := &tokenServer{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, restRecorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		var a func(http.ResponseWriter)
		if len(s.answers) > 0 {
			a, s.answers = s.answers[0], s.answers[1:]
		}
		s.mu.Unlock()
		if a == nil {
			http.Error(w, "no answer queued", http.StatusTeapot)
			return
		}
		a(w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tokenServer) requests() []restRecorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]restRecorded(nil), s.reqs...)
}

func tokenAnswer(status int, contentType, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const testPair = `{"token_type":"Bearer","expires_in":86400,"server_time":1767225600,"access_token":"acc-1","refresh_token":"ref-1"}`

// noWait is an option that makes retries wait for nothing.
var noWait = withTestSleep(func(<-chan struct{}, time.Duration) bool { return true })

func TestExchangeOnTheWire(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, tokenAnswer(200, "application/json", testPair))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := testOAuth.Exchange(t.Context(), srv.URL, "the-code", WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	assert.Equal(t, OAuthToken{AccountURL: srv.URL, AccessToken: "acc-1", RefreshToken: "ref-1", Expiry: now.Add(24 * time.Hour)}, *tok)
	reqs := srv.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "POST", r.Method)
	assert.Equal(t, "/oauth2/access_token", r.Path)
	assert.Empty(t, r.Query)
	assert.Equal(t, []string{"application/json"}, r.Header.Values("Content-Type"))
	assert.Empty(t, r.Header.Get("Authorization"), "credentials go in the body")
	wantBody := `{"client_id":"c1d2e3f4-0000-4000-8000-000000000001","client_secret":"s3cr3t-client-secret","grant_type":"authorization_code","code":"the-code","redirect_uri":"https://app.example.com/oauth/callback"}`
	assert.Equal(t, wantBody, string(r.Body))
}

func TestRefreshOnTheWire(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, tokenAnswer(200, "application/json", `{"token_type":"bearer","expires_in":"3600","access_token":"acc-2","refresh_token":"ref-2"}`))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, err := buildOAuthOptions([]Option{WithClock(func() time.Time { return now })})
	require.NoError(t, err)
	tok, err := testOAuth.refresh(t.Context(), o, &OAuthToken{AccountURL: srv.URL, AccessToken: "acc-1", RefreshToken: "ref-1", Expiry: now})
	require.NoError(t, err)
	assert.Equal(t, OAuthToken{AccountURL: srv.URL, AccessToken: "acc-2", RefreshToken: "ref-2", Expiry: now.Add(time.Hour)}, *tok)
	// redirect_uri goes on the refresh grant too: amoCRM documents it there.
	want := `{"client_id":"c1d2e3f4-0000-4000-8000-000000000001","client_secret":"s3cr3t-client-secret","grant_type":"refresh_token","refresh_token":"ref-1","redirect_uri":"https://app.example.com/oauth/callback"}`
	reqs := srv.requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, want, string(reqs[0].Body))
}

func TestOAuthErrors(t *testing.T) {
	t.Parallel()
	problem := func(status int, hint, title, detail string) func(http.ResponseWriter) {
		b, _ := json.Marshal(map[string]any{"title": title, "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson", "status": status, "detail": detail, "hint": hint})
		return tokenAnswer(status, "application/json", string(b))
	}
	tests := []struct {
		name   string
		answer func(http.ResponseWriter)
		is     []error
		isNot  []error
		status int
		hint   string
	}{
		{"revoked", problem(401, "Token has been revoked", "Некорректный запрос", "Токен отозван"), []error{ErrRefreshTokenRevoked, ErrUnauthorized}, []error{ErrInvalidClient, ErrTokenNotLinked}, 401, "Token has been revoked"},
		{"not linked", problem(401, "Token is not linked to client", "t", "d"), []error{ErrTokenNotLinked, ErrUnauthorized}, []error{ErrRefreshTokenRevoked, ErrInvalidClient}, 401, "Token is not linked to client"},
		{"invalid client", problem(401, "", "invalid client", "client authentication failed"), []error{ErrInvalidClient, ErrUnauthorized}, []error{ErrRefreshTokenRevoked}, 401, ""},
		{"bad code", problem(400, "Authorization code has expired", "Bad Request", "d"), nil, []error{ErrUnauthorized, ErrRefreshTokenRevoked, ErrInvalidClient}, 400, "Authorization code has expired"},
		{"blocked, not JSON", tokenAnswer(403, "text/html", "<html>403 Forbidden</html>"), nil, []error{ErrUnauthorized, ErrInvalidClient}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t, tt.answer, tt.answer)
			_, err := testOAuth.Exchange(t.Context(), srv.URL, "the-code", noWait)
			var oe *OAuthError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, tt.status, oe.StatusCode)
			require.Equal(t, tt.hint, oe.Hint)
			require.Equal(t, "authorization_code", oe.Grant)
			for _, target := range tt.is {
				assert.ErrorIs(t, err, target)
			}
			for _, target := range tt.isNot {
				assert.NotErrorIs(t, err, target)
			}
			assert.Len(t, srv.requests(), 1, "an error answer of the token endpoint is never retried")
		})
	}
}

// The token endpoint's error fields are copied into the error only after
// every secret of the request is taken out of them.
func TestOAuthErrorNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	echo := `{"title":"bad s3cr3t-client-secret","status":400,"detail":"code the-code, refresh ref-secret-1","hint":"client_secret=s3cr3t-client-secret"}`
	srv := newTokenServer(t, tokenAnswer(400, "application/json", echo), tokenAnswer(400, "application/json", echo))
	_, err := testOAuth.Exchange(t.Context(), srv.URL, "the-code")
	o, _ := buildOAuthOptions(nil)
	_, err2 := testOAuth.refresh(t.Context(), o, &OAuthToken{AccountURL: srv.URL, AccessToken: "acc", RefreshToken: "ref-secret-1", Expiry: time.Now()})
	for _, c := range []struct {
		err     error
		secrets []string
	}{{err, []string{"s3cr3t-client-secret", "the-code"}}, {err2, []string{"s3cr3t-client-secret", "ref-secret-1"}}} {
		e := c.err
		var oe *OAuthError
		require.ErrorAs(t, e, &oe)
		for _, s := range []string{e.Error(), oe.Hint, oe.Title, oe.Detail} {
			for _, secret := range c.secrets {
				assert.NotContains(t, s, secret)
			}
		}
	}
}

// A code works once: when the answer to an exchange is lost, the request is
// not sent again (it could only be refused); a 429 is retried.
func TestExchangeRetries(t *testing.T) {
	t.Parallel()
	drop := func(w http.ResponseWriter) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	}
	srv := newTokenServer(t, drop, tokenAnswer(200, "application/json", testPair))
	_, err := testOAuth.Exchange(t.Context(), srv.URL, "c", noWait)
	assert.ErrorContains(t, err, "amojo: oauth authorization_code: ")
	assert.Len(t, srv.requests(), 1, "requests after a lost answer")
	srv = newTokenServer(t, tokenAnswer(429, "", ""), tokenAnswer(200, "application/json", testPair))
	_, err = testOAuth.Exchange(t.Context(), srv.URL, "c", noWait)
	assert.NoError(t, err, "after a 429")
	assert.Len(t, srv.requests(), 2)
}

func TestExchangeValidation(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t)
	for _, tt := range []struct {
		cfg       OAuthConfig
		url, code string
		opts      []Option
		field     string
	}{
		{OAuthConfig{ClientSecret: "s", RedirectURI: "https://a.example/cb"}, srv.URL, "c", nil, "OAuthConfig.ClientID"},
		{OAuthConfig{ClientID: "i", RedirectURI: "https://a.example/cb"}, srv.URL, "c", nil, "OAuthConfig.ClientSecret"},
		{OAuthConfig{ClientID: "i", ClientSecret: "s"}, srv.URL, "c", nil, "OAuthConfig.RedirectURI"},
		{OAuthConfig{ClientID: "i", ClientSecret: "s", RedirectURI: "/cb"}, srv.URL, "c", nil, "OAuthConfig.RedirectURI"},
		{testOAuth, srv.URL, "", nil, "code"},
		{testOAuth, "https://evil.example.com", "c", nil, "accountURL"},
		{testOAuth, "http://acme.amocrm.ru", "c", nil, "accountURL"},
		{testOAuth, "https://acme.amocrm.ru/api/v4", "c", nil, "accountURL"},
		{testOAuth, srv.URL, "c", []Option{WithBaseURL("https://acme.amocrm.ru")}, "BaseURL"},
	} {
		_, err := tt.cfg.Exchange(t.Context(), tt.url, tt.code, tt.opts...)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve, "Exchange(%q, %q)", tt.url, tt.code) {
			assert.Equal(t, tt.field, ve.Field, "Exchange(%q, %q)", tt.url, tt.code)
		}
	}
	assert.Empty(t, srv.requests(), "requests sent for invalid input")
	// A proxy host can be allowed explicitly, over https only.
	_, err := parseAccountURL("accountURL", "https://amocrm-proxy.example.com", func(h string) bool { return h == "amocrm-proxy.example.com" })
	assert.NoError(t, err, "allowed host")
}

func TestParseTokenResponse(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for body, wantErr := range map[string]string{
		testPair: "",
		`{"access_token":"a","refresh_token":"r","expires_in":1e12}`:                 "",
		`{"token_type":"MAC","access_token":"a","refresh_token":"r","expires_in":1}`: "token_type",
		`{"refresh_token":"r","expires_in":1}`:                                       "no access_token",
		`{"access_token":"a","expires_in":1}`:                                        "no refresh_token",
		`{"access_token":"a","refresh_token":"r"}`:                                   "expires_in",
		`{"access_token":"a\nb","refresh_token":"r","expires_in":1}`:                 "whitespace",
		`[]`: "not a JSON object",
	} {
		tok, err := parseTokenResponse([]byte(body), start)
		if wantErr != "" {
			assert.ErrorContains(t, err, wantErr, body)
		} else if assert.NoError(t, err, body) {
			assert.True(t, tok.Expiry.After(start), "%s: expiry %v", body, tok.Expiry)
		}
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add([]byte(testPair))
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","expires_in":"-1"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		start := time.Unix(1767225600, 0)
		tok, err := parseTokenResponse(body, start)
		if err != nil {
			return
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" || !tok.Expiry.After(start) || tok.Expiry.After(start.Add(maxTokenLifetime)) {
			t.Fatalf("accepted %q as %v", body, tok.Expiry)
		}
	})
}

func FuzzOAuthErrorBody(f *testing.F) {
	f.Add(401, []byte(`{"title":"t","type":"x","status":401,"detail":"d","hint":"Token has been revoked"}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"secret-x"}`))
	f.Add(403, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := newOAuthError("refresh_token", &APIError{StatusCode: status, Body: body}, "secret-x")
		msg := e.Error()
		if strings.Contains(msg, "secret-x") || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "amojo: oauth refresh_token: ") {
			t.Fatalf("message %q", msg)
		}
		if !bytes.Contains(body, []byte("secret-x")) && e.Is(ErrRefreshTokenRevoked) != strings.EqualFold(e.Hint, HintTokenRevoked) {
			t.Fatal("Is disagrees with the hint")
		}
	})
}
