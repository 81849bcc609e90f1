package amojo

import (
	"context"
	"net/url"
	"time"
)

// TypingRequest tells amojo that a client is typing in a chat. Name the chat
// by ConversationID (the integration's id) or ConversationRefID (amojo's) and
// the client by SenderID or SenderRefID. Duration is how long the indicator
// shows; 0 leaves amojo's default (5 seconds). It is sent in milliseconds.
type TypingRequest struct {
	ConversationID    string
	ConversationRefID string
	SenderID          string
	SenderRefID       string
	Duration          time.Duration
}

// Validate reports the first rule req breaks as a *ValidationError.
func (req TypingRequest) Validate() error {
	if isBlank(req.ConversationID) && isBlank(req.ConversationRefID) {
		return invalid("ConversationID", "required (or ConversationRefID)")
	}
	if isBlank(req.SenderID) && isBlank(req.SenderRefID) {
		return invalid("SenderID", "required (or SenderRefID)")
	}
	if req.Duration < 0 {
		return invalid("Duration", "negative")
	}
	return nil
}

type typingBody struct {
	ConversationID    string         `json:"conversation_id,omitempty"`
	ConversationRefID string         `json:"conversation_ref_id,omitempty"`
	Sender            ParticipantRef `json:"sender"`
	DurationMS        int64          `json:"duration_ms,omitempty"`
}

// Typing shows amoCRM users that the client is typing. amojo answers 204.
func (c *Client) Typing(ctx context.Context, scopeID string, req TypingRequest) error {
	if err := checkID("scopeID", scopeID); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	var ms int64
	if req.Duration > 0 {
		ms = max(req.Duration.Milliseconds(), 1)
	}
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID) + "/typing",
		in: typingBody{
			ConversationID:    req.ConversationID,
			ConversationRefID: req.ConversationRefID,
			Sender:            ParticipantRef{ID: req.SenderID, RefID: req.SenderRefID},
			DurationMS:        ms,
		},
	})
	return err
}
