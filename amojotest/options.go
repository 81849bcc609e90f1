package amojotest

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a server made without WithChannel, WithAccount or WithToken.
// They are the ids of amoCRM's own import walk-through, so its requests can be
// replayed against the fake.
const (
	DefaultChannelID     = "f90ba33d-c9d9-44da-b76c-c349b0ecbe41"
	DefaultChannelSecret = "5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189"
	DefaultChannelCode   = "amo.ext.12345678"
	DefaultChannelTitle  = "ChatIntegration"
	DefaultBotID         = "6f9a0e66-0ed1-4b4f-9d0b-0a3fd2e0b7a1"
	DefaultBotName       = "Bot"

	DefaultAccountID   = "af9945ff-1490-4cad-807d-945c15d88bec"
	DefaultAccountNum  = 29283370
	DefaultSubdomain   = "example"
	DefaultAccountName = "Example account"

	DefaultManagerID      = 6118045
	DefaultManagerAmojoID = "d8d9f9c4-9611-4794-a136-a253a13e1bb5"
	DefaultManagerName    = "Менеджер Василий"
	DefaultAdminID        = 6118046
	DefaultAdminAmojoID   = "2b13cae0-6e3f-4e8a-9f6e-3a1c2d4b5e6f"
	DefaultAdminName      = "Administrator"

	DefaultToken = "amojotest-long-lived-token"
)

// DefaultRateLimit is amoCRM's REST v4 limit, which the fake enforces unless
// WithRateLimit says otherwise: 7 requests per second with bursts of 7.
const DefaultRateLimit = 7

// Channel is a registered chat channel: its id, secret, symbolic code, the
// title it gets when an account does not name it, its bot, and the URL its
// webhooks go to (with ":scope_id" replaced by the scope id).
type Channel struct {
	ID         string
	Secret     string
	Code       string
	Title      string
	Bot        Bot
	WebhookURL string
}

// Bot is the identity of a channel's bot: ID is its amojo id, the sender.ref_id
// of outgoing messages that no CRM user wrote.
type Bot struct {
	ID   string
	Name string
}

// Account is a CRM account: AmojoID is its id in the chats API (the account_id
// of connect), ID its numeric REST id. Users are its CRM users. Token, when
// set, is one more Bearer token that opens its REST API.
type Account struct {
	AmojoID   string
	ID        int
	Subdomain string
	Name      string
	Users     []User
	Token     string
}

// User is a CRM user: ID is the numeric REST id, AmojoID the id used as
// sender.ref_id when importing the user's messages.
type User struct {
	ID      int
	AmojoID string
	Name    string
	Email   string
}

// Option configures a Server.
type Option func(*config)

type config struct {
	channels   []Channel
	accounts   []Account
	tokens     []string
	now        func() time.Time
	rateNow    func() time.Time
	rateSet    bool
	rate       float64
	burst      int
	logger     *slog.Logger
	webhookURL string
	newID      func() string
	control    bool
	oauth      oauthConfig // integrations and lifetimes of the OAuth endpoints (oauth.go)
	// blockAfter 429s within blockWindow block the account (WithRateLimitBlock).
	blockAfter  int
	blockWindow time.Duration
}

// WithChannel registers a channel. The first channel registered is the one
// Channel, Client and ScopeID use. Without any WithChannel the server has
// DefaultChannel.
func WithChannel(c Channel) Option {
	return func(cfg *config) { cfg.channels = append(cfg.channels, c) }
}

// WithAccount registers an account. The first account registered is the one
// Account, CRMClient and ScopeID use, and the one WithToken opens. Without
// any WithAccount the server has DefaultAccount.
func WithAccount(a Account) Option {
	return func(cfg *config) { cfg.accounts = append(cfg.accounts, a) }
}

// WithToken registers a Bearer token for the first account. Without any
// token (from WithToken or Account.Token) the server accepts DefaultToken.
func WithToken(token string) Option {
	return func(cfg *config) { cfg.tokens = append(cfg.tokens, token) }
}

// WithClock sets the server's clock: the 15-minute Date window and the times
// of the manager's messages and webhooks follow it. The clients returned by
// Client and CRMClient sign with it too. The REST rate limit keeps real time
// (see WithRateClock), so a clock that stands still never freezes it.
func WithClock(now func() time.Time) Option {
	return func(cfg *config) { cfg.now = now }
}

