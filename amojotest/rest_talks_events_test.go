package amojotest_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

// downReceiver is a webhook receiver that answers 503: the integration is
// down, and amojo's webhooks are lost.
func downReceiver(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hooks/:scope_id"
}

// chatWithContact sends an incoming message in a new chat, creates a contact
// and links the chat to it. It returns the chat id and the contact id.
func chatWithContact(t *testing.T, e *env, scope string) (string, int) {
	t.Helper()
	r := e.incoming(scope, "conv-1", "m-1", "Hello", e.clock.Now())
	mustStatus(t, r, 200)
	chatID := r.json(t)["new_message"].(map[string]any)["conversation_id"].(string)
	r = e.rest("POST", "/api/v4/contacts", "", []map[string]any{{"name": "Client"}}, e.srv.Token())
	mustStatus(t, r, 200)
	contactID := int(embedded(t, r, "contacts")[0]["id"].(float64))
	mustStatus(t, e.rest("POST", "/api/v4/contacts/chats", "", []map[string]any{{"chat_id": chatID, "contact_id": contactID}}, e.srv.Token()), 200)
	return chatID, contactID
}

func TestEventsRecordedForChatMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit, amojotest.WithSequentialIDs(), amojotest.WithWebhookURL(downReceiver(t)))
	scope := e.connect()
	chatID, contactID := chatWithContact(t, e, scope)
	e.clock.Add(time.Minute)
	res, err := e.srv.ManagerReply(t.Context(), scope, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Hi"})
	if err == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("webhook delivered? %+v %v", res, err)
	}
	chat, _ := e.srv.Chat(chatID)
	in, out := chat.Messages[0], chat.Messages[1]
	want := []amojotest.Event{
		{ID: "01amojotest00000000000001", AccountID: amojotest.DefaultAccountID, Type: amojotest.EventIncomingChatMessage, MessageID: in.ID,
			ChatID: chatID, ContactID: contactID, CreatedAt: t0},
		{ID: "01amojotest00000000000002", AccountID: amojotest.DefaultAccountID, Type: amojotest.EventOutgoingChatMessage, MessageID: out.ID,
			ChatID: chatID, ContactID: contactID, CreatedBy: amojotest.DefaultManagerID, CreatedAt: t0.Add(time.Minute)},
	}
	if got := e.srv.Events(); !reflect.DeepEqual(got, want) {
		t.Errorf("Events()\n got %+v\nwant %+v", got, want)
	}
	// The REST list: newest first, the message id in value_after, filtered
	// by type, contact and time.
	tok := e.srv.Token()
	r := e.rest("GET", "/api/v4/events", "filter[type][]=outgoing_chat_message&filter[entity][]=contact", nil, tok)
	list := embedded(t, r, "events")
	if len(list) != 1 || list[0]["entity_type"] != "contact" || list[0]["entity_id"] != float64(contactID) ||
		list[0]["created_by"] != float64(amojotest.DefaultManagerID) || list[0]["account_id"] != float64(amojotest.DefaultAccountNum) {
		t.Fatalf("outgoing %s", r.body)
	}
	if va := list[0]["value_after"].([]any)[0].(map[string]any)["message"].(map[string]any)["id"]; va != out.ID {
		t.Errorf("value_after message id %v, want %s", va, out.ID)
	}
	for _, tc := range []struct {
		query string
		n     int
	}{
		{"", 2},
		{"filter[entity][]=contact&filter[entity_id][]=" + strconv.Itoa(contactID), 2},
		{"filter[entity][]=contact&filter[entity_id][]=1", 0},
		{"filter[created_at][from]=" + strconv.Itoa(int(t0.Unix())+30), 1},
		{"filter[created_at][to]=" + strconv.Itoa(int(t0.Unix())), 1},
		{"filter[created_at]=" + strconv.Itoa(int(t0.Unix())), 1},
		{"filter[created_by][]=" + strconv.Itoa(amojotest.DefaultManagerID), 1},
		{"filter[entity][]=lead", 0},
	} {
		r := e.rest("GET", "/api/v4/events", tc.query, nil, tok)
		if tc.n == 0 {
			mustStatus(t, r, 204)
			continue
		}
		if got := len(embedded(t, r, "events")); got != tc.n {
			t.Errorf("%s: %d events, want %d", tc.query, got, tc.n)
		}
	}
	first := embedded(t, e.rest("GET", "/api/v4/events", "limit=1", nil, tok), "events")[0]
	if first["type"] != "outgoing_chat_message" {
		t.Errorf("not newest first: %v", first)
	}
	for _, bad := range []string{"limit=101", "page=0", "filter[entity_id][]=1", "filter[entity][]=contact&filter[entity][]=lead&filter[entity_id][]=1", "filter[entity][]=deal"} {
		problemOf(t, e.rest("GET", "/api/v4/events", bad, nil, tok), 400)
	}
	mustStatus(t, e.rest("GET", "/api/v4/events/01amojotest00000000000002", "", nil, tok), 200)
	problemOf(t, e.rest("GET", "/api/v4/events/nope", "", nil, tok), 404)
}

