package amojo_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// catchUp finds the messages managers wrote between since and until whose
// webhooks the integration never handled: the recipe "catching up after
// downtime" of CRMClient.AllChatEvents. handled reports the amojo message
// ids the integration has delivered already (from its webhook handler and
// earlier runs). Deliver what it returns, report each message's delivery
// status, and move the watermark to the last event's time.
func catchUp(ctx context.Context, crm *amojo.CRMClient, chats *amojo.Client, scopeID string, since, until time.Time, handled func(msgID string) bool) ([]amojo.HistoryMessage, error) {
	var missed []amojo.HistoryMessage
	filter := amojo.ChatEventFilter{Types: []amojo.ChatEventType{amojo.EventOutgoingChat}, Since: since, Until: until}
	for ev, err := range crm.AllChatEvents(ctx, filter) {
		if err != nil {
			return missed, err
		}
		if ev.MessageID == "" || ev.ContactID == 0 || handled(ev.MessageID) {
			continue
		}
		// Only chats of the integration's own channels come back; a
		// message of another channel has none here.
		links, err := crm.ChatLinks(ctx, amojo.ChatLinkFilter{ContactIDs: []int64{ev.ContactID}})
		if err != nil {
			return missed, err
		}
		for _, link := range links {
			m, found, err := findInHistory(ctx, chats, scopeID, link.ChatID, ev.MessageID)
			if err != nil {
				return missed, err
			}
			if found {
				// A message with the integration's own msgid was sent
				// by the integration: nothing to deliver.
				if m.Message.ClientID == "" {
					missed = append(missed, m)
				}
				break
			}
		}
	}
	return missed, nil
}

// findInHistory walks the history of chatID (newest first) for the message
// with amojo id msgID.
func findInHistory(ctx context.Context, chats *amojo.Client, scopeID, chatID, msgID string) (amojo.HistoryMessage, bool, error) {
	for m, err := range chats.AllHistory(ctx, scopeID, chatID, amojo.HistoryOptions{}) {
		if err != nil {
			return amojo.HistoryMessage{}, false, err
		}
		if m.Message.ID == msgID {
			return m, true, nil
		}
	}
	return amojo.HistoryMessage{}, false, nil
}

// While the integration is down, a manager answers a client; the webhook is
// lost. The next catch-up run finds the message through the event log.
func ExampleCRMClient_AllChatEvents() {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	fake := amojotest.NewServer(amojotest.WithWebhookURL(down.URL + "/amojo/webhook/:scope_id"))
	defer fake.Close()
	chats, crm := fake.Client(), fake.CRMClient()
	ctx := context.Background()
	watermark := time.Now().Add(-time.Minute)

	// A client writes; the integration links the chat to a contact.
	conn, err := chats.Connect(ctx, amojo.ConnectRequest{AccountID: amojotest.DefaultAccountID, Title: "Example"})
	if err != nil {
		log.Fatal(err)
	}
	anna := amojo.Participant{ID: "client-1", Name: "Anna"}
	sent, err := chats.SendMessage(ctx, conn.ScopeID, amojo.IncomingMessage("in-1", "chat-1", time.Now(), anna, amojo.Text{Text: "Is my order ready?"}))
	if err != nil {
		log.Fatal(err)
	}
	contactID, err := crm.CreateContact(ctx, amojo.NewContact{Name: "Anna"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := crm.LinkChat(ctx, sent.ConversationID, contactID); err != nil {
		log.Fatal(err)
	}

	// The manager's answer: its webhook meets the integration down.
	if _, err := fake.ManagerReply(ctx, conn.ScopeID, sent.ConversationID, amojotest.ManagerMessage{
		UserID: amojotest.DefaultManagerAmojoID, Text: "Yes, come by after 5.",
	}); err != nil {
		fmt.Println("webhook lost:", err)
	}

	handled := map[string]bool{} // filled by the webhook handler, which saw nothing
	missed, err := catchUp(ctx, crm, chats, conn.ScopeID, watermark.Add(-10*time.Minute), time.Now().Add(time.Minute), func(id string) bool { return handled[id] })
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range missed {
		fmt.Printf("to deliver: %s to %s: %s\n", m.Sender.Name, m.Receiver.Name, m.Message.Text)
	}
	// Output:
	// webhook lost: amojotest: webhook answered 503, want 200
	// to deliver: Менеджер Василий to Anna: Yes, come by after 5.
}
