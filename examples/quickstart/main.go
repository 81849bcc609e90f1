// Command quickstart connects a chat channel to an amoCRM account, sends
// one message from a customer and prints the chat's history: the README's
// quick start, as a program.
//
//	AMOJO_CHANNEL_ID, AMOJO_CHANNEL_SECRET  the channel, from its registration
//	AMOCRM_BASE_URL                         https://SUBDOMAIN.amocrm.ru
//	AMOCRM_TOKEN                            a long-lived token
//	AMOJO_BASE_URL                          optional: amojo.KommoBaseURL for Kommo
//
// It exits 1 with the reason on stderr when a call fails.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/amojo-go/amojo"
)

func main() {
	ctx := context.Background()
	chats, err := amojo.NewClient(os.Getenv("AMOJO_CHANNEL_ID"), os.Getenv("AMOJO_CHANNEL_SECRET"),
		amojo.WithBaseURL(cmp.Or(os.Getenv("AMOJO_BASE_URL"), amojo.DefaultBaseURL)))
	if err != nil {
		log.Fatal(err)
	}
	crm, err := amojo.NewCRMClient(os.Getenv("AMOCRM_BASE_URL"), amojo.StaticToken(os.Getenv("AMOCRM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}

	acc, err := crm.Account(ctx) // the account's amojo_id
	if err != nil {
		log.Fatal(err)
	}
	conn, err := chats.Connect(ctx, amojo.ConnectRequest{AccountID: acc.AmojoID, Title: "My messenger"})
	if err != nil {
		log.Fatal(err)
	}

	// Ids are yours: the same msgid sent again is recognised, not duplicated.
	customer := amojo.Participant{ID: "user-42", Name: "Example Client"}
	msg := amojo.IncomingMessage("msg-1", "chat-42", time.Now(), customer, amojo.Text{Text: "Hello!"})
	sent, err := chats.SendMessage(ctx, conn.ScopeID, msg)
	if err != nil {
		log.Fatal(err)
	}

	for m, err := range chats.AllHistory(ctx, conn.ScopeID, sent.ConversationID, amojo.HistoryOptions{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Time.Format(time.DateTime), m.Sender.Name+":", m.Message.Text)
	}
}