// amoCRM files chat events under the talk's lead once there is one, yet
// finds them by the contact filter; a chat linked later names its contact.
func TestEventsOfALeadAndOfALateLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit, amojotest.WithWebhookURL(downReceiver(t)))
	scope := e.connect()
	mustStatus(t, e.incoming(scope, "conv-1", "m-1", "Hello", e.clock.Now()), 200)
	if ev := e.srv.Events(); len(ev) != 1 || ev[0].ContactID != 0 {
		t.Fatalf("unlinked chat: %+v", ev)
	}
	talks := e.srv.Talks()
	if len(talks) != 1 || !talks[0].InWork || talks[0].Origin != amojotest.DefaultChannelCode {
		t.Fatalf("talks %+v", talks)
	}
	chatID := talks[0].ChatID
	r := e.rest("POST", "/api/v4/contacts", "", []map[string]any{{"name": "Client"}}, e.srv.Token())
	contactID := int(embedded(t, r, "contacts")[0]["id"].(float64))
	mustStatus(t, e.rest("POST", "/api/v4/contacts/chats", "", []map[string]any{{"chat_id": chatID, "contact_id": contactID}}, e.srv.Token()), 200)
	if ev := e.srv.Events(); ev[0].ContactID != contactID || e.srv.Talks()[0].ContactID != contactID {
		t.Errorf("late link not resolved: %+v %+v", ev, e.srv.Talks())
	}
	if err := e.srv.LinkTalkToLead(talks[0].ID, 99120); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ManagerReply(t.Context(), scope, chatID, amojotest.ManagerMessage{Text: "From the bot"}); err == nil {
		t.Fatal("webhook delivered")
	}
	list := embedded(t, e.rest("GET", "/api/v4/events", "filter[entity][]=contact&filter[entity_id][]="+strconv.Itoa(contactID), nil, e.srv.Token()), "events")
	if len(list) != 2 {
		t.Fatalf("%d events", len(list))
	}
	if l := list[0]; l["entity_type"] != "lead" || l["entity_id"] != float64(99120) || l["linked_talk_contact_id"] != float64(contactID) || l["created_by"] != float64(0) {
		t.Errorf("lead event %v", l)
	}
	if l := list[1]; l["entity_type"] != "contact" || l["linked_talk_contact_id"] != nil {
		t.Errorf("contact event %v", l)
	}
	if got := len(embedded(t, e.rest("GET", "/api/v4/events", "filter[entity][]=lead", nil, e.srv.Token()), "events")); got != 1 {
		t.Errorf("lead filter: %d", got)
	}
}

