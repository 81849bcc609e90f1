package amojotest_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

func TestFailNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	e.srv.FailNext(amojotest.RouteMessage, 2, 503, "7")
	for range 2 {
		// Faults come before the signature check: a bad signature still
		// gets the injected answer.
		s := e.sign("POST", custom+scope, "", `{}`)
		s.header.Set("X-Signature", "bad")
		r := e.send(s)
		mustStatus(t, r, 503)
		if r.header.Get("Retry-After") != "7" || errorCode(t, r) != amojotest.ErrCodeInjected {
			t.Errorf("injected answer %v %s", r.header, r.body)
		}
	}
	mustStatus(t, e.incoming(scope, "c", "m", "hi", t0), 200)

	e.srv.FailNext(amojotest.RouteAccount, 1, 429, "1")
	r := e.rest("GET", "/api/v4/account", "", nil, e.srv.Token())
	problemOf(t, r, 429)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, e.srv.Token()), 200)

	e.srv.FailNext(amojotest.RouteHistory, 1, 403, "")
	r = e.amojo("GET", custom+scope+"/chats/x/history", "", nil)
	mustStatus(t, r, 403)
	if len(r.body) != 0 {
		t.Errorf("403 body %q", r.body)
	}
	// Other routes are not affected; ResetFaults clears the queue.
	e.srv.FailNext(amojotest.RouteTyping, 5, 500, "")
	mustStatus(t, e.amojo("GET", custom+scope+"/chats/x/history", "", nil), 204)
	e.srv.ResetFaults()
	mustStatus(t, e.amojo("POST", custom+scope+"/typing", "", map[string]any{"conversation_id": "c", "sender": map[string]any{"id": "client-1"}}), 204)
}

func TestDropNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	e.srv.DropNext(amojotest.RouteCreateChat, 1)
	s := e.sign("POST", custom+scope+"/chats", "", map[string]any{"conversation_id": "c", "user": map[string]any{"id": "u", "name": "U"}})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+s.path, bytes.NewReader(s.body))
	req.Header = s.header
	resp, err := e.srv.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	if len(e.srv.Chats(scope)) != 0 {
		t.Error("a dropped request was handled")
	}
	mustStatus(t, e.send(s), 200)
	reqs := e.srv.RequestsTo(amojotest.RouteCreateChat)
	if len(reqs) != 2 || !reqs[0].Dropped || reqs[0].StatusCode != 0 || reqs[1].Dropped || reqs[1].StatusCode != 200 {
		t.Errorf("log %+v", reqs)
	}
	e.srv.DropNext(amojotest.RouteContacts, 1)
	req, _ = http.NewRequestWithContext(t.Context(), "POST", e.srv.CRMURL+"/api/v4/contacts", strings.NewReader(`[{"name":"x"}]`))
	req.Header.Set("Authorization", "Bearer "+e.srv.Token())
	if resp, err := e.srv.HTTPClient().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("dropped REST request answered")
	}
}