// WithRateClock sets the clock of the REST rate limit (real time by default),
// for tests that drive the limit step by step.
func WithRateClock(now func() time.Time) Option {
	return func(cfg *config) { cfg.rateNow = now }
}

// WithRateLimit sets the REST v4 rate limit to perSecond requests per second
// with bursts of burst, per account. A perSecond of 0 turns it off.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(cfg *config) { cfg.rateSet, cfg.rate, cfg.burst = true, perSecond, burst }
}

// WithLogger logs each request (method, path, route, status; never headers or
// bodies) at debug level. The server is silent by default.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) { cfg.logger = l }
}

// WithWebhookURL sets the webhook URL of every registered channel that has
// none, such as "http://127.0.0.1:8081/hooks/:scope_id".
func WithWebhookURL(url string) Option {
	return func(cfg *config) { cfg.webhookURL = url }
}

// WithSequentialIDs makes the ids the server issues (chats, messages,
// participants) predictable: 00000000-0000-4000-8000-000000000001, …002 and so
// on, in the order they are issued. By default they are random UUIDs.
func WithSequentialIDs() Option {
	return func(cfg *config) {
		var n uint64
		cfg.newID = func() string {
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
		}
	}
}

// DefaultChannel is the channel of a server made without WithChannel.
func DefaultChannel() Channel {
	return Channel{
		ID:     DefaultChannelID,
		Secret: DefaultChannelSecret,
		Code:   DefaultChannelCode,
		Title:  DefaultChannelTitle,
		Bot:    Bot{ID: DefaultBotID, Name: DefaultBotName},
	}
}

// DefaultAccount is the account of a server made without WithAccount: two
// users, the manager of amoCRM's walk-through and an administrator.
func DefaultAccount() Account {
	return Account{
		AmojoID:   DefaultAccountID,
		ID:        DefaultAccountNum,
		Subdomain: DefaultSubdomain,
		Name:      DefaultAccountName,
		Users: []User{
			{ID: DefaultManagerID, AmojoID: DefaultManagerAmojoID, Name: DefaultManagerName, Email: "manager@example.com"},
			{ID: DefaultAdminID, AmojoID: DefaultAdminAmojoID, Name: DefaultAdminName, Email: "admin@example.com"},
		},
	}
}

// validate fills defaults and reports registrations that cannot work.
func (cfg *config) validate() error {
	if len(cfg.channels) == 0 {
		cfg.channels = []Channel{DefaultChannel()}
	}
	if len(cfg.accounts) == 0 {
		cfg.accounts = []Account{DefaultAccount()}
	}
	seen := map[string]bool{}
	for i := range cfg.channels {
		c := &cfg.channels[i]
		if c.ID == "" || c.Secret == "" {
			return fmt.Errorf("amojotest: channel %d: empty id or secret", i)
		}
		if seen[c.ID] {
			return fmt.Errorf("amojotest: channel %s registered twice", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" {
			c.Title = DefaultChannelTitle
		}
		if c.WebhookURL == "" {
			c.WebhookURL = cfg.webhookURL
		}
		if c.Bot.Name == "" {
			c.Bot.Name = DefaultBotName
		}
	}
	seen = map[string]bool{}
	for i, a := range cfg.accounts {
		if a.AmojoID == "" {
			return fmt.Errorf("amojotest: account %d: empty amojo id", i)
		}
		if seen[a.AmojoID] {
			return fmt.Errorf("amojotest: account %s registered twice", a.AmojoID)
		}
		seen[a.AmojoID] = true
		for j, u := range a.Users {
			if u.AmojoID == "" || u.ID == 0 {
				return fmt.Errorf("amojotest: account %s: user %d: empty id or amojo id", a.AmojoID, j)
			}
		}
	}
	if err := cfg.oauth.validate(); err != nil {
		return err
	}
	if cfg.rate < 0 || (cfg.rate > 0 && cfg.burst < 1) {
		return fmt.Errorf("amojotest: rate limit %v/s with burst %d", cfg.rate, cfg.burst)
	}
	if !cfg.rateSet {
		cfg.rate, cfg.burst = DefaultRateLimit, DefaultRateLimit
	}
	if cfg.rateNow == nil {
		cfg.rateNow = time.Now
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return nil
}