func TestTalkCloseSemantics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	chatID, contactID := chatWithContact(t, e, scope)
	tok := e.srv.Token()
	talk := e.rest("GET", "/api/v4/talks/5001", "", nil, tok).json(t)
	if talk["talk_id"] != float64(5001) || talk["chat_id"] != chatID || talk["contact_id"] != float64(contactID) || talk["is_in_work"] != true ||
		talk["entity_id"] != nil || talk["account_id"] != float64(amojotest.DefaultAccountNum) {
		t.Errorf("talk %v", talk)
	}
	problemOf(t, e.rest("GET", "/api/v4/talks/1", "", nil, tok), 404)
	problemOf(t, e.rest("POST", "/api/v4/talks/1/close", "", nil, tok), 404)
	problemOf(t, e.rest("POST", "/api/v4/talks/5001/close", "", map[string]any{"force_close": "yes"}, tok), 400)

	// NPS bot on: a plain close starts it; the talk stays in work and a
	// second close is refused until the client rates.
	e.srv.SetNPSBot(true)
	r := e.rest("POST", "/api/v4/talks/5001/close", "", map[string]any{"force_close": false}, tok)
	mustStatus(t, r, 202)
	if len(r.body) != 0 {
		t.Errorf("202 body %q", r.body)
	}
	if got := e.srv.Talks()[0]; !got.InWork || !got.Closing {
		t.Errorf("after NPS close %+v", got)
	}
	problemOf(t, e.rest("POST", "/api/v4/talks/5001/close", "", map[string]any{"force_close": true}, tok), 422)
	if err := e.srv.RateTalk(5001, 9); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Talks()[0]; got.InWork || got.Closing || got.Rate != 9 {
		t.Errorf("after rating %+v", got)
	}
	problemOf(t, e.rest("POST", "/api/v4/talks/5001/close", "", nil, tok), 422)

	// The next message opens a new talk; force_close closes it at once.
	mustStatus(t, e.incoming(scope, "conv-1", "m-2", "Again", e.clock.Now()), 200)
	talks := e.srv.Talks()
	if len(talks) != 2 || talks[1].ID != 5002 || !talks[1].InWork {
		t.Fatalf("talks %+v", talks)
	}
	mustStatus(t, e.rest("POST", "/api/v4/talks/5002/close", "", map[string]any{"force_close": true}, tok), 202)
	if got := e.srv.Talks()[1]; got.InWork || got.Closing {
		t.Errorf("forced %+v", got)
	}
	if err := e.srv.RateTalk(5002, 5); err == nil {
		t.Error("RateTalk of a talk without a bot")
	}
}

func TestRateLimitBlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithRateLimit(1, 1), amojotest.WithRateLimitBlock(3, time.Minute))
	tok := e.srv.Token()
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	for i := 0; i < 2; i++ {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	}
	// 429s older than the window are forgotten.
	e.clock.Add(2 * time.Minute)
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	for i := 0; i < 2; i++ {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	}
	if e.srv.Blocked(amojotest.DefaultAccountID) {
		t.Fatal("blocked after 2 429s in the window")
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	if !e.srv.Blocked(amojotest.DefaultAccountID) {
		t.Fatal("not blocked after 3 429s in a minute")
	}
	e.clock.Add(time.Hour)
	r := e.rest("GET", "/api/v4/sources", "", nil, tok)
	mustStatus(t, r, 403)
	if ct := r.header.Get("Content-Type"); ct != "text/html" || !strings.Contains(string(r.body), "<h1>403 Forbidden</h1>") || r.header.Get("X-Request-Id") != "" {
		t.Errorf("block page %q %q %q", ct, r.body, r.header.Get("X-Request-Id"))
	}
	if err := e.srv.SetBlocked(amojotest.DefaultAccountID, false); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	if err := e.srv.SetBlocked("nope", true); err == nil {
		t.Error("unknown account blocked")
	}
}

// Without WithRateLimitBlock, 429s never turn into a block.
func TestNoBlockByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithRateLimit(1, 1))
	for i := 0; i < 50; i++ {
		e.rest("GET", "/api/v4/account", "", nil, e.srv.Token())
	}
	if e.srv.Blocked(amojotest.DefaultAccountID) {
		t.Error("blocked by default")
	}
}
