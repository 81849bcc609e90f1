// Package accountenv reads the environment variables that point the example
// programs at a real amoCRM account, and builds the two clients from them.
package accountenv

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/amojo-go/amojo"
)

// Env is the account configuration of the example programs. Printed (any
// fmt verb), logged (slog) or marshalled to JSON it shows whether the secret
// and the token are set, never their values.
type Env struct {
	ChannelID string // AMOJO_CHANNEL_ID, required
	Secret    string `json:"-"` // AMOJO_CHANNEL_SECRET, required
	CRMURL    string // AMOCRM_BASE_URL, required: https://SUBDOMAIN.amocrm.ru (http only on loopback)
	Token     string `json:"-"` // AMOCRM_TOKEN, required: a long-lived token or an OAuth access token
	AmojoURL  string // AMOJO_BASE_URL, optional: amojo.DefaultBaseURL when empty
	AccountID string // AMOJO_ACCOUNT_ID, optional: asked from REST when empty
	BotID     string // AMOJO_BOT_ID, optional: the channel bot's id, for bot messages
}

// String describes e without the secret and the token.
func (e Env) String() string {
	return fmt.Sprintf("accountenv.Env{ChannelID: %s, Secret: %s, CRMURL: %s, Token: %s, AmojoURL: %s, AccountID: %s, BotID: %s}",
		e.ChannelID, set(e.Secret), e.CRMURL, set(e.Token), e.AmojoURL, e.AccountID, e.BotID)
}

// Format prints e as String does, for every verb (%#v and %x included).
func (e Env) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, e.String()) }

// LogValue describes e to log/slog without the secret and the token.
func (e Env) LogValue() slog.Value {
	return slog.GroupValue(slog.String("channel_id", e.ChannelID), slog.String("secret", set(e.Secret)),
		slog.String("crm_url", e.CRMURL), slog.String("token", set(e.Token)), slog.String("amojo_url", e.AmojoURL),
		slog.String("account_id", e.AccountID), slog.String("bot_id", e.BotID))
}

// set stands for a secret value: whether it is set.
func set(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(set)"
}

// Read reads Env through getenv (os.Getenv, or a map in tests).
func Read(getenv func(string) string) Env {
	return Env{
		ChannelID: getenv("AMOJO_CHANNEL_ID"),
		Secret:    getenv("AMOJO_CHANNEL_SECRET"),
		CRMURL:    getenv("AMOCRM_BASE_URL"),
		Token:     getenv("AMOCRM_TOKEN"),
		AmojoURL:  getenv("AMOJO_BASE_URL"),
		AccountID: getenv("AMOJO_ACCOUNT_ID"),
		BotID:     getenv("AMOJO_BOT_ID"),
	}
}

// Fake reports that none of the required variables is set: the programs then
// run against an in-process fake amoCRM.
func (e Env) Fake() bool {
	return e.ChannelID == "" && e.Secret == "" && e.CRMURL == "" && e.Token == ""
}

// Missing names the required variables that are not set.
func (e Env) Missing() []string {
	var missing []string
	for _, v := range []struct{ name, val string }{
		{"AMOJO_CHANNEL_ID", e.ChannelID}, {"AMOJO_CHANNEL_SECRET", e.Secret},
		{"AMOCRM_BASE_URL", e.CRMURL}, {"AMOCRM_TOKEN", e.Token},
	} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	return missing
}

// Clients builds the chats client and the REST client of the account; opts
// apply to both. An error names the variables it concerns.
func (e Env) Clients(opts ...amojo.Option) (*amojo.Client, *amojo.CRMClient, error) {
	chatOpts := opts
	if e.AmojoURL != "" {
		chatOpts = append(append([]amojo.Option(nil), opts...), amojo.WithBaseURL(e.AmojoURL))
	}
	chats, err := amojo.NewClient(e.ChannelID, e.Secret, chatOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("AMOJO_*: %w", err)
	}
	crm, err := amojo.NewCRMClient(e.CRMURL, amojo.StaticToken(e.Token), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("AMOCRM_*: %w", err)
	}
	return chats, crm, nil
}
