package amojotest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/amojo-go/amojo/amojotest"
)

// The channel, account and secret of the step-by-step vectors (chats-api §2.1).
const (
	vecChannel = "344a5002-f8ca-454d-af3d-396180102ac7"
	vecAccount = "52e591f7-c98f-4255-8495-827210138c81"
	vecSecret  = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
	vecScope   = vecChannel + "_" + vecAccount
)

// phpJSON encodes v the way PHP's json_encode does by default: "/" as "\/"
// and non-ASCII as \uXXXX.
func phpJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, r := range strings.TrimSuffix(buf.String(), "\n") {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r >= utf8.RuneSelf:
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	return []byte(out.String())
}

// orderedJSON keeps key order: a JSON object as a list of pairs.
type orderedJSON []kv

type kv struct {
	k string
	v any
}

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.k)
		b.Write(k)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p.v); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// TestSpecVectors replays the requests of amoCRM's step-by-step page with
// their published headers: the fake must accept every one of them.
func TestSpecVectors(t *testing.T) {
	c := newClock(time.Time{})
	srv := amojotest.NewServer(
		amojotest.WithClock(c.Now),
		amojotest.WithChannel(amojotest.Channel{ID: vecChannel, Secret: vecSecret}),
		amojotest.WithAccount(amojotest.Account{AmojoID: vecAccount, ID: 1, Subdomain: "vec"}),
	)
	defer srv.Close()
	e := &env{t: t, srv: srv, clock: c}

	createChat := phpJSON(t, orderedJSON{
		{"conversation_id", "my_int-8e3e7640-49af-4448-a2c6-d5a421f7f217"},
		{"source", orderedJSON{{"external_id", "78001234567"}}},
		{"user", orderedJSON{
			{"id", "my_int-1376265f-86df-4c49-a0c3-a4816df41af9"},
			{"avatar", "https://example.com/users/avatar.png"},
			{"name", "Имя клиента"},
			{"profile", orderedJSON{{"phone", "+79151112233"}, {"email", "example.client@example.com"}}},
			{"profile_link", "https://example.com/profile/example.client"},
		}},
	})
	if got := md5hex(createChat); got != "5139e573382c0eae38f476822abb2014" {
		t.Fatalf("rebuilt create-chat body has MD5 %s", got)
	}

	steps := []struct {
		name, method, path, date, body, md5, sig string
		status                                   int
	}{
		{"connect", "POST", custom + vecChannel + "/connect", "Wed, 15 Dec 2021 23:12:55 +0000",
			`{"account_id":"52e591f7-c98f-4255-8495-827210138c81","title":"ChatsIntegration","hook_api_version":"v2"}`,
			"2fbcb3c652b61e24e004daddfc73d0ce", "81211856ce0c5095f3e1a90c0a38dc9d736cfd55", 200},
		{"send message", "POST", custom + vecScope, "Thu, 16 Dec 2021 13:15:29 +0000",
			`{"event_type":"new_message","payload":{"timestamp":1639660529,"msec_timestamp":1639660529379,"msgid":"my_int-5f2836a8ca481","conversation_id":"my_int-d5a421f7f218","sender":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af8","avatar":"https:\/\/images.pexels.com\/photos\/10050979\/pexels-photo-10050979.jpeg?auto=compress&cs=tinysrgb&dpr=2&w=500","profile":{"phone":"+79151112233","email":"example.client@example.com"},"profile_link":"https:\/\/example.com\/profile\/example.client","name":"\u0412\u0430\u0441\u044f \u043a\u043b\u0438\u0435\u043d\u0442"},"message":{"type":"text","text":"\u0421\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 \u043e\u0442 \u043a\u043b\u0438\u0435\u043d\u0442\u0430"},"silent":false}}`,
			"223ef85def871bc7cb58aa6f02f0a26e", "29b49e9eaf03f13a66ecaff315f2855b31b25eee", 200},
		{"typing", "POST", custom + vecScope + "/typing", "Thu, 16 Dec 2021 16:01:21 +0000",
			`{"conversation_id":"my_int-d5a421f7f218","sender":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af8"}}`,
			"255a22566d68be207fa36804e78a523a", "e8263b1daf2b20396c02db6c8c846f95cc0f9540", 204},
		{"create chat", "POST", custom + vecScope + "/chats", "Thu, 16 Dec 2021 23:22:49 +0000",
			string(createChat), "5139e573382c0eae38f476822abb2014", "a601e486d694c8e7e8a5b637660f949f8bb7efaf", 200},
		// The message of the vector does not exist here: 404 (not 403) shows
		// the signature was accepted.
		{"delivery status", "POST", custom + vecScope + "/079e44fb-fc22-476b-9e8a-421b688ec53b/delivery_status", "Thu, 16 Dec 2021 12:58:40 +0000",
			`{"msgid":"079e44fb-fc22-476b-9e8a-421b688ec53b","delivery_status":2,"error_code":905,"error":"Error text"}`,
			"a0bbbac729c6341f0a521e2db7a8a236", "ca51f810785031385a801f41103244713c1a2352", 404},
		// Derived vector: history, query not signed; the chat is unknown: 204.
		{"history", "GET", custom + vecScope + "/chats/8e4d4baa-9e6c-4a88-838a-5f62be227bdc/history", "Thu, 16 Dec 2021 13:15:29 +0000",
			"", "d41d8cd98f00b204e9800998ecf8427e", "0e371454cbfcac8c35b3e130a1224a4957c5e8a7", 204},
		{"disconnect", "DELETE", custom + vecChannel + "/disconnect", "Wed, 15 Dec 2021 23:59:28 +0000",
			`{"account_id":"52e591f7-c98f-4255-8495-827210138c81"}`,
			"271fa2e4fb0ff84a3ef9689027bd1f38", "e1678e3b6aa674b5127f4feb448e6200ce0bfc72", 200},
	}
	for _, st := range steps {
		d, err := time.Parse(time.RFC1123Z, st.date)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(d.Add(3 * time.Second))
		h := http.Header{}
		h.Set("Date", st.date)
		h.Set("Content-Type", "application/json")
		h.Set("Content-MD5", st.md5)
		h.Set("X-Signature", st.sig)
		query := ""
		if st.method == "GET" {
			query = "limit=50&offset=0"
		}
		r := e.send(&signed{method: st.method, path: st.path, query: query, body: []byte(st.body), header: h})
		if r.status != st.status {
			t.Errorf("%s: status %d, want %d; body %s", st.name, r.status, st.status, r.body)
		}
		// Our own hand signer agrees with the published signature.
		if got := handSign(vecSecret, st.method, st.md5, "application/json", st.date, st.path); got != st.sig {
			t.Errorf("%s: hand signature %s, published %s", st.name, got, st.sig)
		}
	}
	chats := srv.Chats(vecScope)
	if len(chats) != 2 || chats[0].ConversationID != "my_int-d5a421f7f218" || chats[1].SourceExternalID != "78001234567" {
		t.Fatalf("chats = %+v", chats)
	}
	if chats[0].Typing != 1 || chats[0].Messages[0].Text != "Сообщение от клиента" || chats[0].Client.Name != "Вася клиент" {
		t.Errorf("chat 0 = %+v", chats[0])
	}
	if chats[1].Client.Name != "Имя клиента" || chats[1].Client.Phone != "+79151112233" {
		t.Errorf("chat 1 client = %+v", chats[1].Client)
	}
}

func TestSignatureRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	hist := custom + scope + "/chats/unknown/history"
	msg := map[string]any{"event_type": "new_message", "payload": map[string]any{
		"timestamp": t0.Unix(), "msgid": "m1", "conversation_id": "c1",
		"sender": map[string]any{"id": "u1", "name": "U"}, "message": map[string]any{"type": "text", "text": "hi"},
	}}
	resign := func(s *signed, secret string) {
		h := s.header
		h.Set("X-Signature", handSign(secret, s.method, h.Get("Content-MD5"), h.Get("Content-Type"), h.Get("Date"), s.path))
	}
	tests := []struct {
		name   string
		build  func() *signed
		status int
	}{
		{"valid", func() *signed { return e.sign("POST", custom+scope, "", msg) }, 200},
		{"wrong secret", func() *signed {
			s := e.sign("POST", custom+scope, "", msg)
			resign(s, strings.Repeat("0", 40))
			return s
		}, 403},
		{"tampered body", func() *signed {
			s := e.sign("POST", custom+scope, "", msg)
			s.body = bytes.Replace(s.body, []byte(`"hi"`), []byte(`"ho"`), 1)
			return s
		}, 403},
		{"tampered body with its MD5, old signature", func() *signed {
			s := e.sign("POST", custom+scope, "", msg)
			s.body = bytes.Replace(s.body, []byte(`"hi"`), []byte(`"ho"`), 1)
			s.header.Set("Content-MD5", md5hex(s.body))
			return s
		}, 403},
		{"trailing newline not hashed", func() *signed {
			s := e.sign("POST", custom+scope, "", msg)
			s.body = append(s.body, '\n')
			return s
		}, 403},
		{"base64 MD5", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")
			resign(s, e.srv.Channel().Secret)
			return s
		}, 403},
		{"uppercase signature", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("X-Signature", strings.ToUpper(s.header.Get("X-Signature")))
			return s
		}, 403},
		{"no signature", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Del("X-Signature")
			return s
		}, 403},
		{"query not signed", func() *signed { return e.sign("GET", hist, "limit=50&offset=0", nil) }, 204},
		{"query signed", func() *signed {
			s := e.sign("GET", hist, "limit=50&offset=0", nil)
			h := s.header
			h.Set("X-Signature", handSign(e.srv.Channel().Secret, "GET", h.Get("Content-MD5"), "application/json", h.Get("Date"), hist+"?limit=50&offset=0"))
			return s
		}, 403},
		{"lowercase method signed", func() *signed {
			s := e.sign("GET", hist, "", nil)
			h := s.header
			h.Set("X-Signature", handSign(e.srv.Channel().Secret, "get", h.Get("Content-MD5"), "application/json", h.Get("Date"), hist))
			return s
		}, 403},
		{"lines joined with CRLF", func() *signed {
			s := e.sign("GET", hist, "", nil)
			h := s.header
			h.Set("X-Signature", handSign(e.srv.Channel().Secret, "GET\r", h.Get("Content-MD5")+"\r", "application/json\r", h.Get("Date")+"\r", hist))
			return s
		}, 403},
		{"missing Date", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Del("Date")
			resign(s, e.srv.Channel().Secret)
			return s
		}, 403},
		{"GMT date", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Date", t0.Format(http.TimeFormat))
			resign(s, e.srv.Channel().Secret)
			return s
		}, 204},
		{"+0300 date", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Date", t0.In(time.FixedZone("MSK", 3*3600)).Format(time.RFC1123Z))
			resign(s, e.srv.Channel().Secret)
			return s
		}, 204},
		{"RFC 2822 date without weekday", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Date", t0.Format("2 Jan 2006 15:04:05 -0700"))
			resign(s, e.srv.Channel().Secret)
			return s
		}, 204},
		{"PST date", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Date", t0.Format("Mon, 02 Jan 2006 15:04:05")+" PST")
			resign(s, e.srv.Channel().Secret)
			return s
		}, 403},
		{"RFC 3339 date", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Date", t0.Format(time.RFC3339))
			resign(s, e.srv.Channel().Secret)
			return s
		}, 403},
		{"charset in Content-Type", func() *signed {
			s := e.sign("GET", hist, "", nil)
			s.header.Set("Content-Type", "application/json; charset=utf-8")
			resign(s, e.srv.Channel().Secret)
			return s
		}, 400},
		{"GET with a body", func() *signed { return e.sign("GET", hist, "", `{}`) }, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, clock: e.clock}
			r := e.send(tt.build())
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if r.status == 403 && (len(r.body) != 0 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain")) {
				t.Errorf("403 body %q, Content-Type %q; want empty text/plain", r.body, r.header.Get("Content-Type"))
			}
		})
	}
}

