package amojo

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func parseFixture(t *testing.T, name string) *WebhookEvent {
	t.Helper()
	data, err := os.ReadFile("testdata/webhooks/" + name)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ParseWebhook(data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestMarkDeliveryStatuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		call func(c *Client, ev *WebhookEvent) error
		body string
	}{
		{"delivered", func(c *Client, ev *WebhookEvent) error { return c.MarkDelivered(t.Context(), ev) }, `{"msgid":"MSG","delivery_status":1}`},
		{"read", func(c *Client, ev *WebhookEvent) error { return c.MarkRead(t.Context(), ev) }, `{"msgid":"MSG","delivery_status":2}`},
		{"failed", func(c *Client, ev *WebhookEvent) error {
			return c.MarkFailed(t.Context(), ev, DeliveryErrorOther, "blocked by the user")
		}, `{"msgid":"MSG","delivery_status":-1,"error_code":905,"error":"blocked by the user"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptServer(t, status(200, `{}`))
			c, _, _ := newTestClient(t, srv.URL)
			ev := parseFixture(t, "message_text.json")
			ev.ScopeID = "chan_acc"
			if err := tc.call(c, ev); err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			msgID := ev.Message.Message.ID
			if r.Method != "POST" || r.Path != "/v2/origin/custom/chan_acc/"+msgID+"/delivery_status" {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			want := strings.Replace(tc.body, "MSG", msgID, 1)
			if string(r.Body) != want {
				t.Errorf("body = %s\nwant   %s", r.Body, want)
			}
			checkSigned(t, r)
		})
	}
}

func TestMarkDeliveredRefusesNonMessageEvents(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, `{}`))
	c, _, _ := newTestClient(t, srv.URL)
	typing := parseFixture(t, "typing.json")
	typing.ScopeID = "s"
	noScope := parseFixture(t, "message_text.json")
	for _, ev := range []*WebhookEvent{nil, typing, noScope} {
		var ve *ValidationError
		if err := c.MarkRead(t.Context(), ev); !errors.As(err, &ve) {
			t.Errorf("MarkRead = %v, want a ValidationError", err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestClientReplyToWriteFirst(t *testing.T) {
	t.Parallel()
	ev := parseFixture(t, "message_write_first.json")
	m := ev.Message
	if !m.WriteFirst() {
		t.Fatal("fixture is not a write-first message")
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	reply := m.ClientReply("my-msg-1", at, "my-chat-1", Participant{ID: "my-user-1", Name: "Client"}, Text{Text: "hi"})
	if reply.ConversationID != "my-chat-1" || reply.ConversationRefID != m.Conversation.ID {
		t.Errorf("conversation ids = %q, %q", reply.ConversationID, reply.ConversationRefID)
	}
	if reply.Sender.ID != "my-user-1" || reply.Sender.RefID != m.Receiver.ID || reply.Receiver != nil {
		t.Errorf("sender = %+v, receiver %+v", reply.Sender, reply.Receiver)
	}
	if err := reply.Validate(); err != nil {
		t.Fatal(err)
	}

	// On the wire: both conversation ids and both sender ids.
	srv := newScriptServer(t, status(200, `{"new_message":{"msgid":"x","ref_id":"my-msg-1"}}`))
	c, _, _ := newTestClient(t, srv.URL)
	if _, err := c.SendMessage(t.Context(), "chan_acc", reply); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Payload struct {
			ConversationID    string `json:"conversation_id"`
			ConversationRefID string `json:"conversation_ref_id"`
			Sender            struct {
				ID    string `json:"id"`
				RefID string `json:"ref_id"`
			} `json:"sender"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(srv.Requests()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	p := body.Payload
	if p.ConversationID != "my-chat-1" || p.ConversationRefID != m.Conversation.ID || p.Sender.ID != "my-user-1" || p.Sender.RefID != m.Receiver.ID {
		t.Errorf("payload = %+v", p)
	}
}

func TestClientReplyKeepsKnownConversation(t *testing.T) {
	t.Parallel()
	m := parseFixture(t, "message_text.json").Message
	if m.WriteFirst() {
		t.Fatal("fixture has no client_id")
	}
	reply := m.ClientReply("r1", time.Now(), "ignored", Participant{ID: "u", Name: "n", RefID: "explicit"}, Text{Text: "ok"})
	if reply.ConversationID != m.Conversation.ClientID || reply.Sender.RefID != "explicit" {
		t.Errorf("reply = %+v", reply)
	}
}