// TestDropNextResponse loses the answer of a message that was stored: the
// retry meets the duplicate msgid.
func TestDropNextResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	e.srv.DropNextResponse(amojotest.RouteMessage, 1)
	s := e.sign("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": map[string]any{
		"timestamp": t0.Unix(), "msgid": "lost", "conversation_id": "c",
		"sender": map[string]any{"id": "u", "name": "U"}, "message": map[string]any{"type": "text", "text": "x"},
	}})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+s.path, bytes.NewReader(s.body))
	req.Header = s.header.Clone()
	if resp, err := e.srv.HTTPClient().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost answer arrived: %d", resp.StatusCode)
	}
	if ch, ok := e.srv.ChatByConversation(scope, "c"); !ok || len(ch.Messages) != 1 {
		t.Fatalf("message not stored: %+v", ch)
	}
	r := e.send(s)
	mustStatus(t, r, 400)
	if errorCode(t, r) != amojotest.ErrCodeDuplicateMsgID {
		t.Errorf("retry: %s", r.body)
	}
	log := e.srv.RequestsTo(amojotest.RouteMessage)
	if len(log) != 2 || !log[0].Dropped || log[0].StatusCode != 200 {
		t.Errorf("log %+v", log)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	scope := e.connect()
	e.srv.ResetRequests()
	e.amojo("GET", custom+scope+"/chats/x/history", "limit=5&offset=0", nil)
	e.rest("POST", "/api/v4/contacts", "", `[{"name":"x"}]`, e.srv.Token())
	mustStatus(t, e.rest("GET", "/nowhere", "", nil, ""), 404)
	reqs := e.srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	h := reqs[0]
	if h.Route != amojotest.RouteHistory || h.Method != "GET" || h.Path != custom+scope+"/chats/x/history" ||
		h.RawQuery != "limit=5&offset=0" || h.Query.Get("limit") != "5" || h.StatusCode != 204 ||
		h.Header.Get("X-Signature") == "" || !h.Time.Equal(t0) {
		t.Errorf("history %+v", h)
	}
	c := reqs[1]
	if c.Route != amojotest.RouteContacts || string(c.Body) != `[{"name":"x"}]` || c.StatusCode != 200 {
		t.Errorf("contacts %+v", c)
	}
	if reqs[2].Route != "" || reqs[2].StatusCode != 404 {
		t.Errorf("unmatched %+v", reqs[2])
	}
	// The log holds copies.
	reqs[0].Header.Set("X-Signature", "changed")
	if e.srv.Requests()[0].Header.Get("X-Signature") == "changed" {
		t.Error("Requests shares headers")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	defer srv.Close()
	ch, acc := srv.Channel(), srv.Account()
	if ch.ID != amojotest.DefaultChannelID || len(ch.Secret) != 40 || ch.Bot.ID == "" || ch.Bot.Name == "" {
		t.Errorf("channel %+v", ch)
	}
	if acc.AmojoID != amojotest.DefaultAccountID || len(acc.Users) != 2 || acc.Users[0].AmojoID != amojotest.DefaultManagerAmojoID || acc.Users[0].Name != "Менеджер Василий" {
		t.Errorf("account %+v", acc)
	}
	if srv.Token() != amojotest.DefaultToken || srv.ScopeID() != amojotest.DefaultChannelID+"_"+amojotest.DefaultAccountID {
		t.Errorf("token %q scope %q", srv.Token(), srv.ScopeID())
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || srv.CRMURL != srv.URL {
		t.Errorf("URLs %q %q", srv.URL, srv.CRMURL)
	}
	scope, err := srv.Connect(ch.ID, acc.AmojoID)
	if err != nil || scope != srv.ScopeID() {
		t.Fatalf("Connect: %q %v", scope, err)
	}
	if _, err := srv.Connect(ch.ID, "nope"); err == nil {
		t.Error("Connect to an unknown account")
	}
	if err := srv.SetWebhookURL("nope", "http://x"); err == nil {
		t.Error("SetWebhookURL of an unknown channel")
	}
}

func TestBadOptionsPanic(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]amojotest.Option{
		"channel without secret": amojotest.WithChannel(amojotest.Channel{ID: "x"}),
		"account without id":     amojotest.WithAccount(amojotest.Account{}),
		"user without amojo id":  amojotest.WithAccount(amojotest.Account{AmojoID: "a", Users: []amojotest.User{{ID: 1}}}),
		"negative rate":          amojotest.WithRateLimit(-1, 1),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			amojotest.NewUnstartedServer(opt).Close()
		})
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithChannel(amojotest.Channel{ID: "chan-1", Secret: "s3cret"}))
	defer srv.Close()
	c := srv.Client(amojo.WithUserAgent("test/1"))
	if c.BaseURL() != srv.URL || c.ChannelID() != "chan-1" {
		t.Errorf("client %v", c)
	}
	if strings.Contains(c.String(), "s3cret") {
		t.Error("client prints its secret")
	}
	crm := srv.CRMClient()
	if crm.BaseURL() != srv.CRMURL {
		t.Errorf("CRM client %v", crm)
	}
	defer func() {
		if recover() == nil {
			t.Error("a refused option did not panic")
		}
	}()
	srv.Client(amojo.WithBaseURL("::"))
}

// TestNoGoroutineLeft checks that Close leaves nothing running.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		h := &hookReceiver{t: t, secret: amojotest.DefaultChannelSecret, status: 200}
		srvHooks := httptest.NewServer(h)
		e := newEnv(t)
		if err := e.srv.SetWebhookURL(e.srv.Channel().ID, srvHooks.URL+"/:scope_id"); err != nil {
			t.Fatal(err)
		}
		scope := e.connect()
		chat := e.incoming(scope, "c", "m", "hi", t0).json(t)["new_message"].(map[string]any)["conversation_id"].(string)
		e.rest("GET", "/api/v4/account", "", nil, e.srv.Token())
		if _, err := e.srv.ManagerReply(t.Context(), scope, chat, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		e.srv.DropNext(amojotest.RouteAccount, 1)
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.CRMURL+"/api/v4/account", nil)
		req.Header.Set("Authorization", "Bearer "+e.srv.Token())
		if resp, err := e.srv.HTTPClient().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		e.srv.Close()
		srvHooks.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
