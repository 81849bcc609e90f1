package amojo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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
	if err != nil {
		t.Fatal(err)
	}
	want := OAuthToken{AccountURL: srv.URL, AccessToken: "acc-1", RefreshToken: "ref-1", Expiry: now.Add(24 * time.Hour)}
	if tok.AccountURL != want.AccountURL || tok.AccessToken != want.AccessToken || tok.RefreshToken != want.RefreshToken || !tok.Expiry.Equal(want.Expiry) {
		t.Errorf("token %+v, want %+v", []string{tok.AccountURL, tok.AccessToken, tok.RefreshToken, tok.Expiry.String()}, want.Expiry)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/oauth2/access_token" || r.Query != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
	if ct := r.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q sent: credentials go in the body", h)
	}
	wantBody := `{"client_id":"c1d2e3f4-0000-4000-8000-000000000001","client_secret":"s3cr3t-client-secret","grant_type":"authorization_code","code":"the-code","redirect_uri":"https://app.example.com/oauth/callback"}`
	if string(r.Body) != wantBody {
		t.Errorf("body\n%s\nwant\n%s", r.Body, wantBody)
	}
}

func TestRefreshOnTheWire(t *testing.T) {
	t.Parallel()
	srv := newTokenServer(t, tokenAnswer(200, "application/json", `{"token_type":"bearer","expires_in":"3600","access_token":"acc-2","refresh_token":"ref-2"}`))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, err := buildOAuthOptions([]Option{WithClock(func() time.Time { return now })})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testOAuth.refresh(t.Context(), o, &OAuthToken{AccountURL: srv.URL, AccessToken: "acc-1", RefreshToken: "ref-1", Expiry: now})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "acc-2" || tok.RefreshToken != "ref-2" || !tok.Expiry.Equal(now.Add(time.Hour)) || tok.AccountURL != srv.URL {
		t.Errorf("token %s %s %v %s", tok.AccessToken, tok.RefreshToken, tok.Expiry, tok.AccountURL)
	}
	// redirect_uri goes on the refresh grant too: amoCRM documents it there.
	want := `{"client_id":"c1d2e3f4-0000-4000-8000-000000000001","client_secret":"s3cr3t-client-secret","grant_type":"refresh_token","refresh_token":"ref-1","redirect_uri":"https://app.example.com/oauth/callback"}`
	if got := string(srv.requests()[0].Body); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
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
			if !errors.As(err, &oe) || oe.StatusCode != tt.status || oe.Hint != tt.hint || oe.Grant != "authorization_code" {
				t.Fatalf("err = %#v", err)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("%v does not match %v", err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("%v matches %v", err, target)
				}
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests: an error answer of the token endpoint is never retried", n)
			}
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
		if !errors.As(e, &oe) {
			t.Fatalf("err = %v", e)
		}
		for _, s := range []string{e.Error(), oe.Hint, oe.Title, oe.Detail} {
			for _, secret := range c.secrets {
				if strings.Contains(s, secret) {
					t.Errorf("%q shows %q", s, secret)
				}
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
	if _, err := testOAuth.Exchange(t.Context(), srv.URL, "c", noWait); err == nil || !strings.Contains(err.Error(), "amojo: oauth authorization_code: ") {
		t.Errorf("err = %v", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests after a lost answer, want 1", n)
	}
	srv = newTokenServer(t, tokenAnswer(429, "", ""), tokenAnswer(200, "application/json", testPair))
	if _, err := testOAuth.Exchange(t.Context(), srv.URL, "c", noWait); err != nil {
		t.Errorf("after a 429: %v", err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
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
		if !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("Exchange(%q, %q): err = %v, want a ValidationError on %s", tt.url, tt.code, err, tt.field)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
	// A proxy host can be allowed explicitly, over https only.
	if _, err := parseAccountURL("accountURL", "https://amocrm-proxy.example.com", func(h string) bool { return h == "amocrm-proxy.example.com" }); err != nil {
		t.Errorf("allowed host: %v", err)
	}
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
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: err = %v, want %q", body, err, wantErr)
		case wantErr == "" && !tok.Expiry.After(start):
			t.Errorf("%s: expiry %v", body, tok.Expiry)
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
