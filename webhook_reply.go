package amojo

import (
	"context"
	"time"
)

// The reply path: after a manager's message arrives by webhook and has been
// delivered (or not) to the messenger, amoCRM wants its delivery status; when
// the client answers a chat the manager started ("write first"), the answer
// must carry amojo's ids so the two sides get linked.

// DeliveryTarget returns the scope id and amojo message id that
// SetDeliveryStatus needs for the message of ev. It reports false when ev is
// not a message or comment event, or lacks either id (ScopeID is set by
// WebhookHandler; after ParseWebhook alone, set it yourself).
func (ev *WebhookEvent) DeliveryTarget() (scopeID, msgID string, ok bool) {
	if ev == nil || ev.Message == nil || ev.ScopeID == "" || ev.Message.Message.ID == "" {
		return "", "", false
	}
	return ev.ScopeID, ev.Message.Message.ID, true
}

// MarkDelivered reports the message of ev as delivered to the client.
func (c *Client) MarkDelivered(ctx context.Context, ev *WebhookEvent) error {
	return c.reportDelivery(ctx, ev, DeliveryStatus{Status: DeliveryDelivered})
}

// MarkRead reports the message of ev as read by the client.
func (c *Client) MarkRead(ctx context.Context, ev *WebhookEvent) error {
	return c.reportDelivery(ctx, ev, DeliveryStatus{Status: DeliveryRead})
}

// MarkFailed reports that the message of ev could not be delivered; amoCRM
// shows reason to the manager. code is one of the DeliveryError constants;
// DeliveryErrorOther requires a reason.
func (c *Client) MarkFailed(ctx context.Context, ev *WebhookEvent, code DeliveryErrorCode, reason string) error {
	return c.reportDelivery(ctx, ev, DeliveryStatus{Status: DeliveryFailed, ErrorCode: code, Error: reason})
}

func (c *Client) reportDelivery(ctx context.Context, ev *WebhookEvent, s DeliveryStatus) error {
	scopeID, msgID, ok := ev.DeliveryTarget()
	if !ok {
		return invalid("WebhookEvent", "not a message event with a scope id and a message id")
	}
	return c.SetDeliveryStatus(ctx, scopeID, msgID, s)
}

// ClientReply returns the message with which the client answers m, built
// with IncomingMessage and the ids amoCRM needs to attach it to the same chat:
//
//   - ConversationID is the integration's chat id from the webhook, or
//     newConversationID when the chat was started in amoCRM (WriteFirst) and
//     has none yet;
//   - ConversationRefID is amojo's chat id;
//   - the client's Sender.RefID is amojo's participant id of the receiver, so
//     the participant amoCRM created for the phone number is reused.
//
// client is the client as the integration knows it (its own ID and Name).
func (m *OutgoingMessage) ClientReply(msgID string, at time.Time, newConversationID string, client Participant, content Content) Message {
	conversationID := m.Conversation.ClientID
	if conversationID == "" {
		conversationID = newConversationID
	}
	if client.RefID == "" {
		client.RefID = m.Receiver.ID
	}
	msg := IncomingMessage(msgID, conversationID, at, client, content)
	msg.ConversationRefID = m.Conversation.ID
	return msg
}
