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
	"errors"
	"fmt"

	"github.com/amojo-go/amojo"
)

// Env is the account configuration of the example programs.
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
