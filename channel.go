package amojo

import (
	"context"
	"net/url"
)

// DefaultHookAPIVersion is the webhook format Connect asks for unless told
// otherwise; v1 is deprecated and not parsed by this package.
const DefaultHookAPIVersion = "v2"

// ConnectRequest connects the client's channel to an account. AccountID is
// the account's amojo_id (REST: GET /api/v4/account?with=amojo_id); Title is
// the channel's name in that account. HookAPIVersion "" asks for
// DefaultHookAPIVersion. TimeWindowDisabled turns off the channel's reply
// time window in this account; it is sent only when true.
type ConnectRequest struct {
	AccountID          string
	Title              string
	HookAPIVersion     string
	TimeWindowDisabled bool
}

// Validate reports the first rule req breaks as a *ValidationError.
func (req ConnectRequest) Validate() error {
	if err := checkID("AccountID", req.AccountID); err != nil {
		return err
	}
	if isBlank(req.Title) {
		return invalid("Title", "required")
	}
	if req.HookAPIVersion != "" {
		if err := checkID("HookAPIVersion", req.HookAPIVersion); err != nil {
			return err
		}
	}
	return nil
}

// Connection is a channel's connection to an account. ScopeID identifies it
// in every other chats call.
type Connection struct {
	AccountID          string `json:"account_id"`
	ScopeID            string `json:"scope_id"`
	Title              string `json:"title"`
	HookAPIVersion     string `json:"hook_api_version"`
	TimeWindowDisabled bool   `json:"is_time_window_disabled"`
}

type connectBody struct {
	AccountID          string `json:"account_id"`
	Title              string `json:"title"`
	HookAPIVersion     string `json:"hook_api_version"`
	TimeWindowDisabled bool   `json:"is_time_window_disabled,omitempty"`
}

type disconnectBody struct {
	AccountID string `json:"account_id"`
}

// Connect connects the client's channel to the account req.AccountID and
// returns the connection with its scope id. It must be repeated after every
// (re)installation of the integration in the account. When the answer has no
// scope id, the one composed by ScopeID is filled in.
func (c *Client) Connect(ctx context.Context, req ConnectRequest) (*Connection, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	version := req.HookAPIVersion
	if version == "" {
		version = DefaultHookAPIVersion
	}
	var conn Connection
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(c.channelID) + "/connect",
		in: connectBody{
			AccountID:          req.AccountID,
			Title:              req.Title,
			HookAPIVersion:     version,
			TimeWindowDisabled: req.TimeWindowDisabled,
		},
		out: &conn,
	})
	if err != nil {
		return nil, err
	}
	conn.fill(c.channelID, req.AccountID)
	return &conn, nil
}

// fill completes an answer that lacks the account or scope id.
func (conn *Connection) fill(channelID, accountID string) {
	if conn.AccountID == "" {
		conn.AccountID = accountID
	}
	if conn.ScopeID == "" {
		conn.ScopeID = ScopeID(channelID, conn.AccountID)
	}
}

// Disconnect disconnects the client's channel from the account accountID (its
// amojo_id): outgoing-message webhooks for it stop.
func (c *Client) Disconnect(ctx context.Context, accountID string) error {
	if err := checkID("accountID", accountID); err != nil {
		return err
	}
	_, err := c.r.do(ctx, request{
		method: "DELETE",
		path:   "/v2/origin/custom/" + url.PathEscape(c.channelID) + "/disconnect",
		in:     disconnectBody{AccountID: accountID},
	})
	return err
}
