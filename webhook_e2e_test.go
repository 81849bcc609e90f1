package amojo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// End-to-end webhook tests: the fake amoCRM posts real signed webhooks over
// loopback HTTP to a WebhookHandler, and the answers the callback sends go
// back to the fake through the Client.

// e2eHooks is a fake with a connected scope and a WebhookHandler serving its
// webhooks.
type e2eHooks struct {
	fake    *amojotest.Server
	client  *amojo.Client
	scopeID string
	url     string // the webhook URL registered for the channel
	events  chan *amojo.WebhookEvent
	errs    chan error // what the handler's error handler was told
}

// newE2EHooks serves webhooks verified with secret (the channel's when
// empty); the synchronous handler records each event, then runs fn (if any),
// so an event is recorded by the time the fake's helper returns.
func newE2EHooks(t *testing.T, secret string, fn func(ctx context.Context, h *e2eHooks, ev *amojo.WebhookEvent) error, opts ...amojo.WebhookOption) *e2eHooks {
	t.Helper()
	fake := amojotest.NewServer()
	t.Cleanup(fake.Close)
	scopeID, err := fake.Connect(fake.Channel().ID, amojotest.DefaultAccountID)
	if err != nil {
		t.Fatal(err)
	}
	h := &e2eHooks{
		fake: fake, client: fake.Client(), scopeID: scopeID,
		events: make(chan *amojo.WebhookEvent, 16), errs: make(chan error, 16),
	}
	if secret == "" {
		secret = fake.Channel().Secret
	}
	opts = append([]amojo.WebhookOption{amojo.WithWebhookErrorHandler(func(_ *amojo.WebhookEvent, err error) { h.errs <- err })}, opts...)
	handler := amojo.NewWebhookHandler(secret, func(ctx context.Context, ev *amojo.WebhookEvent) error {
		h.events <- ev
		if fn != nil {
			return fn(ctx, h, ev)
		}
		return nil
	}, opts...)
	if err := handler.Err(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/amojo/webhook/", handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := handler.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	h.url = srv.URL + "/amojo/webhook/:scope_id"
	if err := fake.SetWebhookURL(fake.Channel().ID, h.url); err != nil {
		t.Fatal(err)
	}
	return h
}

// event returns the event the handler recorded last; there must be one.
func (h *e2eHooks) event(t *testing.T) *amojo.WebhookEvent {
	t.Helper()
	select {
	case ev := <-h.events:
		return ev
	default:
		t.Fatal("the handler got no event")
		return nil
	}
}

// chat creates a chat with client client-1 and returns it.
func (h *e2eHooks) chat(t *testing.T) *amojo.Chat {
	t.Helper()
	chat, err := h.client.CreateChat(t.Context(), h.scopeID, amojo.CreateChatRequest{
		ConversationID: "conv-1",
		User:           amojo.Participant{ID: "client-1", Name: "Client One", Profile: &amojo.Profile{Phone: "+79150000001"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return chat
}

func TestWebhookE2EManagerReply(t *testing.T) {
	t.Parallel()
	h := newE2EHooks(t, "", nil)
	chat := h.chat(t)
	res, err := h.fake.ManagerReply(t.Context(), h.scopeID, chat.ID, amojotest.ManagerMessage{
		UserID: amojotest.DefaultManagerAmojoID, Text: "Hello from the CRM",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Kind != amojotest.WebhookMessage {
		t.Errorf("webhook result %+v", res)
	}
	if want := amojo.SignWebhook(amojotest.DefaultChannelSecret, res.Body); res.Signature != want {
		t.Errorf("signature %s, want %s", res.Signature, want)
	}
	ev := h.event(t)
	stored, _ := h.fake.Chat(chat.ID)
	if len(stored.Messages) != 1 {
		t.Fatalf("stored messages %+v", stored.Messages)
	}
	m := ev.Message
	switch {
	case ev.Kind != amojo.EventMessage, m == nil:
		t.Fatalf("event %+v", ev)
	case ev.ScopeID != h.scopeID, ev.AccountID != amojotest.DefaultAccountID:
		t.Errorf("scope %q account %q", ev.ScopeID, ev.AccountID)
	case m.Message.ID != res.MessageID, m.Message.Type != amojo.TypeText, m.Message.Text != "Hello from the CRM":
		t.Errorf("content %+v (webhook about %s)", m.Message, res.MessageID)
	case m.Sender.ID != amojotest.DefaultManagerAmojoID, m.Sender.Name != amojotest.DefaultManagerName:
		t.Errorf("sender %+v", m.Sender)
	case m.Receiver.ID != chat.User.ID, m.Receiver.ClientID != "client-1", m.Receiver.Phone != "+79150000001":
		t.Errorf("receiver %+v, chat user %+v", m.Receiver, chat.User)
	case m.Conversation != amojo.ConversationRef{ID: chat.ID, ClientID: "conv-1"}, m.WriteFirst():
		t.Errorf("conversation %+v", m.Conversation)
	case !m.Time.Equal(stored.Messages[0].Time):
		t.Errorf("time %v, stored %v", m.Time, stored.Messages[0].Time)
	}
	if want := h.url[:len(h.url)-len(":scope_id")] + h.scopeID; res.URL != want {
		t.Errorf("posted to %s, want %s", res.URL, want)
	}

	// Report it delivered, then read.
	scopeID, msgID, ok := ev.DeliveryTarget()
	if !ok || scopeID != h.scopeID || msgID != res.MessageID {
		t.Fatalf("DeliveryTarget %q %q %v", scopeID, msgID, ok)
	}
	if err := h.client.MarkDelivered(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if err := h.client.MarkRead(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	stored, _ = h.fake.Chat(chat.ID)
	if got := stored.Messages[0].DeliveryStatus; got != 2 {
		t.Errorf("stored delivery status %d, want 2 (read)", got)
	}
	if n := len(h.fake.RequestsTo(amojotest.RouteDeliveryStatus)); n != 2 {
		t.Errorf("%d delivery_status requests, want 2", n)
	}
}

func TestWebhookE2ETyping(t *testing.T) {
	t.Parallel()
	h := newE2EHooks(t, "", nil)
	chat := h.chat(t)
	if _, err := h.fake.ManagerTyping(t.Context(), h.scopeID, chat.ID, amojotest.DefaultAdminAmojoID); err != nil {
		t.Fatal(err)
	}
	ev := h.event(t)
	if ev.Kind != amojo.EventTyping || ev.Typing == nil || ev.Message != nil {
		t.Fatalf("event %+v", ev)
	}
	ty := ev.Typing
	if ty.User.ID != amojotest.DefaultAdminAmojoID || ty.Conversation != (amojo.ConversationRef{ID: chat.ID, ClientID: "conv-1"}) {
		t.Errorf("typing %+v", ty)
	}
	if d := ty.ExpiresAt.Sub(ev.Time); d != amojotest.TypingDuration {
		t.Errorf("expires %v after the webhook time, want %v", d, amojotest.TypingDuration)
	}
	if ev.ScopeID != h.scopeID {
		t.Errorf("scope %q", ev.ScopeID)
	}
}

func TestWebhookE2EReaction(t *testing.T) {
	t.Parallel()
	h := newE2EHooks(t, "", nil)
	chat := h.chat(t)
	sent, err := h.client.SendMessage(t.Context(), h.scopeID, amojo.IncomingMessage("client-msg-1", "conv-1", time.Now(),
		amojo.Participant{ID: "client-1", Name: "Client One"}, amojo.Text{Text: "Is it in stock?"}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, emoji, typ string
		removed          bool
	}{
		{"react", "👍", "react", false},
		{"unreact", "", "unreact", true},
	}
	for _, tt := range tests { // in order: the second takes the first back
		res, err := h.fake.ManagerReaction(t.Context(), h.scopeID, chat.ID, sent.MsgID, amojotest.DefaultManagerAmojoID, tt.emoji)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ev := h.event(t)
		r := ev.Reaction
		if ev.Kind != amojo.EventReaction || r == nil {
			t.Fatalf("%s: event %+v", tt.name, ev)
		}
		if r.Type != tt.typ || r.Emoji != tt.emoji || r.Removed() != tt.removed {
			t.Errorf("%s: type %q emoji %q removed %v", tt.name, r.Type, r.Emoji, r.Removed())
		}
		if r.MessageID != sent.MsgID || r.MessageID != res.MessageID || r.MessageClientID != "client-msg-1" {
			t.Errorf("%s: about %q (%q), want %q (client-msg-1)", tt.name, r.MessageID, r.MessageClientID, sent.MsgID)
		}
		if r.Message == nil || r.Message.Sender.ClientID != "client-1" {
			t.Errorf("%s: quoted message %+v", tt.name, r.Message)
		}
		if r.User.ID != amojotest.DefaultManagerAmojoID || r.Conversation.ID != chat.ID {
			t.Errorf("%s: user %+v conversation %+v", tt.name, r.User, r.Conversation)
		}
		stored, _ := h.fake.Chat(chat.ID)
		if got := stored.Messages[0].Reactions[amojotest.DefaultManagerAmojoID]; got != tt.emoji {
			t.Errorf("%s: stored reaction %q, want %q", tt.name, got, tt.emoji)
		}
	}
}

func TestWebhookE2EWriteFirst(t *testing.T) {
	t.Parallel()
	const phone, clientID = "+79990001122", "messenger-user-42"
	var sent amojo.Message
	h := newE2EHooks(t, "", func(ctx context.Context, h *e2eHooks, ev *amojo.WebhookEvent) error {
		m := ev.Message
		if !m.WriteFirst() {
			return nil
		}
		// The client answers the chat the manager started: a conversation
		// id of ours, and amojo's ids to bind it.
		sent = m.ClientReply("reply-"+m.Message.ID, time.Now(), "conv-"+m.Conversation.ID,
			amojo.Participant{ID: clientID, Name: "Boris"}, amojo.Text{Text: "Yes, that's me."})
		_, err := h.client.SendMessage(ctx, ev.ScopeID, sent)
		return err
	})
	chatID, participantID, err := h.fake.StartChat(h.scopeID, phone, "Boris")
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.fake.ManagerReply(t.Context(), h.scopeID, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Your card is ready."})
	if err != nil {
		t.Fatal(err) // also when the callback's reply failed: the handler answers 500
	}
	ev := h.event(t)
	m := ev.Message
	if !m.WriteFirst() || m.Conversation != (amojo.ConversationRef{ID: chatID}) {
		t.Errorf("conversation %+v, want write-first chat %s", m.Conversation, chatID)
	}
	if m.Receiver.ID != participantID || m.Receiver.Phone != phone || m.Receiver.ClientID != "" {
		t.Errorf("receiver %+v", m.Receiver)
	}
	if sent.ConversationID != "conv-"+chatID || sent.ConversationRefID != chatID || sent.Sender.RefID != participantID || sent.Sender.ID != clientID {
		t.Errorf("reply %+v", sent)
	}

	// The fake bound the chat and its participant to our ids.
	stored, ok := h.fake.Chat(chatID)
	if !ok {
		t.Fatal("chat gone")
	}
	if stored.ConversationID != "conv-"+chatID {
		t.Errorf("stored conversation id %q", stored.ConversationID)
	}
	if c := stored.Client; c == nil || c.ID != participantID || c.ClientID != clientID || c.Phone != phone {
		t.Errorf("stored client %+v", stored.Client)
	}
	if len(stored.Messages) != 2 {
		t.Fatalf("stored messages %+v", stored.Messages)
	}
	if a := stored.Messages[1]; a.Text != "Yes, that's me." || a.ClientID != "reply-"+res.MessageID || a.Sender.ClientID != clientID || a.Receiver != nil {
		t.Errorf("stored answer %+v", a)
	}
	if byConv, ok := h.fake.ChatByConversation(h.scopeID, "conv-"+chatID); !ok || byConv.ID != chatID {
		t.Errorf("chat by conversation: %v %+v", ok, byConv)
	}

	// From now on webhooks of the chat carry our ids.
	if _, err := h.fake.ManagerReply(t.Context(), h.scopeID, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Come by any time."}); err != nil {
		t.Fatal(err)
	}
	ev = h.event(t)
	if m := ev.Message; m.WriteFirst() || m.Conversation.ClientID != "conv-"+chatID || m.Receiver.ClientID != clientID {
		t.Errorf("second webhook: conversation %+v receiver %+v", m.Conversation, m.Receiver)
	}
}

func TestWebhookE2EWrongSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		opts   []amojo.WebhookOption
		status int
	}{
		{"wrong secret", "0000000000000000000000000000000000000000", nil, http.StatusUnauthorized},
		{"old secret during rotation", "0000000000000000000000000000000000000000",
			[]amojo.WebhookOption{amojo.WithWebhookSecrets(amojotest.DefaultChannelSecret)}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newE2EHooks(t, tt.secret, nil, tt.opts...)
			chat := h.chat(t)
			res, err := h.fake.ManagerReply(t.Context(), h.scopeID, chat.ID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "hi"})
			if res.StatusCode != tt.status {
				t.Errorf("answered %d, want %d", res.StatusCode, tt.status)
			}
			hooks := h.fake.Webhooks()
			if len(hooks) != 1 || hooks[0].StatusCode != tt.status || hooks[0].MessageID != res.MessageID {
				t.Fatalf("recorded webhooks %+v", hooks)
			}
			if tt.status == http.StatusOK {
				if err != nil || hooks[0].Err != nil {
					t.Errorf("errors %v, %v", err, hooks[0].Err)
				}
				if ev := h.event(t); ev.Message.Message.Text != "hi" {
					t.Errorf("event %+v", ev)
				}
				return
			}
			if err == nil || hooks[0].Err == nil {
				t.Errorf("no error for a %d answer", tt.status)
			}
			select {
			case ev := <-h.events:
				t.Errorf("the callback got %+v", ev)
			default:
			}
			select {
			case err := <-h.errs:
				if !errors.Is(err, amojo.ErrInvalidSignature) {
					t.Errorf("reported %v, want ErrInvalidSignature", err)
				}
			default:
				t.Error("the error handler was not told")
			}
		})
	}
}
