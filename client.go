package amojo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// DefaultBaseURL is the chats API of amoCRM (accounts on *.amocrm.ru).
const DefaultBaseURL = "https://amojo.amocrm.ru"

// KommoBaseURL is the chats API of Kommo (accounts on *.kommo.com).
const KommoBaseURL = "https://amojo.kommo.com"

// Client calls the amoCRM chats API ("amojo") on behalf of one registered
// chat channel. Every request is signed with the channel secret. A Client is
// safe for concurrent use by many goroutines.
//
// Printed with any fmt verb, logged with log/slog or marshalled to JSON, a
// Client shows its channel id and base URL, never its secret.
type Client struct {
	channelID string
	// r signs with the secret, which only its authorize function holds, so
	// not even printing the struct's fields by reflection shows it.
	r *requester
}

// NewClient returns a client for the channel channelID with its secret, as
// issued when the channel was registered. It talks to DefaultBaseURL unless
// WithBaseURL says otherwise. Empty or malformed credentials and invalid
// options give a *ValidationError.
func NewClient(channelID, secret string, opts ...Option) (*Client, error) {
	if err := checkID("channelID", channelID); err != nil {
		return nil, err
	}
	if secret == "" {
		return nil, invalid("secret", "empty")
	}
	if strings.ContainsAny(secret, "\r\n") {
		return nil, invalid("secret", "contains a line break")
	}
	o, err := buildOptions(DefaultBaseURL, opts)
	if err != nil {
		return nil, err
	}
	sign := func(_ context.Context, req *http.Request, body []byte, now time.Time) error {
		SignRequest(req, body, secret, now)
		return nil
	}
	return &Client{channelID: channelID, r: newRequester(o, nil, sign)}, nil
}

// ChannelID returns the channel id the client was made with.
func (c *Client) ChannelID() string { return c.channelID }

// BaseURL returns the chats API address the client talks to.
func (c *Client) BaseURL() string { return c.r.baseURL() }

// CloseIdleConnections closes the connections the client keeps open for
// reuse; calls made later dial again. With WithHTTPClient it closes the idle
// connections of that client's transport.
func (c *Client) CloseIdleConnections() { c.r.closeIdleConnections() }

// String describes the client without its secret.
func (c Client) String() string {
	return fmt.Sprintf("amojo.Client{channel: %s, base: %s}", c.channelID, c.r.baseURL())
}

// Format prints the client as String does, for every verb (%#v included).
func (c Client) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue describes the client to log/slog without its secret.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("channel", c.channelID), slog.String("base", c.r.baseURL()))
}

// ScopeID returns the scope id of the connection between channelID and the
// account with amojo id accountID: the two joined by an underscore. The
// connection must exist (see Client.Connect) for the scope to work.
func ScopeID(channelID, accountID string) string {
	return channelID + "_" + accountID
}

// SplitScopeID splits a scope id into its channel id and account amojo id.
// It reports false when scopeID is not of the form "channel_account".
func SplitScopeID(scopeID string) (channelID, accountID string, ok bool) {
	i := strings.LastIndexByte(scopeID, '_')
	if i <= 0 || i == len(scopeID)-1 {
		return "", "", false
	}
	return scopeID[:i], scopeID[i+1:], true
}

// ValidateID checks an id the way every call checks the ids it puts in a
// request path (a scope id, an amojo id, a chat id): not empty, not "." or
// "..", no whitespace or control characters. A broken rule is a
// *ValidationError naming field.
func ValidateID(field, id string) error { return checkID(field, id) }

// checkID reports an empty id or one with whitespace or control characters.
func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "empty")
	}
	if id == "." || id == ".." {
		// A dot segment would change the meaning of the request path.
		return invalid(field, "must not be . or ..")
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return invalid(field, "contains whitespace or control characters")
		}
	}
	return nil
}
