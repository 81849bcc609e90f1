package amojo

import (
	"context"
	"net/url"
)

// Reaction is a participant's emoji reaction to a message. Name the chat by
// ConversationID (the integration's id) or ConversationRefID (amojo's), the
// message by MsgID (the integration's id) or ID (amojo's), and the reacting
// participant by User.ID or User.RefID (RefID is required when the reaction is
// on behalf of a CRM user). Emoji is required by React and not sent by Unreact.
type Reaction struct {
	ConversationID    string
	ConversationRefID string
	MsgID             string
	ID                string
	User              ParticipantRef
	Emoji             string
}

func (r Reaction) validate(react bool) error {
	if isBlank(r.ConversationID) && isBlank(r.ConversationRefID) {
		return invalid("ConversationID", "required (or ConversationRefID)")
	}
	if isBlank(r.MsgID) && isBlank(r.ID) {
		return invalid("MsgID", "required (or ID)")
	}
	if err := r.User.validate(); err != nil {
		return within("User", err)
	}
	if react && isBlank(r.Emoji) {
		return invalid("Emoji", "required")
	}
	return nil
}

type reactionBody struct {
	ConversationID    string         `json:"conversation_id,omitempty"`
	ConversationRefID string         `json:"conversation_ref_id,omitempty"`
	ID                string         `json:"id,omitempty"`
	MsgID             string         `json:"msgid,omitempty"`
	User              ParticipantRef `json:"user"`
	Type              string         `json:"type"`
	Emoji             string         `json:"emoji,omitempty"`
}

// React puts the reaction r.Emoji on a message.
func (c *Client) React(ctx context.Context, scopeID string, r Reaction) error {
	return c.react(ctx, scopeID, r, true)
}

// Unreact removes the participant's reaction from a message; r.Emoji is
// ignored.
func (c *Client) Unreact(ctx context.Context, scopeID string, r Reaction) error {
	return c.react(ctx, scopeID, r, false)
}

func (c *Client) react(ctx context.Context, scopeID string, r Reaction, react bool) error {
	if err := checkID("scopeID", scopeID); err != nil {
		return err
	}
	if err := r.validate(react); err != nil {
		return err
	}
	body := reactionBody{
		ConversationID:    r.ConversationID,
		ConversationRefID: r.ConversationRefID,
		ID:                r.ID,
		MsgID:             r.MsgID,
		User:              r.User,
		Type:              "unreact",
	}
	if react {
		body.Type, body.Emoji = "react", r.Emoji
	}
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID) + "/react",
		in:     body,
	})
	return err
}
