package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
)

// eventTimeout bounds the work done for one webhook event.
const eventTimeout = 30 * time.Second

// echoer answers webhooks: each manager message is marked read and echoed
// back into its chat as a message from the client.
type echoer struct {
	client *amojo.Client
	now    func() time.Time
	out    io.Writer
	// handled, when set, is told about every event once it is dealt with.
	handled func(ev *amojo.WebhookEvent, err error)
}

// handle is the WebhookHandler callback.
func (e *echoer) handle(ctx context.Context, ev *amojo.WebhookEvent) error {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	err := e.dispatch(ctx, ev)
	if e.handled != nil {
		e.handled(ev, err)
	}
	return err
}

func (e *echoer) dispatch(ctx context.Context, ev *amojo.WebhookEvent) error {
	switch ev.Kind {
	case amojo.EventMessage:
		return e.echo(ctx, ev)
	case amojo.EventTyping:
		fmt.Fprintf(e.out, "typing    user %s in chat %s\n", ev.Typing.User.ID, ev.Typing.Conversation.ID)
	case amojo.EventReaction:
		r := ev.Reaction
		if r.Removed() {
			fmt.Fprintf(e.out, "reaction  user %s took back the reaction on %s\n", r.User.ID, r.MessageID)
		} else {
			fmt.Fprintf(e.out, "reaction  user %s reacted %s on %s\n", r.User.ID, r.Emoji, r.MessageID)
		}
	default: // comments and unknown webhooks: nothing to echo
		fmt.Fprintf(e.out, "%-9s ignored\n", ev.Kind)
	}
	return nil
}

// echo marks the manager's message read and answers it as the client.
func (e *echoer) echo(ctx context.Context, ev *amojo.WebhookEvent) error {
	m := ev.Message
	channelID, _, ok := amojo.SplitScopeID(ev.ScopeID)
	if !ok || channelID != e.client.ChannelID() {
		return fmt.Errorf("webhook for scope %q, which is not of this channel", ev.ScopeID)
	}
	if err := e.client.MarkRead(ctx, ev); err != nil {
		return fmt.Errorf("marking message %s read: %w", m.Message.ID, err)
	}
	// Ids derived from amojo's ids, never random: a repeated webhook (or a
	// retried send) cannot make a second echo.
	msgID := "echo-" + m.Message.ID
	client := amojo.Participant{ID: m.Receiver.ClientID, Name: m.Receiver.Name}
	if client.ID == "" { // a chat the manager started: the client is new to us
		client.ID = "client-" + m.Receiver.ID
	}
	if client.Name == "" {
		client.Name = m.Receiver.Phone
	}
	if m.Receiver.Phone != "" || m.Receiver.Email != "" {
		client.Profile = &amojo.Profile{Phone: m.Receiver.Phone, Email: m.Receiver.Email}
	}
	text := "echo: " + describe(m.Message)
	reply := m.ClientReply(msgID, e.now(), "chat-"+m.Conversation.ID, client, amojo.Text{Text: text})
	if _, err := e.client.SendMessage(ctx, ev.ScopeID, reply); err != nil {
		return fmt.Errorf("echoing message %s: %w", m.Message.ID, err)
	}
	how := "echoed"
	if m.WriteFirst() {
		how = "echoed into the new conversation " + reply.ConversationID
	}
	fmt.Fprintf(e.out, "message   %s → %s: %q — marked read, %s\n", nameOf(m.Sender), nameOf(m.Receiver), describe(m.Message), how)
	return nil
}

// describe renders a message's content in one line: its text, and for
// attachments the kind and file name.
func describe(m amojo.ReceivedMessage) string {
	var parts []string
	if m.Type != "" && m.Type != amojo.TypeText {
		att := "[" + string(m.Type)
		if m.FileName != "" {
			att += " " + m.FileName
		}
		parts = append(parts, att+"]")
	}
	if t := strings.Join(strings.Fields(m.Text), " "); t != "" {
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// nameOf names a participant for people: the name, else the phone, else the id.
func nameOf(u amojo.ChatUser) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Phone != "":
		return u.Phone
	}
	return u.ID
}

// reportTo returns the handler's error callback: one line on w per webhook
// that was not handled.
func reportTo(w io.Writer) func(*amojo.WebhookEvent, error) {
	return func(ev *amojo.WebhookEvent, err error) {
		switch {
		case ev == nil:
			fmt.Fprintf(w, "%s: webhook refused: %s\n", prog, oneLine(err))
		case errors.Is(err, amojo.ErrWebhookQueueFull), errors.Is(err, amojo.ErrWebhookClosed):
			fmt.Fprintf(w, "%s: %s webhook lost: %s\n", prog, ev.Kind, oneLine(err))
		default:
			fmt.Fprintf(w, "%s: %s webhook: %s\n", prog, ev.Kind, oneLine(err))
		}
	}
}

// lockedWriter serialises writes from the handler's workers and the main
// goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
