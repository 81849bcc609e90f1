package amojo_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/oauthtest"
)

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// No secret or token appears in a formatted value (every fmt verb, by value
// and by pointer), a slog line (text and JSON), or the JSON form of the OAuth
// types; nor in the log lines and errors of a flow that refreshes, is refused
// and fails to save.
func TestOAuthNothingSecretIsPrinted(t *testing.T) {
	t.Parallel()
	e := oauthSetup(t)
	if _, err := e.src.Token(t.Context()); err != nil { // loaded: the source holds the pair
		t.Fatal(err)
	}
	code, _ := e.srv.AuthorizationCode("")
	auth, err := amojo.ParseRedirect(url.Values{"code": {code}, "referer": {e.srv.CRMURL}, "state": {"st"}}, "st", e.srv.IsHost)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{e.cfg.ClientSecret, e.first.AccessToken, e.first.RefreshToken, code}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret: %s", what, out)
			}
		}
	}
	for name, v := range map[string]any{
		"OAuthConfig": e.cfg, "*OAuthConfig": &e.cfg, "OAuthToken": *e.first, "*OAuthToken": e.first,
		"*OAuthTokenSource": e.src, "OAuthTokenSource": *e.src, "*FileTokenStore": e.store, "FileTokenStore": *e.store,
		"Authorization": *auth, "*Authorization": auth,
	} {
		for form, out := range oauthtest.Forms(t, v) {
			check(name+" "+form, out)
		}
	}

	// A flow with every log line on: exchange, loads, a refused token, a
	// refresh, a failed save, a revoked refresh token.
	var logs syncBuffer
	l := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	jl := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error
	tok, err := e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, append(e.opts(), amojo.WithLogger(l))...)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	_, err = e.cfg.Exchange(t.Context(), e.srv.CRMURL, code, append(e.opts(), amojo.WithLogger(jl))...)
	errs = append(errs, err)
	fs := &flakyStore{TokenStore: e.store}
	src := e.newSource(t, fs, amojo.WithLogger(l))
	crm, err := amojo.NewCRMClient(e.srv.CRMURL, src, append(e.opts(), amojo.WithLogger(jl), amojo.WithRateLimit(0, 0))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireAccessTokens()
	if _, err := crm.Account(t.Context()); err != nil { // 401, refresh, retry
		t.Fatal(err)
	}
	secrets = append(secrets, e.stored(t).AccessToken, e.stored(t).RefreshToken)
	e.srv.ExpireAccessTokens()
	fs.failing.Store(true)
	_, err = crm.Account(t.Context())
	if !errors.Is(err, amojo.ErrTokenNotSaved) {
		t.Fatalf("err = %v", err)
	}
	errs = append(errs, err)
	e.srv.RevokeTokens()
	fs.failing.Store(false)
	_, err = crm.Account(t.Context()) // saves the kept pair, then its access token is refused
	errs = append(errs, err)
	wrong := e.cfg
	wrong.ClientSecret = "wrong-secret-value"
	secrets = append(secrets, wrong.ClientSecret)
	_, err = wrong.Exchange(t.Context(), e.srv.CRMURL, code, e.opts()...)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d is nil", i)
			continue
		}
		check(fmt.Sprintf("error %d", i), err.Error())
		check(fmt.Sprintf("error %d %%+v", i), fmt.Sprintf("%+v", err))
		var oe *amojo.OAuthError
		if errors.As(err, &oe) {
			check(fmt.Sprintf("OAuthError %d %%#v", i), fmt.Sprintf("%#v", *oe))
		}
	}
	out := logs.String()
	if !strings.Contains(out, "amojo oauth token refreshed") || !strings.Contains(out, "amojo oauth token not saved") {
		t.Errorf("the log lacks the refresh or the failed save:\n%s", out)
	}
	check("the log", out)
}
