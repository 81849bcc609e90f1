package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The examples run against amojotest, the in-memory fake amoCRM; with a real
// channel, drop WithBaseURL (or use amojo.KommoBaseURL for Kommo accounts).

func ExampleNewClient() {
	srv := amojotest.NewServer()
	defer srv.Close()
	ch, acc := srv.Channel(), srv.Account()

	client, err := amojo.NewClient(ch.ID, ch.Secret,
		amojo.WithBaseURL(srv.URL), // amojo.DefaultBaseURL when omitted
		amojo.WithRetry(amojo.RetryPolicy{MaxAttempts: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second}),
	)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Connect(context.Background(), amojo.ConnectRequest{AccountID: acc.AmojoID, Title: "My messenger"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scope:", conn.ScopeID == amojo.ScopeID(ch.ID, acc.AmojoID), conn.HookAPIVersion)

	// Bad input never leaves the process.
	_, err = amojo.NewClient(ch.ID, "")
	var ve *amojo.ValidationError
	fmt.Println(errors.As(err, &ve), err)
	// Output:
	// scope: true v2
	// true amojo: invalid secret: empty
}

func ExampleClient_SendMessage() {
	srv := amojotest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	conn, err := client.Connect(ctx, amojo.ConnectRequest{AccountID: srv.Account().AmojoID, Title: "My messenger"})
	if err != nil {
		log.Fatal(err)
	}

	// A client writes to the account. Ids come from your side: a retried or
	// repeated msgid is recognised by amoCRM instead of duplicated.
	customer := amojo.Participant{ID: "user-42", Name: "Example Client", Profile: &amojo.Profile{Phone: "+79151112233"}}
	at := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	msg := amojo.IncomingMessage("msg-1", "chat-42", at, customer, amojo.Text{Text: "Hello! Is the order ready?"})
	sent, err := client.SendMessage(ctx, conn.ScopeID, msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("your id:", sent.RefID, "amojo chat id set:", sent.ConversationID != "")

	// A picture without its file name breaks amoCRM's rule: refused before sending.
	bad := amojo.IncomingMessage("msg-2", "chat-42", at, customer, amojo.Picture{URL: "https://example.com/p.jpg"})
	_, err = client.SendMessage(ctx, conn.ScopeID, bad)
	fmt.Println(err)
	// Output:
	// your id: msg-1 amojo chat id set: true
	// amojo: invalid Content.FileName: required for picture, file and video messages
}

func ExampleClient_History() {
	srv := amojotest.NewServer()
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()
	conn, err := client.Connect(ctx, amojo.ConnectRequest{AccountID: srv.Account().AmojoID, Title: "My messenger"})
	if err != nil {
		log.Fatal(err)
	}
	customer := amojo.Participant{ID: "user-42", Name: "Example Client"}
	chat, err := client.CreateChat(ctx, conn.ScopeID, amojo.CreateChatRequest{ConversationID: "chat-42", User: customer})
	if err != nil {
		log.Fatal(err)
	}
	// A manager's message names the CRM user by amojo id (CRMClient.Users);
	// amoCRM shows the user's CRM name.
	user := srv.Account().Users[0]
	manager := amojo.Participant{ID: "manager-1", RefID: user.AmojoID, Name: user.Name}
	start := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	for i, m := range []amojo.Message{
		amojo.IncomingMessage("m1", "chat-42", start, customer, amojo.Text{Text: "Can I pay on delivery?"}),
		amojo.ManagerMessage("m2", "chat-42", start.Add(2*time.Minute), manager, customer, amojo.Text{Text: "Yes, cash or card."}),
	} {
		m.Silent = true // importing past messages: no lead, no notification
		if _, err := client.SendMessage(ctx, conn.ScopeID, m); err != nil {
			log.Fatal(i, err)
		}
	}

	// History is newest first; AllHistory walks every page.
	for m, err := range client.AllHistory(ctx, conn.ScopeID, chat.ID, amojo.HistoryOptions{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %s\n", m.Time.Format("15:04"), m.Sender.Name, m.Message.Text)
	}
	// Output:
	// 09:32 Менеджер Василий: Yes, cash or card.
	// 09:30 Example Client: Can I pay on delivery?
}
