// Package accountenv reads the environment variables that point the example
// programs at a real amoCRM account, and builds the two clients from them.
//
// The REST token is either AMOCRM_TOKEN (a long-lived token) or
// AMOCRM_TOKEN_FILE, an OAuth token file such as examples/oauth-login
// writes, with the integration's AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET and
// AMOCRM_REDIRECT_URI: the programs then refresh the access token as they
// run and save each rotated pair in the file (several programs may share
// it).
package accountenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/amojo-go/amojo"
)

// Env is the account configuration of the example programs. It formats
// itself (fmt, log/slog, encoding/json) without the secret and the token;
// like any struct of plain strings it cannot do so when held in an unexported
// field, where fmt does not call its methods.
type Env struct {
	ChannelID string // AMOJO_CHANNEL_ID, required
	Secret    string // AMOJO_CHANNEL_SECRET, required
	CRMURL    string // AMOCRM_BASE_URL, required unless AMOCRM_TOKEN_FILE names the account: https://SUBDOMAIN.amocrm.ru or any URL
	Token     string // AMOCRM_TOKEN: a long-lived token or an OAuth access token; or else
	TokenFile string // AMOCRM_TOKEN_FILE: an OAuth token file, refreshed as the program runs
	// The OAuth integration of AMOCRM_TOKEN_FILE.
	ClientID     string // AMOCRM_CLIENT_ID
	ClientSecret string // AMOCRM_CLIENT_SECRET
	RedirectURI  string // AMOCRM_REDIRECT_URI
	AmojoURL     string // AMOJO_BASE_URL, optional: amojo.DefaultBaseURL when empty
	AccountID    string // AMOJO_ACCOUNT_ID, optional: asked from REST when empty
	BotID        string // AMOJO_BOT_ID, optional: the channel bot's id, for bot messages
}

// String describes the configuration with the secret and the token hidden
// (and any credentials in the URLs).
func (e Env) String() string {
	return fmt.Sprintf("accountenv.Env{ChannelID: %q, Secret: %s, CRMURL: %q, Token: %s, TokenFile: %q, ClientID: %q, ClientSecret: %s, RedirectURI: %q, AmojoURL: %q, AccountID: %q, BotID: %q}",
		e.ChannelID, hidden(e.Secret), redactURL(e.CRMURL), hidden(e.Token), e.TokenFile, e.ClientID, hidden(e.ClientSecret),
		redactURL(e.RedirectURI), redactURL(e.AmojoURL), e.AccountID, e.BotID)
}

// Format writes String for every verb (%q quotes it), so that no verb shows
// the secret or the token.
func (e Env) Format(f fmt.State, verb rune) {
	s := e.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// LogValue describes the configuration to log/slog without its secrets.
func (e Env) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("channel_id", e.ChannelID), slog.String("secret", hidden(e.Secret)),
		slog.String("crm_url", redactURL(e.CRMURL)), slog.String("token", hidden(e.Token)),
		slog.String("token_file", e.TokenFile), slog.String("client_id", e.ClientID),
		slog.String("client_secret", hidden(e.ClientSecret)), slog.String("redirect_uri", redactURL(e.RedirectURI)),
		slog.String("amojo_url", redactURL(e.AmojoURL)), slog.String("account_id", e.AccountID),
		slog.String("bot_id", e.BotID))
}

// MarshalJSON encodes the configuration without its secrets.
func (e Env) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"channel_id": e.ChannelID, "secret": hidden(e.Secret), "crm_url": redactURL(e.CRMURL),
		"token": hidden(e.Token), "token_file": e.TokenFile, "client_id": e.ClientID,
		"client_secret": hidden(e.ClientSecret), "redirect_uri": redactURL(e.RedirectURI), "amojo_url": redactURL(e.AmojoURL), "account_id": e.AccountID, "bot_id": e.BotID,
	})
}

// hidden stands for a secret: whether it is set, never its value.
func hidden(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "(redacted)"
}

// redactURL hides the user and password of a URL; an unparsable URL is
// hidden whole.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	return u.String()
}

