// Package accountenv reads the environment variables that point the example
// programs at a real amoCRM account, and builds the two clients from them.
package accountenv

import (
	"encoding/json"
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
	CRMURL    string // AMOCRM_BASE_URL, required: https://SUBDOMAIN.amocrm.ru (http only on loopback)
	Token     string // AMOCRM_TOKEN, required: a long-lived token or an OAuth access token
	AmojoURL  string // AMOJO_BASE_URL, optional: amojo.DefaultBaseURL when empty
	AccountID string // AMOJO_ACCOUNT_ID, optional: asked from REST when empty
	BotID     string // AMOJO_BOT_ID, optional: the channel bot's id, for bot messages
}

// String describes the configuration with the secret and the token hidden
// (and any credentials in the URLs).
func (e Env) String() string {
	return fmt.Sprintf("accountenv.Env{ChannelID: %q, Secret: %s, CRMURL: %q, Token: %s, AmojoURL: %q, AccountID: %q, BotID: %q}",
		e.ChannelID, hidden(e.Secret), redactURL(e.CRMURL), hidden(e.Token), redactURL(e.AmojoURL), e.AccountID, e.BotID)
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
		slog.String("amojo_url", redactURL(e.AmojoURL)), slog.String("account_id", e.AccountID),
		slog.String("bot_id", e.BotID))
}

// MarshalJSON encodes the configuration without its secrets.
func (e Env) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"channel_id": e.ChannelID, "secret": hidden(e.Secret), "crm_url": redactURL(e.CRMURL),
		"token": hidden(e.Token), "amojo_url": redactURL(e.AmojoURL), "account_id": e.AccountID, "bot_id": e.BotID,
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
