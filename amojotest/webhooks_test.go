package amojotest_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

// hookReceiver records the webhooks it gets and checks their signatures by
// hand.
type hookReceiver struct {
	t      *testing.T
	secret string
	status int
	mu     sync.Mutex
	got    []received
}

type received struct {
	path string
	body map[string]any
	ct   string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha1.New, []byte(h.secret))
	mac.Write(raw)
	if want := hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Signature") != want {
		h.t.Errorf("webhook X-Signature %q, want %q", r.Header.Get("X-Signature"), want)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Errorf("webhook body %q: %v", raw, err)
	}
	h.mu.Lock()
	h.got = append(h.got, received{path: r.URL.Path, body: m, ct: r.Header.Get("Content-Type")})
	h.mu.Unlock()
	w.WriteHeader(h.status)
}

func (h *hookReceiver) last() received {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		h.t.Fatal("no webhook received")
	}
	return h.got[len(h.got)-1]
}

func newHookEnv(t *testing.T) (*env, *hookReceiver, string) {
	t.Helper()
	h := &hookReceiver{t: t, secret: amojotest.DefaultChannelSecret, status: 200}
	rs := httptest.NewServer(h)
	t.Cleanup(rs.Close)
	e := newEnv(t, amojotest.WithWebhookURL(rs.URL+"/hooks/:scope_id"))
	return e, h, e.connect()
}