// Read reads Env through getenv (os.Getenv, or a map in tests).
func Read(getenv func(string) string) Env {
	return Env{
		ChannelID:    getenv("AMOJO_CHANNEL_ID"),
		Secret:       getenv("AMOJO_CHANNEL_SECRET"),
		CRMURL:       getenv("AMOCRM_BASE_URL"),
		Token:        getenv("AMOCRM_TOKEN"),
		TokenFile:    getenv("AMOCRM_TOKEN_FILE"),
		ClientID:     getenv("AMOCRM_CLIENT_ID"),
		ClientSecret: getenv("AMOCRM_CLIENT_SECRET"),
		RedirectURI:  getenv("AMOCRM_REDIRECT_URI"),
		AmojoURL:     getenv("AMOJO_BASE_URL"),
		AccountID:    getenv("AMOJO_ACCOUNT_ID"),
		BotID:        getenv("AMOJO_BOT_ID"),
	}
}

// Fake reports that none of the required variables is set: the programs then
// run against an in-process fake amoCRM.
func (e Env) Fake() bool {
	return e.ChannelID == "" && e.Secret == "" && e.CRMURL == "" && e.Token == "" && e.TokenFile == ""
}

// Missing names the required variables that are not set.
func (e Env) Missing() []string {
	type envVar struct{ name, val string }
	vars := []envVar{{"AMOJO_CHANNEL_ID", e.ChannelID}, {"AMOJO_CHANNEL_SECRET", e.Secret}}
	if e.TokenFile == "" {
		vars = append(vars, envVar{"AMOCRM_BASE_URL", e.CRMURL}, envVar{"AMOCRM_TOKEN", e.Token})
	} else {
		vars = append(vars, envVar{"AMOCRM_CLIENT_ID", e.ClientID}, envVar{"AMOCRM_CLIENT_SECRET", e.ClientSecret}, envVar{"AMOCRM_REDIRECT_URI", e.RedirectURI})
	}
	var missing []string
	for _, v := range vars {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	return missing
}

// Clients builds the chats client and the REST client of the account; opts
// apply to both (and to the OAuth token source). close waits for a token
// refresh in flight to be saved: call it before the program ends. An error
// names the variables it concerns.
func (e Env) Clients(opts ...amojo.Option) (chats *amojo.Client, crm *amojo.CRMClient, close func(), err error) {
	chatOpts := opts
	if e.AmojoURL != "" {
		chatOpts = append(append([]amojo.Option(nil), opts...), amojo.WithBaseURL(e.AmojoURL))
	}
	chats, err = amojo.NewClient(e.ChannelID, e.Secret, chatOpts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("AMOJO_*: %w", err)
	}
	tokens, base, close, err := e.tokens(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	crm, err = amojo.NewCRMClient(base, tokens, opts...)
	if err != nil {
		close()
		return nil, nil, nil, fmt.Errorf("AMOCRM_*: %w", err)
	}
	return chats, crm, close, nil
}

// tokens returns the REST token source and the account's address: AMOCRM_TOKEN
// and AMOCRM_BASE_URL, or an OAuth token source on AMOCRM_TOKEN_FILE, whose
// pair names the account unless AMOCRM_BASE_URL does.
func (e Env) tokens(opts []amojo.Option) (amojo.TokenSource, string, func(), error) {
	if e.TokenFile == "" {
		return amojo.StaticToken(e.Token), e.CRMURL, func() {}, nil
	}
	if e.Token != "" {
		return nil, "", nil, errors.New("AMOCRM_TOKEN and AMOCRM_TOKEN_FILE: set one of them, not both")
	}
	store, err := amojo.NewFileTokenStore(e.TokenFile)
	if err != nil {
		return nil, "", nil, fmt.Errorf("AMOCRM_TOKEN_FILE: %w", err)
	}
	cfg := amojo.OAuthConfig{ClientID: e.ClientID, ClientSecret: e.ClientSecret, RedirectURI: e.RedirectURI}
	src, err := amojo.NewOAuthTokenSource(cfg, store, opts...)
	if err != nil {
		return nil, "", nil, fmt.Errorf("AMOCRM_CLIENT_*: %w", err)
	}
	close := func() { _ = src.Close() }
	base := e.CRMURL
	if base == "" {
		tok, err := store.Load(context.Background())
		if err != nil {
			close()
			return nil, "", nil, fmt.Errorf("AMOCRM_TOKEN_FILE: %w (run examples/oauth-login to write it)", err)
		}
		base = tok.AccountURL
	}
	return src, base, close, nil
}
