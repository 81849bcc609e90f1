package accountenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

func TestReadAndMissing(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"AMOJO_CHANNEL_ID": "ch", "AMOCRM_TOKEN": "tok", "AMOJO_BOT_ID": "bot"}
	e := Read(func(k string) string { return vars[k] })
	if e.Fake() || e.ChannelID != "ch" || e.Token != "tok" || e.BotID != "bot" {
		t.Fatalf("env = %+v", e)
	}
	if got := e.Missing(); !slices.Equal(got, []string{"AMOJO_CHANNEL_SECRET", "AMOCRM_BASE_URL"}) {
		t.Errorf("missing = %v", got)
	}
	if !Read(func(string) string { return "" }).Fake() {
		t.Error("an empty environment is not the fake")
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	e := Env{ChannelID: "ch", Secret: "s", CRMURL: "http://127.0.0.1:1", Token: "t", AmojoURL: "http://127.0.0.1:2"}
	chats, crm, closeTokens, err := e.Clients(amojo.WithRetry(amojo.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	if chats.BaseURL() != "http://127.0.0.1:2" || crm.BaseURL() != "http://127.0.0.1:1" {
		t.Errorf("bases %s %s", chats.BaseURL(), crm.BaseURL())
	}
	closeTokens()
	e.CRMURL = "not a url"
	_, _, _, err = e.Clients()
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "AMOCRM_*: ") {
		t.Errorf("err = %v", err)
	}
}

// TestEnvHidesSecrets: no fmt verb, by value or by pointer, no slog handler
// and no JSON encoding shows the secret, the token or URL credentials, also
// when Env is embedded in a program's configuration.
func TestEnvHidesSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{"5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189", "long-lived-token-value", "url-password", "url-user", "client-secret-value"}
	e := Env{
		ChannelID: "ch", Secret: secrets[0], CRMURL: "https://url-user:url-password@example.amocrm.ru",
		Token: secrets[1], AmojoURL: "https://url-user@amojo.example", AccountID: "acc",
		ClientSecret: secrets[4], RedirectURI: "https://url-user:url-password@example.com/oauth",
	}
	type programConfig struct {
		addr string
		Env
	}
	values := []any{e, &e, programConfig{":8080", e}, &programConfig{":8080", e}, struct{ E Env }{e}}
	for _, v := range values {
		for how, text := range renderings(t, v) {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s of %T shows %q: %s", how, v, s, text)
				}
			}
		}
	}
	if got := fmt.Sprint(e); !strings.Contains(got, `ChannelID: "ch"`) || !strings.Contains(got, "Secret: (redacted)") {
		t.Errorf("String() = %s", got)
	}
	if got := fmt.Sprint(Env{}); !strings.Contains(got, "Secret: (unset)") {
		t.Errorf("String() of an empty Env = %s", got)
	}
}

// renderings returns every way v can end up as text: fmt verbs, the text and
// JSON handlers of log/slog, and encoding/json.
func renderings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out["fmt "+verb] = fmt.Sprintf(verb, v)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("cfg", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("cfg", "v", v)
	out["slog text"], out["slog json"] = text.String(), js.String()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out["json"] = string(b)
	return out
}

func TestMissingWithTokenFile(t *testing.T) {
	t.Parallel()
	e := Env{ChannelID: "ch", Secret: "s", TokenFile: "t.json", ClientID: "id"}
	if e.Fake() {
		t.Error("a token file alone is the fake")
	}
	if got := e.Missing(); !slices.Equal(got, []string{"AMOCRM_CLIENT_SECRET", "AMOCRM_REDIRECT_URI"}) {
		t.Errorf("missing = %v (AMOCRM_BASE_URL and AMOCRM_TOKEN are not needed with a token file)", got)
	}
}

// With AMOCRM_TOKEN_FILE the REST client refreshes the pair in the file as
// it runs, and takes the account's address from it.
func TestClientsWithTokenFile(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	defer srv.Close()
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
	cfg := srv.OAuthConfig()
	e := Env{ChannelID: "ch", Secret: "s", TokenFile: path, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURI: cfg.RedirectURI}
	_, crm, closeTokens, err := e.Clients(amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	defer closeTokens()
	if crm.BaseURL() != srv.CRMURL {
		t.Errorf("base %s, want the token file's account %s", crm.BaseURL(), srv.CRMURL)
	}
	srv.ExpireAccessTokens()
	if _, err := crm.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Load(t.Context()); got.RefreshToken != srv.OAuthStats().RefreshToken || got.RefreshToken == tok.RefreshToken {
		t.Error("the rotated pair is not in the file")
	}

	both := e
	both.Token = "t"
	missing := e
	missing.TokenFile = filepath.Join(t.TempDir(), "none.json")
	for _, bad := range []struct {
		env  Env
		want string
	}{{both, "not both"}, {missing, "examples/oauth-login"}} {
		if _, _, _, err := bad.env.Clients(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("err = %v, want %q", err, bad.want)
		}
	}
}
