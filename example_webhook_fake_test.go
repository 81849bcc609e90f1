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

// A webhook receiver against the fake amoCRM of package amojotest: a manager
// writes, the handler gets the signed webhook, reports the message read and
// lets the client answer.
func ExampleNewWebhookHandler_amojotest() {
	fake := amojotest.NewServer()
	defer fake.Close()
	client := fake.Client()
	ctx := context.Background()

	conn, err := client.Connect(ctx, amojo.ConnectRequest{AccountID: amojotest.DefaultAccountID, Title: "Example"})
	if err != nil {
		log.Fatal(err)
	}
	anna := amojo.Participant{ID: "client-1", Name: "Anna"}
	chat, err := client.CreateChat(ctx, conn.ScopeID, amojo.CreateChatRequest{ConversationID: "chat-1", User: anna})
	if err != nil {
		log.Fatal(err)
	}

	h := amojo.NewWebhookHandler(fake.Channel().Secret, func(ctx context.Context, ev *amojo.WebhookEvent) error {
		if ev.Kind != amojo.EventMessage {
			return nil
		}
		m := ev.Message
		fmt.Printf("%s to %s: %s\n", m.Sender.Name, m.Receiver.Name, m.Message.Text)
		if err := client.MarkRead(ctx, ev); err != nil {
			return err
		}
		// The message id is derived from amojo's, so a repeat cannot
		// answer twice.
		answer := m.ClientReply("answer-"+m.Message.ID, time.Now(), "", anna, amojo.Text{Text: "Thanks!"})
		_, err := client.SendMessage(ctx, ev.ScopeID, answer)
		return err
	})
	if err := h.Err(); err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx) // after the server below stops
	mux := http.NewServeMux()
	mux.Handle("/amojo/webhook/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// amoCRM replaces ":scope_id" with the scope id of the connection.
	if err := fake.SetWebhookURL(client.ChannelID(), srv.URL+"/amojo/webhook/:scope_id"); err != nil {
		log.Fatal(err)
	}

	res, err := fake.ManagerReply(ctx, conn.ScopeID, chat.ID, amojotest.ManagerMessage{
		UserID: amojotest.DefaultManagerAmojoID, Text: "Hello! How can I help?",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("webhook answered", res.StatusCode)

	stored, _ := fake.Chat(chat.ID)
	for _, m := range stored.Messages {
		fmt.Printf("%s: %s (delivery status %d)\n", m.Sender.Name, m.Text, m.DeliveryStatus)
	}
	// Output:
	// Менеджер Василий to Anna: Hello! How can I help?
	// webhook answered 200
	// Менеджер Василий: Hello! How can I help? (delivery status 2)
	// Anna: Thanks! (delivery status 0)
}
