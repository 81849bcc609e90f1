package amojo_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// These tests run the SDK against amojotest, whose request checks are written
// independently of the SDK (its own signature check and JSON reading), so the
// two only agree when both follow the documented wire format.

func connectFake(t *testing.T, srv *amojotest.Server, client *amojo.Client) string {
	t.Helper()
	conn, err := client.Connect(t.Context(), amojo.ConnectRequest{AccountID: srv.Account().AmojoID, Title: "E2E"})
	if err != nil {
		t.Fatal(err)
	}
	return conn.ScopeID
}

func TestEveryEndpointAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	client := srv.Client(amojo.WithRetry(amojo.NoRetry()))
	ctx := t.Context()
	scope := connectFake(t, srv, client)

	customer := amojo.Participant{ID: "cust-1", Name: "Customer", Avatar: "https://example.com/a.png",
		Profile: &amojo.Profile{Phone: "+79151112233", Email: "c@example.com"}, ProfileLink: "https://example.com/u/1"}
	chat, err := client.CreateChat(ctx, scope, amojo.CreateChatRequest{ConversationID: "conv-1", User: customer, Source: &amojo.Source{ExternalID: "78001234567"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.CreateChat(ctx, scope, amojo.CreateChatRequest{ConversationID: "conv-1", User: customer})
	if err != nil || again.ID != chat.ID {
		t.Fatalf("create chat is not idempotent: %v %v", again, err)
	}

	user := srv.Account().Users[0]
	manager := amojo.Participant{ID: "mgr-1", RefID: user.AmojoID, Name: user.Name}
	bot := srv.Channel().Bot
	at := time.Date(2024, 3, 1, 9, 0, 0, 123_000_000, time.UTC)
	kinds := []amojo.Content{
		amojo.Text{Text: "text"},
		amojo.Picture{URL: "https://example.com/p.jpg", FileName: "p.jpg", FileSize: 1000, Caption: "a picture"},
		amojo.File{URL: "https://example.com/f.pdf", FileName: "f.pdf", FileSize: 2000},
		amojo.Video{URL: "https://example.com/v.mp4", FileName: "v.mp4", FileSize: 3000, Duration: 12 * time.Second},
		amojo.Voice{URL: "https://example.com/v.ogg", Duration: 3 * time.Second},
		amojo.Audio{URL: "https://example.com/a.mp3", FileName: "a.mp3", FileSize: 4000, Duration: time.Minute},
		amojo.Sticker{URL: "https://example.com/s.webp", StickerID: "st-1"},
		amojo.Location{Point: amojo.GeoPoint{Lon: 37.6176, Lat: 55.7558}, Text: "Moscow"},
		amojo.SharedContact{Card: amojo.ContactInfo{Name: "Friend", Phone: "+79990000000"}},
	}
	var msgs []amojo.Message
	for i, k := range kinds {
		id := string(rune('a'+i)) + "-msg"
		ts := at.Add(time.Duration(i) * time.Minute)
		switch i % 3 {
		case 0:
			msgs = append(msgs, amojo.IncomingMessage("in-"+id, "conv-1", ts, customer, k))
		case 1:
			msgs = append(msgs, amojo.ManagerMessage("mgr-"+id, "conv-1", ts, manager, customer, k))
		default:
			msgs = append(msgs, amojo.BotMessage("bot-"+id, "conv-1", ts, bot.ID, customer, k))
		}
	}
	reply := amojo.IncomingMessage("in-reply", "conv-1", at.Add(time.Hour), customer, amojo.Text{Text: "quoting"})
	reply.ReplyTo = &amojo.EmbeddedMessage{MsgID: msgs[0].MsgID}
	msgs = append(msgs, reply)

	sentIDs := map[string]string{}
	for _, m := range msgs {
		m.Silent = true
		sent, err := client.SendMessage(ctx, scope, m)
		if err != nil {
			t.Fatalf("%s (%s): %v", m.MsgID, m.Content.Type(), err)
		}
		if sent.RefID != m.MsgID || sent.ConversationID != chat.ID || sent.MsgID == "" {
			t.Errorf("%s: sent = %+v", m.MsgID, sent)
		}
		sentIDs[m.MsgID] = sent.MsgID
	}

	// A duplicate msgid is refused by the server, not retried.
	if _, err := client.SendMessage(ctx, scope, msgs[0]); !isAPIStatus(err, http.StatusBadRequest) {
		t.Errorf("duplicate msgid: %v", err)
	}

	edit := amojo.MessageEdit{MsgID: msgs[0].MsgID, ConversationID: "conv-1", Time: at.Add(2 * time.Hour), Content: amojo.Text{Text: "text, edited"}}
	if _, err := client.EditMessage(ctx, scope, edit); err != nil {
		t.Fatalf("edit: %v", err)
	}
	if err := client.Typing(ctx, scope, amojo.TypingRequest{ConversationID: "conv-1", SenderID: customer.ID, Duration: 3 * time.Second}); err != nil {
		t.Fatalf("typing: %v", err)
	}
	reaction := amojo.Reaction{ConversationID: "conv-1", MsgID: msgs[1].MsgID, User: amojo.ParticipantRef{ID: customer.ID}, Emoji: "👍"}
	if err := client.React(ctx, scope, reaction); err != nil {
		t.Fatalf("react: %v", err)
	}
	if err := client.Unreact(ctx, scope, reaction); err != nil {
		t.Fatalf("unreact: %v", err)
	}
	if err := client.SetDeliveryStatus(ctx, scope, sentIDs[msgs[1].MsgID], amojo.DeliveryStatus{Status: amojo.DeliveryRead}); err != nil {
		t.Fatalf("delivery status: %v", err)
	}
	failed := amojo.DeliveryStatus{Status: amojo.DeliveryFailed, ErrorCode: amojo.DeliveryErrorOther, Error: "blocked"}
	if err := client.SetDeliveryStatus(ctx, scope, sentIDs[msgs[2].MsgID], failed); err != nil {
		t.Fatalf("delivery status -1: %v", err)
	}
	if err := client.SetDeliveryStatus(ctx, scope, "no-such-message", failed); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}

	// History, newest first, through pages of 4.
	var got []amojo.HistoryMessage
	for m, err := range client.AllHistory(ctx, scope, chat.ID, amojo.HistoryOptions{Limit: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != len(msgs) {
		t.Fatalf("history has %d messages, want %d", len(got), len(msgs))
	}
	for i, m := range got {
		want := msgs[len(msgs)-1-i]
		if m.Message.ClientID != want.MsgID || m.Message.Type != want.Content.Type() || !m.Time.Equal(want.Time) {
			t.Errorf("history[%d] = %s %s %v, want %s %s %v", i, m.Message.ClientID, m.Message.Type, m.Time, want.MsgID, want.Content.Type(), want.Time)
		}
		if (want.Receiver == nil) != (m.Receiver == nil) {
			t.Errorf("history[%d]: receiver %v for %s", i, m.Receiver, want.MsgID)
		}
	}
	stored, _ := srv.Chat(chat.ID)
	if stored.Messages[1].DeliveryStatus != 2 || stored.Messages[2].DeliveryError != "blocked" || stored.Messages[0].Text != "text, edited" || stored.Typing != 1 {
		t.Errorf("stored state: %+v", stored.Messages[:3])
	}

	if err := client.Disconnect(ctx, srv.Account().AmojoID); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if _, err := client.History(ctx, scope, chat.ID, amojo.HistoryOptions{}); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("history after disconnect: %v", err)
	}
}

func isAPIStatus(err error, status int) bool {
	var ae *amojo.APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}

func TestCRMCallsAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	client, crm := srv.Client(), srv.CRMClient()
	ctx := t.Context()

	acc, err := crm.Account(ctx)
	if err != nil || acc.AmojoID != srv.Account().AmojoID {
		t.Fatalf("account = %+v, %v", acc, err)
	}
	users, err := crm.Users(ctx)
	if err != nil || len(users) != len(srv.Account().Users) || users[0].AmojoID == "" {
		t.Fatalf("users = %+v, %v", users, err)
	}
	scope := connectFake(t, srv, client)
	chat, err := client.CreateChat(ctx, scope, amojo.CreateChatRequest{ConversationID: "conv-9", User: amojo.Participant{ID: "u9", Name: "Nine"}})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := crm.CreateContacts(ctx, []amojo.NewContact{{
		FirstName: "Jack", LastName: "Tester",
		Phones: []amojo.ContactPhone{{Value: "+79151112233", Enum: amojo.PhoneMobile}},
		Emails: []amojo.ContactEmail{{Value: "jack@example.com", Enum: amojo.EmailPrivate}},
		Tags:   []string{"import"},
	}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("contacts = %v, %v", ids, err)
	}
	link, err := crm.LinkChat(ctx, chat.ID, ids[0])
	if err != nil || link.ChatID != chat.ID || link.ContactID != ids[0] {
		t.Fatalf("link = %+v, %v", link, err)
	}
	links, err := crm.ChatLinks(ctx, amojo.ChatLinkFilter{ChatIDs: []string{chat.ID}})
	if err != nil || len(links) != 1 || links[0].ContactID != ids[0] {
		t.Fatalf("links = %+v, %v", links, err)
	}
	none, err := crm.ChatLinks(ctx, amojo.ChatLinkFilter{ContactIDs: []int64{999}})
	if err != nil || len(none) != 0 {
		t.Fatalf("links of an unknown contact = %+v, %v", none, err)
	}
	c := srv.Contacts()[0]
	if len(c.Phones) != 1 || c.Phones[0].Value != "+79151112233" || c.Phones[0].EnumCode != "MOB" || len(c.Tags) != 1 {
		t.Errorf("stored contact = %+v", c)
	}

	bad, err := amojo.NewCRMClient(srv.CRMURL, amojo.StaticToken("expired"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Account(ctx); !errors.Is(err, amojo.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}
}

func TestRetriesAgainstFakeFaults(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	client := srv.Client(amojo.WithRetry(amojo.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxRetryAfter: time.Second}))
	ctx := t.Context()
	scope := connectFake(t, srv, client)
	customer := amojo.Participant{ID: "c", Name: "C"}
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

	srv.FailNext(amojotest.RouteMessage, 2, http.StatusServiceUnavailable, "")
	if _, err := client.SendMessage(ctx, scope, amojo.IncomingMessage("m1", "conv", at, customer, amojo.Text{Text: "1"})); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	srv.DropNext(amojotest.RouteMessage, 1)
	if _, err := client.SendMessage(ctx, scope, amojo.IncomingMessage("m2", "conv", at, customer, amojo.Text{Text: "2"})); err != nil {
		t.Fatalf("after a dropped connection: %v", err)
	}
	// The server stored the message but the answer was lost: the retry
	// meets the duplicate msgid, which the caller sees as a 400.
	srv.DropNextResponse(amojotest.RouteMessage, 1)
	_, err := client.SendMessage(ctx, scope, amojo.IncomingMessage("m3", "conv", at, customer, amojo.Text{Text: "3"}))
	var ae *amojo.APIError
	if !errors.As(err, &ae) || ae.Code != amojotest.ErrCodeDuplicateMsgID {
		t.Fatalf("retry after a lost answer: %v", err)
	}
	srv.FailNext(amojotest.RouteMessage, 5, http.StatusForbidden, "")
	if _, err := client.SendMessage(ctx, scope, amojo.IncomingMessage("m4", "conv", at, customer, amojo.Text{Text: "4"})); !errors.Is(err, amojo.ErrInvalidSignature) {
		t.Fatalf("403: %v", err)
	}
	if n := len(srv.RequestsTo(amojotest.RouteMessage)); n != 3+2+2+1 {
		t.Errorf("%d message requests, want 8", n)
	}

	// A client with the wrong secret is refused with 403 and not retried.
	wrong, err := amojo.NewClient(srv.Channel().ID, "0000000000000000000000000000000000000000", amojo.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.SendMessage(ctx, scope, amojo.IncomingMessage("m5", "conv", at, customer, amojo.Text{Text: "5"})); !errors.Is(err, amojo.ErrInvalidSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
}