func TestManagerReply(t *testing.T) {
	t.Parallel()
	e, h, scope := newHookEnv(t)
	r := e.amojo("POST", custom+scope+"/chats", "", map[string]any{
		"conversation_id": "conv-1", "source": map[string]any{"external_id": "78001234567"},
		"user": map[string]any{"id": "client-1", "name": "Client", "profile": map[string]any{"phone": "+79151112233"}},
	})
	created := r.json(t)
	chatID := created["id"].(string)
	clientID := created["user"].(map[string]any)["id"]
	e.clock.Set(time.Unix(1639572261, 980e6))

	res, err := e.srv.ManagerReply(t.Context(), scope, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Hello from CRM"})
	if err != nil {
		t.Fatal(err)
	}
	got := h.last()
	if got.path != "/hooks/"+scope || got.ct != "application/json" {
		t.Errorf("posted to %s with %q", got.path, got.ct)
	}
	want := map[string]any{
		"account_id": amojotest.DefaultAccountID,
		"time":       float64(1639572261),
		"message": map[string]any{
			"receiver":       map[string]any{"id": clientID, "client_id": "client-1", "name": "Client", "phone": "+79151112233", "email": ""},
			"sender":         map[string]any{"id": amojotest.DefaultManagerAmojoID, "name": amojotest.DefaultManagerName},
			"conversation":   map[string]any{"id": chatID, "client_id": "conv-1"},
			"source":         map[string]any{"external_id": "78001234567"},
			"timestamp":      float64(1639572261),
			"msec_timestamp": float64(1639572261980),
			"message": map[string]any{"id": res.MessageID, "type": "text", "text": "Hello from CRM", "tag": "", "media": "",
				"thumbnail": "", "file_name": "", "file_size": float64(0)},
		},
	}
	if !reflect.DeepEqual(got.body, want) {
		gb, _ := json.Marshal(got.body)
		wb, _ := json.Marshal(want)
		t.Errorf("webhook\n got %s\nwant %s", gb, wb)
	}
	if res.StatusCode != 200 || res.Err != nil || res.Kind != amojotest.WebhookMessage || !strings.HasSuffix(res.URL, "/hooks/"+scope) {
		t.Errorf("result %+v", res)
	}
	// The reply is in the chat's history, newest first, with a receiver.
	hr := e.amojo("GET", custom+scope+"/chats/"+chatID+"/history", "", nil)
	mustStatus(t, hr, 200)
	item := hr.json(t)["messages"].([]any)[0].(map[string]any)
	if item["message"].(map[string]any)["id"] != res.MessageID || item["receiver"].(map[string]any)["client_id"] != "client-1" {
		t.Errorf("history %s", hr.body)
	}
	// The integration can report delivery of it.
	mustStatus(t, e.amojo("POST", custom+scope+"/"+res.MessageID+"/delivery_status", "", map[string]any{"msgid": res.MessageID, "delivery_status": 1}), 200)

	// The bot replies when no user is named.
	res, err = e.srv.ManagerReply(t.Context(), scope, chatID, amojotest.ManagerMessage{Type: "picture", Media: "https://example.com/p.png"})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.last().body["message"].(map[string]any)["sender"].(map[string]any); s["id"] != amojotest.DefaultBotID {
		t.Errorf("bot sender %v", s)
	}
	if len(e.srv.Webhooks()) != 2 {
		t.Errorf("Webhooks %+v", e.srv.Webhooks())
	}

	// Typing and reactions.
	_, err = e.srv.ManagerTyping(t.Context(), scope, chatID, amojotest.DefaultManagerAmojoID)
	if err != nil {
		t.Fatal(err)
	}
	typing := h.last().body["action"].(map[string]any)["typing"].(map[string]any)
	wantTyping := map[string]any{
		"user":         map[string]any{"id": amojotest.DefaultManagerAmojoID},
		"conversation": map[string]any{"id": chatID, "client_id": "conv-1"},
		"expired_at":   float64(1639572261 + 5),
	}
	if !reflect.DeepEqual(typing, wantTyping) {
		t.Errorf("typing %v", typing)
	}
	nm := e.incoming(scope, "conv-1", "m-1", "hi", time.Unix(1639572000, 0)).json(t)["new_message"].(map[string]any)
	msgID := nm["msgid"].(string)
	if _, err := e.srv.ManagerReaction(t.Context(), scope, chatID, msgID, amojotest.DefaultManagerAmojoID, "😍"); err != nil {
		t.Fatal(err)
	}
	reaction := h.last().body["action"].(map[string]any)["reaction"].(map[string]any)
	if reaction["type"] != "react" || reaction["emoji"] != "😍" || reaction["msgid"] != msgID ||
		reaction["message"].(map[string]any)["id"] != msgID || reaction["message"].(map[string]any)["client_id"] != "m-1" ||
		reaction["user"].(map[string]any)["id"] != amojotest.DefaultManagerAmojoID {
		t.Errorf("reaction %v", reaction)
	}
	if _, err := e.srv.ManagerReaction(t.Context(), scope, chatID, msgID, amojotest.DefaultManagerAmojoID, ""); err != nil {
		t.Fatal(err)
	}
	reaction = h.last().body["action"].(map[string]any)["reaction"].(map[string]any)
	if _, ok := reaction["emoji"]; ok || reaction["type"] != "unreact" {
		t.Errorf("unreact %v", reaction)
	}
	ch, _ := e.srv.Chat(chatID)
	for _, m := range ch.Messages {
		if m.ID == msgID && len(m.Reactions) != 0 {
			t.Errorf("reactions after unreact %v", m.Reactions)
		}
	}
}

func TestManagerReplyFailures(t *testing.T) {
	t.Parallel()
	e, h, scope := newHookEnv(t)
	chatID := e.incoming(scope, "conv", "m", "hi", t0).json(t)["new_message"].(map[string]any)["conversation_id"].(string)
	ctx := t.Context()
	m := amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "x"}

	// The receiver fails: the result and the error say so; no retry.
	h.status = 500
	res, err := e.srv.ManagerReply(ctx, scope, chatID, m)
	if err == nil || res.StatusCode != 500 || res.Err == nil {
		t.Errorf("500: %+v, %v", res, err)
	}
	if len(h.got) != 1 {
		t.Errorf("%d deliveries", len(h.got))
	}
	h.status = 200

	if _, err := e.srv.ManagerReply(ctx, scope, "nope", m); err == nil {
		t.Error("unknown chat accepted")
	}
	if _, err := e.srv.ManagerReply(ctx, "nope", chatID, m); err == nil {
		t.Error("unknown scope accepted")
	}
	if _, err := e.srv.ManagerReply(ctx, scope, chatID, amojotest.ManagerMessage{UserID: "stranger", Text: "x"}); err == nil {
		t.Error("unknown user accepted")
	}
	if _, err := e.srv.ManagerTyping(ctx, scope, chatID, amojotest.DefaultBotID+"x"); err == nil {
		t.Error("unknown typing user accepted")
	}
	if _, err := e.srv.ManagerReaction(ctx, scope, chatID, "nope", amojotest.DefaultManagerAmojoID, "x"); err == nil {
		t.Error("unknown message accepted")
	}

	// v1 connections get no webhooks.
	mustStatus(t, e.amojo("POST", custom+e.srv.Channel().ID+"/connect", "", map[string]any{"account_id": amojotest.DefaultAccountID, "hook_api_version": "v1"}), 200)
	if _, err := e.srv.ManagerReply(ctx, scope, chatID, m); err == nil {
		t.Error("v1 scope got a webhook")
	}
	// Nowhere to send.
	e2 := newEnv(t)
	scope2 := e2.connect()
	chat2 := e2.incoming(scope2, "conv", "m", "hi", t0).json(t)["new_message"].(map[string]any)["conversation_id"].(string)
	if _, err := e2.srv.ManagerReply(ctx, scope2, chat2, m); err == nil {
		t.Error("sent without a webhook URL")
	}
	// Unreachable receiver: a transport error is recorded.
	rs := httptest.NewServer(http.NotFoundHandler())
	rs.Close()
	if err := e2.srv.SetWebhookURL(e2.srv.Channel().ID, rs.URL+"/:scope_id"); err != nil {
		t.Fatal(err)
	}
	res, err = e2.srv.ManagerReply(ctx, scope2, chat2, m)
	if err == nil || res.StatusCode != 0 || res.Err == nil {
		t.Errorf("unreachable: %+v, %v", res, err)
	}
	if got := e2.srv.Webhooks(); len(got) != 1 || got[0].Err == nil {
		t.Errorf("Webhooks %+v", got)
	}
}
