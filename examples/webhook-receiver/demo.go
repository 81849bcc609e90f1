package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// demoWait bounds the wait for the receiver to handle one webhook.
const demoWait = 10 * time.Second

// The demo's client and chat, as the integration knows them.
const (
	demoConversation = "demo-chat-1"
	demoClientID     = "demo-client-1"
	demoClientName   = "Anna Petrova"
	demoPhone        = "+79151112233"
)

// runDemo runs the receiver against a fake amoCRM in this process: the
// integration connects and creates a chat, a manager writes, the receiver
// echoes, and the histories are printed.
func runDemo(ctx context.Context, cfg config, fake *amojotest.Server, out, errOut io.Writer) int {
	defer fake.Close()
	fmt.Fprintf(out, "No AMOJO_CHANNEL_ID set: using a fake amoCRM in this process (%s).\n", fake.URL)
	chats, crm := fake.Client(), fake.CRMClient()

	conn, err := connect(ctx, chats, crm, "", cfg.title)
	if err != nil {
		fmt.Fprintf(errOut, "%s: connect: %s\n", prog, oneLine(err))
		return exitFailed
	}
	fmt.Fprintf(out, "Connected channel %s to account %s.\n", chats.ChannelID(), conn.AccountID)

	inbox, closeInbox, err := openInbox(ctx, cfg)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %s\n", prog, oneLine(err))
		return exitFailed
	}
	defer closeInbox()
	handled := make(chan handledEvent, 16)
	e := &echoer{client: chats, now: time.Now, out: out,
		handled: func(ev *amojo.WebhookEvent, err error) { handled <- handledEvent{ev, err} }}
	r, err := listen(cfg.addr, fake.Channel().Secret, inbox, e, errOut)
	if err != nil {
		fmt.Fprintf(errOut, "%s: listen: %s\n", prog, oneLine(err))
		return exitFailed
	}
	fmt.Fprintf(out, "Receiving webhooks at %s; they wait in %s.\n\n", r.webhookURL(), describeInbox(cfg))
	code := demo(ctx, fake, chats, conn.ScopeID, r.webhookURL(), handled, out, errOut)
	if err := r.stop(); err != nil {
		fmt.Fprintf(errOut, "%s: stopping: %s\n", prog, oneLine(err))
		code = exitFailed
	}
	return code
}

// demo plays the manager's side and prints the result.
func demo(ctx context.Context, fake *amojotest.Server, chats *amojo.Client, scopeID, hookURL string, handled <-chan handledEvent, out, errOut io.Writer) int {
	fail := func(what string, err error) int {
		fmt.Fprintf(errOut, "%s: %s: %s\n", prog, what, oneLine(err))
		return exitFailed
	}
	if err := fake.SetWebhookURL(chats.ChannelID(), hookURL); err != nil {
		return fail("registering the webhook URL", err)
	}

	// The integration's side: a client writes in, which creates the chat.
	chat, err := chats.CreateChat(ctx, scopeID, amojo.CreateChatRequest{
		ConversationID: demoConversation,
		User:           amojo.Participant{ID: demoClientID, Name: demoClientName},
	})
	if err != nil {
		return fail("creating the chat", err)
	}
	client := amojo.Participant{ID: demoClientID, Name: demoClientName}
	hello := amojo.IncomingMessage("demo-hello", demoConversation, time.Now(), client, amojo.Text{Text: "Hi! Is my order on its way?"})
	if _, err := chats.SendMessage(ctx, scopeID, hello); err != nil {
		return fail("sending the client's first message", err)
	}

	// The manager's side, through the fake: each reply is a signed webhook.
	manager := amojotest.DefaultAccount().Users[0].AmojoID
	replies := []amojotest.ManagerMessage{
		{UserID: manager, Text: "Hello Anna! Let me check."},
		{UserID: manager, Type: "picture", Text: "Here is the parcel.", Media: "https://example.com/parcel.jpg", FileName: "parcel.jpg", FileSize: 48213},
		{UserID: manager, Text: "It arrives tomorrow."},
	}
	for _, m := range replies {
		if err := managerSays(ctx, fake, scopeID, chat.ID, m, handled); err != nil {
			return fail("manager reply", err)
		}
	}

	// A manager writes first to a phone number the integration never saw.
	wfChat, _, err := fake.StartChat(scopeID, demoPhone, "Boris")
	if err != nil {
		return fail("starting a chat from the CRM", err)
	}
	if err := managerSays(ctx, fake, scopeID, wfChat, amojotest.ManagerMessage{UserID: manager, Text: "Good afternoon, Boris! Your card is ready."}, handled); err != nil {
		return fail("manager writing first", err)
	}

	for _, c := range []struct{ id, title string }{
		{chat.ID, "Chat " + demoConversation},
		{wfChat, "Chat the manager started with " + demoPhone},
	} {
		if err := printHistory(ctx, out, chats, scopeID, c.id, c.title); err != nil {
			return fail("reading the history", err)
		}
	}
	fmt.Fprintf(out, "\namoCRM received %d read receipts.\n", len(fake.RequestsTo(amojotest.RouteDeliveryStatus)))
	return exitOK
}

// handledEvent is an event the receiver dealt with, and how that went.
type handledEvent struct {
	ev  *amojo.WebhookEvent
	err error
}

// managerSays sends one manager message and waits until the receiver dealt
// with it. Other events (left in an inbox file by an earlier run) are not
// waited for.
func managerSays(ctx context.Context, fake *amojotest.Server, scopeID, chatID string, m amojotest.ManagerMessage, handled <-chan handledEvent) error {
	res, err := fake.ManagerReply(ctx, scopeID, chatID, m)
	if err != nil {
		return err
	}
	t := time.NewTimer(demoWait)
	defer t.Stop()
	for {
		select {
		case h := <-handled:
			if h.ev.Message != nil && h.ev.Message.Message.ID == res.MessageID {
				return h.err
			}
		case <-t.C:
			return fmt.Errorf("the receiver did not handle the webhook within %v", demoWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// printHistory prints a chat oldest first: time, who, what.
func printHistory(ctx context.Context, out io.Writer, chats *amojo.Client, scopeID, chatID, title string) error {
	var msgs []amojo.HistoryMessage
	for m, err := range chats.AllHistory(ctx, scopeID, chatID, amojo.HistoryOptions{}) {
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	slices.Reverse(msgs) // amojo serves newest first
	fmt.Fprintf(out, "\n%s (amojo chat %s):\n", title, chatID)
	for _, m := range msgs {
		fmt.Fprintf(out, "  %s  %-18s %s\n", m.Time.Local().Format("15:04:05"), nameOf(m.Sender), describe(m.Message))
	}
	return nil
}
