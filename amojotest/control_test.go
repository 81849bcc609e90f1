package amojotest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
)

func TestControlAPI(t *testing.T) {
	t.Parallel()
	h := &hookReceiver{t: t, secret: amojotest.DefaultChannelSecret, status: 200}
	rs := httptest.NewServer(h)
	defer rs.Close()
	e := newEnv(t, amojotest.WithControlAPI(), amojotest.WithWebhookURL(rs.URL+"/:scope_id"))
	call := func(method, action string, in any) (int, []byte) {
		t.Helper()
		var body []byte
		if in != nil {
			body, _ = json.Marshal(in)
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, e.srv.URL+"/amojotest/"+action, bytes.NewReader(body))
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		r := e.do(req)
		return r.status, r.body
	}
	st, b := call("POST", "connect", map[string]any{"channel_id": amojotest.DefaultChannelID, "account_id": amojotest.DefaultAccountID})
	var conn map[string]string
	json.Unmarshal(b, &conn)
	if st != 200 || conn["scope_id"] != e.srv.ScopeID() {
		t.Fatalf("connect %d %s", st, b)
	}
	scope := conn["scope_id"]
	st, b = call("POST", "start-chat", map[string]any{"scope_id": scope, "phone": "+7999", "name": "N"})
	var started map[string]string
	json.Unmarshal(b, &started)
	if st != 200 || started["chat_id"] == "" {
		t.Fatalf("start-chat %d %s", st, b)
	}
	st, b = call("POST", "manager-reply", map[string]any{"scope_id": scope, "chat_id": started["chat_id"], "user_id": amojotest.DefaultManagerAmojoID, "text": "hi"})
	var hook map[string]any
	json.Unmarshal(b, &hook)
	if st != 200 || hook["status_code"] != float64(200) || hook["message_id"] == "" || hook["body"] == nil {
		t.Fatalf("manager-reply %d %s", st, b)
	}
	if got := h.last().body["message"].(map[string]any)["message"].(map[string]any)["text"]; got != "hi" {
		t.Errorf("webhook text %v", got)
	}
	st, _ = call("POST", "manager-typing", map[string]any{"scope_id": scope, "chat_id": started["chat_id"], "user_id": amojotest.DefaultManagerAmojoID})
	if st != 200 {
		t.Errorf("manager-typing %d", st)
	}
	st, _ = call("POST", "manager-reaction", map[string]any{"scope_id": scope, "chat_id": started["chat_id"], "message_id": hook["message_id"], "user_id": amojotest.DefaultManagerAmojoID, "emoji": "x"})
	if st != 200 {
		t.Errorf("manager-reaction %d", st)
	}
	st, b = call("GET", "chats?scope_id="+scope, nil)
	var chats []amojotest.Chat
	if err := json.Unmarshal(b, &chats); err != nil || st != 200 || len(chats) != 1 || len(chats[0].Messages) != 1 || chats[0].Messages[0].Reactions[amojotest.DefaultManagerAmojoID] != "x" {
		t.Errorf("chats %d %s", st, b)
	}
	if st, b = call("GET", "webhooks", nil); st != 200 || bytes.Count(b, []byte(`"kind"`)) != 3 {
		t.Errorf("webhooks %d %s", st, b)
	}
	for _, action := range []string{"contacts", "links"} {
		if st, b = call("GET", action, nil); st != 200 || string(b) != "[]" {
			t.Errorf("%s %d %s", action, st, b)
		}
	}
	if st, b = call("POST", "fail-next", map[string]any{"route": "account", "n": 1, "status": 503, "retry_after": "2"}); st != 200 {
		t.Errorf("fail-next %d %s", st, b)
	}
	r := e.rest("GET", "/api/v4/account", "", nil, e.srv.Token())
	if r.status != 503 || r.header.Get("Retry-After") != "2" {
		t.Errorf("after fail-next: %d %v", r.status, r.header)
	}
	if st, _ = call("POST", "drop-next", map[string]any{"route": "account", "n": 1}); st != 200 {
		t.Errorf("drop-next %d", st)
	}
	if st, _ = call("POST", "drop-next-response", map[string]any{"route": "account", "n": 1}); st != 200 {
		t.Errorf("drop-next-response %d", st)
	}
	if st, _ = call("POST", "reset-faults", nil); st != 200 {
		t.Errorf("reset-faults %d", st)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, e.srv.Token()), 200)
	for _, bad := range []struct {
		method, action string
		in             any
	}{
		{"POST", "connect", map[string]any{"channel_id": "x"}},
		{"POST", "manager-reply", map[string]any{"scope_id": scope, "chat_id": "nope"}},
		{"POST", "fail-next", map[string]any{"route": "account", "n": 0, "status": 500}},
		{"POST", "start-chat", "not an object"},
	} {
		if st, b := call(bad.method, bad.action, bad.in); st != 400 {
			t.Errorf("%s: %d %s", bad.action, st, b)
		}
	}
	if st, _ := call("GET", "nothing", nil); st != 404 {
		t.Errorf("unknown action %d", st)
	}
	// Control requests are not recorded.
	for _, req := range e.srv.Requests() {
		if req.Route == "" {
			t.Errorf("recorded %s %s", req.Method, req.Path)
		}
	}
	// Off by default.
	e2 := newEnv(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e2.srv.URL+"/amojotest/chats", nil)
	mustStatus(t, e2.do(req), 404)
}

// TestControlWritesRefuseBrowserForms: a control write needs Content-Type
// application/json and a request that is not from another site, so a web
// page cannot post to the control API (a form or text/plain needs no
// preflight); reads need neither.
func TestControlWritesRefuseBrowserForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithControlAPI())
	failNext := func(header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/amojotest/fail-next",
			strings.NewReader(`{"route":"account","n":1,"status":503}`))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return e.do(req).status
	}
	for _, tt := range []struct {
		header map[string]string
		status int
	}{
		{nil, 415},
		{map[string]string{"Content-Type": "text/plain"}, 415},
		{map[string]string{"Content-Type": "text/plain; charset=utf-8"}, 415},
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{map[string]string{"Content-Type": "application/json", "Origin": "http://attacker.example"}, 403},
	} {
		if st := failNext(tt.header); st != tt.status {
			t.Errorf("%v: %d, want %d", tt.header, st, tt.status)
		}
	}
	// Nothing refused was queued.
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, e.srv.Token()), 200)
	if st := failNext(map[string]string{"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Site": "same-origin"}); st != 200 {
		t.Fatalf("JSON from the same origin: %d", st)
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, e.srv.Token()), 503)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/amojotest/contacts", nil)
	mustStatus(t, e.do(req), 200)
}