// TestDateWindow pins the 15-minute window in both directions.
func TestDateWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	hist := custom + scope + "/chats/x/history"
	tests := []struct {
		skew   time.Duration // Date minus server time
		status int
	}{
		{-14*time.Minute - 59*time.Second, 204},
		{-15 * time.Minute, 204},
		{-15*time.Minute - time.Second, 403},
		{-15*time.Minute - 61*time.Second, 403},
		{14*time.Minute + 59*time.Second, 204},
		{15*time.Minute + time.Second, 403},
		{15*time.Minute + 61*time.Second, 403},
		{-24 * time.Hour, 403},
	}
	for _, tt := range tests {
		t.Run(tt.skew.String(), func(t *testing.T) {
			// Sign at server time + skew, then answer at server time.
			c := newClock(t0.Add(tt.skew))
			signer := &env{t: t, srv: e.srv, clock: c}
			r := signer.send(signer.sign("GET", hist, "", nil))
			if r.status != tt.status {
				t.Fatalf("Date %s off: status %d, want %d", tt.skew, r.status, tt.status)
			}
		})
	}
}

func TestUnknownChannelAndScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acc := e.srv.Account().AmojoID
	r := e.amojo("POST", custom+"00000000-0000-0000-0000-000000000000/connect", "", map[string]any{"account_id": acc})
	mustStatus(t, r, 404)
	// Not connected yet: the scope does not work.
	r = e.incoming(e.srv.ScopeID(), "c1", "m1", "hi", t0)
	mustStatus(t, r, 404)
	if code := errorCode(t, r); code != amojotest.ErrCodeNotConnected {
		t.Errorf("error_code %q", code)
	}
	scope := e.connect()
	mustStatus(t, e.incoming(scope, "c1", "m1", "hi", t0), 200)
	mustStatus(t, e.amojo("DELETE", custom+e.srv.Channel().ID+"/disconnect", "", map[string]any{"account_id": acc}), 200)
	mustStatus(t, e.incoming(scope, "c1", "m2", "hi", t0), 404)
	// Reconnecting brings the scope and its chats back.
	e.connect()
	mustStatus(t, e.incoming(scope, "c1", "m2", "hi", t0), 200)
	if chats := e.srv.Chats(scope); len(chats) != 1 || len(chats[0].Messages) != 2 {
		t.Errorf("chats = %+v", chats)
	}
}
