package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// With AMOCRM_TOKEN_FILE instead of AMOCRM_TOKEN (and no AMOCRM_BASE_URL:
// the file names the account), the import refreshes the access token amoCRM
// stopped accepting and saves the rotated pair in the file.
func TestRunWithTokenFile(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "token.json")
	store, err := amojo.NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.NewOAuthToken("")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	srv.ExpireAccessTokens()
	cfg := srv.OAuthConfig()
	env := map[string]string{
		"AMOJO_CHANNEL_ID": srv.Channel().ID, "AMOJO_CHANNEL_SECRET": srv.Channel().Secret, "AMOJO_BASE_URL": srv.URL,
		"AMOCRM_TOKEN_FILE": path, "AMOCRM_CLIENT_ID": cfg.ClientID, "AMOCRM_CLIENT_SECRET": cfg.ClientSecret, "AMOCRM_REDIRECT_URI": cfg.RedirectURI,
	}
	code, out, errOut := runProg(t, t.Context(), env)
	if code != exitOK || !strings.Contains(out, "import: 2 messages (2 sent, 0 skipped)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got, _ := store.Load(t.Context()); got.RefreshToken != srv.OAuthStats().RefreshToken || srv.OAuthStats().Refreshes != 1 {
		t.Errorf("stats %+v: want one refresh, saved in the file", srv.OAuthStats())
	}

	// A dead refresh token: the hint says to authorize again.
	srv.RevokeTokens()
	code, _, errOut = runProg(t, t.Context(), env)
	if code != exitFailed || !strings.Contains(errOut, "authorize again with examples/oauth-login") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}
