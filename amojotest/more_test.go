package amojotest_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

// TestWriteFirstFlow runs chats-api §7.5: a manager writes first to a phone
// number, the client answers, the integration binds the chat.
func TestWriteFirstFlow(t *testing.T) {
	t.Parallel()
	e, h, scope := newHookEnv(t)
	chatID, partID, err := e.srv.StartChat(scope, "+79990001122", "New client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ManagerReply(t.Context(), scope, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Hi!"}); err != nil {
		t.Fatal(err)
	}
	msg := h.last().body["message"].(map[string]any)
	if conv := msg["conversation"].(map[string]any); conv["id"] != chatID || conv["client_id"] != nil {
		t.Errorf("conversation %v", conv)
	}
	if rc := msg["receiver"].(map[string]any); rc["id"] != partID || rc["phone"] != "+79990001122" || rc["client_id"] != nil {
		t.Errorf("receiver %v", rc)
	}
	r := e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": map[string]any{
		"timestamp": t0.Unix(), "msgid": "answer-1", "conversation_id": "wa-79990001122", "conversation_ref_id": chatID,
		"sender":  map[string]any{"id": "wa-client", "ref_id": partID},
		"message": map[string]any{"type": "text", "text": "Hello"},
	}})
	mustStatus(t, r, 200)
	nm := r.json(t)["new_message"].(map[string]any)
	if nm["conversation_id"] != chatID || nm["sender_id"] != partID {
		t.Errorf("answer %s", r.body)
	}
	ch, ok := e.srv.ChatByConversation(scope, "wa-79990001122")
	if !ok || ch.ID != chatID || ch.Client.ClientID != "wa-client" || len(ch.Messages) != 2 {
		t.Errorf("bound chat %+v", ch)
	}
	// Later messages need only the conversation id.
	mustStatus(t, e.incoming(scope, "wa-79990001122", "answer-2", "again", t0), 200)
	if _, _, err := e.srv.StartChat("nope", "1", "x"); err == nil {
		t.Error("StartChat on an unknown scope")
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				te := &env{t: t, srv: e.srv, clock: e.clock}
				if r := te.incoming(scope, fmt.Sprint("conv-", g%3), fmt.Sprintf("m-%d-%d", g, i), "x", t0); r.status != 200 {
					t.Errorf("status %d %s", r.status, r.body)
				}
				te.rest("POST", "/api/v4/contacts", "", `[{"name":"x"}]`, e.srv.Token())
				e.srv.Chats(scope)
				e.srv.Requests()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, c := range e.srv.Chats(scope) {
		total += len(c.Messages)
	}
	if total != 80 || len(e.srv.Chats(scope)) != 3 || len(e.srv.Contacts()) != 80 {
		t.Errorf("%d messages in %d chats, %d contacts", total, len(e.srv.Chats(scope)), len(e.srv.Contacts()))
	}
	seen := map[int]bool{}
	for _, c := range e.srv.Contacts() {
		if seen[c.ID] {
			t.Fatalf("contact id %d twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestSequentialIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithSequentialIDs())
	scope := e.connect()
	nm := e.incoming(scope, "c", "m", "x", t0).json(t)["new_message"].(map[string]any)
	// Chat, participant, message, in that order.
	want := map[string]any{"conversation_id": "00000000-0000-4000-8000-000000000001", "sender_id": "00000000-0000-4000-8000-000000000002",
		"msgid": "00000000-0000-4000-8000-000000000003", "ref_id": "m"}
	for k, v := range want {
		if nm[k] != v {
			t.Errorf("%s = %v, want %v", k, nm[k], v)
		}
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	e := newEnv(t, amojotest.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	scope := e.connect()
	s := e.sign("GET", custom+scope+"/chats/x/history", "", nil)
	sig := s.header.Get("X-Signature")
	s.header.Set("Date", t0.Add(time.Hour).Format(time.RFC1123Z))
	mustStatus(t, e.send(s), 403)
	e.rest("GET", "/api/v4/account", "", nil, e.srv.Token())
	out := buf.String()
	for _, want := range []string{"route=history", "status=403", "refused signature", "15-minute window", "route=account"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{e.srv.Channel().Secret, sig, e.srv.Token()} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %q", secret)
		}
	}
}

// TestHistoryKinds checks the history shape of non-text messages and of a
// manager's message.
func TestHistoryKinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	send := func(msgid string, at int64, msg map[string]any) string {
		r := e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": map[string]any{
			"timestamp": at, "msgid": msgid, "conversation_id": "c",
			"sender": map[string]any{"id": "u", "name": "U"}, "message": msg,
		}})
		mustStatus(t, r, 200)
		return r.json(t)["new_message"].(map[string]any)["conversation_id"].(string)
	}
	send("loc", 100, map[string]any{"type": "location", "location": map[string]any{"lon": 37.6, "lat": 55.7}})
	send("card", 101, map[string]any{"type": "contact", "contact": map[string]any{"name": "A", "phone": "+7"}})
	chatID := send("voice", 102, map[string]any{"type": "voice", "media": "https://x/v.ogg", "media_duration": 4})
	r := e.amojo("GET", custom+scope+"/chats/"+chatID+"/history", "", nil)
	mustStatus(t, r, 200)
	var got struct {
		Messages []struct {
			Timestamp int64 `json:"timestamp"`
			Message   struct {
				ClientID      string             `json:"client_id"`
				Type          string             `json:"type"`
				MediaDuration int                `json:"media_duration"`
				Location      map[string]float64 `json:"location"`
				Contact       map[string]string  `json:"contact"`
			} `json:"message"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || len(got.Messages) != 3 {
		t.Fatalf("history %s: %v", r.body, err)
	}
	v, c, l := got.Messages[0].Message, got.Messages[1].Message, got.Messages[2].Message
	if v.Type != "voice" || v.MediaDuration != 4 || c.Contact["phone"] != "+7" || l.Location["lat"] != 55.7 || got.Messages[2].Timestamp != 100 {
		t.Errorf("history %s", r.body)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
