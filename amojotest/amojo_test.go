package amojotest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

func TestConnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ch, acc := e.srv.Channel(), e.srv.Account()
	path := custom + ch.ID + "/connect"
	r := e.amojo("POST", path, "", map[string]any{"account_id": acc.AmojoID, "title": "My channel", "hook_api_version": "v2", "is_time_window_disabled": true})
	mustStatus(t, r, 200)
	want := map[string]any{
		"account_id": acc.AmojoID, "scope_id": ch.ID + "_" + acc.AmojoID, "title": "My channel",
		"hook_api_version": "v2", "is_time_window_disabled": true,
	}
	if got := r.json(t); !reflect.DeepEqual(got, want) {
		t.Errorf("connect answer %v, want %v", got, want)
	}
	// Defaults: title of the channel, hook v1.
	r = e.amojo("POST", path, "", map[string]any{"account_id": acc.AmojoID})
	mustStatus(t, r, 200)
	if got := r.json(t); got["title"] != ch.Title || got["hook_api_version"] != "v1" || got["is_time_window_disabled"] != false {
		t.Errorf("defaults: %v", got)
	}
	conn, ok := e.srv.Connection(e.srv.ScopeID())
	if !ok || !conn.Connected || conn.HookAPIVersion != "v1" {
		t.Errorf("Connection = %+v, %v", conn, ok)
	}
	for _, body := range []string{`{}`, `{"account_id":"nope"}`, `{"account_id":"` + acc.AmojoID + `","hook_api_version":"v3"}`, `[1]`, `{"account_id":1}`, `not json`} {
		r := e.amojo("POST", path, "", body)
		mustStatus(t, r, 400)
		errorCode(t, r)
	}
}

func TestCreateChat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	body := map[string]any{
		"conversation_id": "conv-1",
		"source":          map[string]any{"external_id": "78001234567"},
		"user": map[string]any{"id": "client-1", "name": "Client", "avatar": "https://example.com/a.png",
			"profile": map[string]any{"phone": "+79151112233", "email": "c@example.com"}, "profile_link": "https://example.com/u/1"},
	}
	r := e.amojo("POST", custom+scope+"/chats", "", body)
	mustStatus(t, r, 200)
	got := r.json(t)
	chatID, _ := got["id"].(string)
	user, _ := got["user"].(map[string]any)
	if chatID == "" || user["id"] == "" || user["client_id"] != "client-1" || user["name"] != "Client" ||
		user["avatar"] != "https://example.com/a.png" || user["phone"] != "+79151112233" || user["email"] != "c@example.com" {
		t.Fatalf("create chat answer %s", r.body)
	}
	// Idempotent per conversation_id.
	r2 := e.amojo("POST", custom+scope+"/chats", "", body)
	mustStatus(t, r2, 200)
	if got2 := r2.json(t); !reflect.DeepEqual(got2, got) {
		t.Errorf("second create %v, first %v", got2, got)
	}
	// A second chat with the same participant reuses it.
	body["conversation_id"] = "conv-2"
	r3 := e.amojo("POST", custom+scope+"/chats", "", body).json(t)
	if r3["id"] == chatID || r3["user"].(map[string]any)["id"] != user["id"] {
		t.Errorf("second chat %v", r3)
	}
	// ref_id alone binds the existing participant.
	r4 := e.amojo("POST", custom+scope+"/chats", "", map[string]any{"conversation_id": "conv-3", "user": map[string]any{"ref_id": user["id"]}})
	mustStatus(t, r4, 200)
	if r4.json(t)["user"].(map[string]any)["client_id"] != "client-1" {
		t.Errorf("ref_id chat %s", r4.body)
	}
	if n := len(e.srv.Chats(scope)); n != 3 {
		t.Errorf("%d chats", n)
	}
	ch, ok := e.srv.Chat(chatID)
	if !ok || ch.ConversationID != "conv-1" || ch.SourceExternalID != "78001234567" || ch.Client.ProfileLink != "https://example.com/u/1" {
		t.Errorf("Chat = %+v", ch)
	}

	bad := []struct {
		name string
		body string
	}{
		{"no conversation_id", `{"user":{"id":"u","name":"n"}}`},
		{"no user", `{"conversation_id":"x"}`},
		{"user without id", `{"conversation_id":"x","user":{"name":"n"}}`},
		{"new user without name", `{"conversation_id":"x","user":{"id":"new"}}`},
		{"unknown ref_id", `{"conversation_id":"x","user":{"ref_id":"nope"}}`},
		{"long source", `{"conversation_id":"x","source":{"external_id":"` + strings.Repeat("1", 41) + `"},"user":{"id":"u","name":"n"}}`},
		{"source not ASCII", `{"conversation_id":"x","source":{"external_id":"номер"},"user":{"id":"u","name":"n"}}`},
		{"user not an object", `{"conversation_id":"x","user":"u"}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := (&env{t: t, srv: e.srv, clock: e.clock}).amojo("POST", custom+scope+"/chats", "", tt.body)
			mustStatus(t, r, 400)
			if code := errorCode(t, r); code != amojotest.ErrCodeInvalidField {
				t.Errorf("error_code %q", code)
			}
		})
	}
}

func TestNewMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	at := time.Date(2026, 11, 1, 10, 0, 0, 123e6, time.UTC)

	// Incoming message to an unknown conversation creates the chat.
	r := e.incoming(scope, "conv-1", "m-1", "Hello", at)
	mustStatus(t, r, 200)
	nm, _ := r.json(t)["new_message"].(map[string]any)
	chatID, _ := nm["conversation_id"].(string)
	if chatID == "" || nm["sender_id"] == "" || nm["msgid"] == "" || nm["ref_id"] != "m-1" {
		t.Fatalf("new_message %s", r.body)
	}
	if _, ok := nm["receiver_id"]; ok {
		t.Errorf("incoming answer has receiver_id: %s", r.body)
	}
	clientAmojoID := nm["sender_id"]

	// Outgoing from a CRM user.
	out := func(msgid, ref string) result {
		return e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": map[string]any{
			"timestamp": at.Unix() + 60, "msec_timestamp": at.UnixMilli() + 60000, "msgid": msgid, "conversation_id": "conv-1",
			"sender":   map[string]any{"id": "manager-1", "ref_id": ref, "name": "Manager"},
			"receiver": map[string]any{"id": "client-1", "name": "Client"},
			"message":  map[string]any{"type": "text", "text": "Answer"},
			"silent":   true,
		}})
	}
	r = out("m-2", amojotest.DefaultManagerAmojoID)
	mustStatus(t, r, 200)
	nm = r.json(t)["new_message"].(map[string]any)
	if nm["conversation_id"] != chatID || nm["sender_id"] != amojotest.DefaultManagerAmojoID || nm["receiver_id"] != clientAmojoID || nm["ref_id"] != "m-2" {
		t.Errorf("outgoing answer %s", r.body)
	}
	// From the bot.
	mustStatus(t, out("m-3", amojotest.DefaultBotID), 200)
	// Unknown sender.ref_id, or none, for an outgoing message.
	for _, ref := range []string{"11111111-1111-1111-1111-111111111111", ""} {
		r = out("m-4", ref)
		mustStatus(t, r, 400)
		if code := errorCode(t, r); code != amojotest.ErrCodeUnknownSender {
			t.Errorf("error_code %q", code)
		}
	}

	// A duplicate msgid in the scope is refused, even in another chat.
	r = e.incoming(scope, "conv-2", "m-1", "again", at)
	mustStatus(t, r, 400)
	if code := errorCode(t, r); code != amojotest.ErrCodeDuplicateMsgID {
		t.Errorf("error_code %q", code)
	}
	if !strings.Contains(r.json(t)["error_description"].(string), "duplicate msgid") {
		t.Errorf("description %s", r.body)
	}
	if _, ok := e.srv.ChatByConversation(scope, "conv-2"); ok {
		t.Error("a refused message created a chat")
	}

	chat, _ := e.srv.Chat(chatID)
	if len(chat.Messages) != 3 {
		t.Fatalf("messages %+v", chat.Messages)
	}
	m0, m1 := chat.Messages[0], chat.Messages[1]
	if m0.ClientID != "m-1" || m0.Text != "Hello" || !m0.Time.Equal(at) || m0.Receiver != nil || m0.Sender.ClientID != "client-1" {
		t.Errorf("message 0 %+v", m0)
	}
	if m1.Sender.ID != amojotest.DefaultManagerAmojoID || m1.Sender.Name != amojotest.DefaultManagerName || m1.Receiver == nil || !m1.Silent {
		t.Errorf("message 1 %+v", m1)
	}
}

func TestWriteFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	created := e.amojo("POST", custom+scope+"/chats", "", map[string]any{"conversation_id": "conv-a", "user": map[string]any{"id": "c", "name": "C"}}).json(t)
	chatID := created["id"].(string)
	send := func(conv, ref, msgid string) result {
		return e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": map[string]any{
			"timestamp": t0.Unix(), "msgid": msgid, "conversation_id": conv, "conversation_ref_id": ref,
			"sender": map[string]any{"id": "c", "name": "C"}, "message": map[string]any{"type": "text", "text": "x"},
		}})
	}
	// Same conversation id and ref: fine. Another conversation id for a bound chat: conflict.
	mustStatus(t, send("conv-a", chatID, "w-1"), 200)
	r := send("conv-b", chatID, "w-2")
	mustStatus(t, r, 400)
	if code := errorCode(t, r); code != amojotest.ErrCodeConflict {
		t.Errorf("error_code %q", code)
	}
	mustStatus(t, send("conv-b", "no-such-chat", "w-3"), 400)
}

func TestMessageValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	valid := func() map[string]any {
		return map[string]any{"timestamp": t0.Unix(), "msec_timestamp": t0.UnixMilli(), "msgid": "v", "conversation_id": "c",
			"sender": map[string]any{"id": "u", "name": "U"}, "message": map[string]any{"type": "text", "text": "t"}}
	}
	tests := []struct {
		name  string
		event string
		edit  func(p map[string]any)
	}{
		{"unknown event", "delete_message", func(map[string]any) {}},
		{"no timestamp", "new_message", func(p map[string]any) { delete(p, "timestamp") }},
		{"timestamp string", "new_message", func(p map[string]any) { p["timestamp"] = "1" }},
		{"msec not matching", "new_message", func(p map[string]any) { p["msec_timestamp"] = 5 }},
		{"no msgid", "new_message", func(p map[string]any) { delete(p, "msgid") }},
		{"no conversation", "new_message", func(p map[string]any) { delete(p, "conversation_id") }},
		{"no sender", "new_message", func(p map[string]any) { delete(p, "sender") }},
		{"no message", "new_message", func(p map[string]any) { delete(p, "message") }},
		{"unknown type", "new_message", func(p map[string]any) { p["message"] = map[string]any{"type": "gif"} }},
		{"text without text", "new_message", func(p map[string]any) { p["message"] = map[string]any{"type": "text"} }},
		{"picture without media", "new_message", func(p map[string]any) { p["message"] = map[string]any{"type": "picture"} }},
		{"file without name", "new_message", func(p map[string]any) {
			p["message"] = map[string]any{"type": "file", "media": "https://x/f"}
		}},
		{"location without point", "new_message", func(p map[string]any) { p["message"] = map[string]any{"type": "location"} }},
		{"location out of range", "new_message", func(p map[string]any) {
			p["message"] = map[string]any{"type": "location", "location": map[string]any{"lon": 200, "lat": 0}}
		}},
		{"contact without phone", "new_message", func(p map[string]any) {
			p["message"] = map[string]any{"type": "contact", "contact": map[string]any{"name": "A"}}
		}},
		{"delivery_status in new_message", "new_message", func(p map[string]any) {
			p["message"] = map[string]any{"type": "text", "text": "t", "delivery_status": map[string]any{"status_code": 1}}
		}},
		{"reply to an unknown message", "new_message", func(p map[string]any) {
			p["reply_to"] = map[string]any{"message": map[string]any{"msgid": "nope"}}
		}},
		{"CRM sender without receiver", "new_message", func(p map[string]any) {
			p["sender"] = map[string]any{"id": "m", "ref_id": amojotest.DefaultManagerAmojoID, "name": "M"}
		}},
		{"comment post without url", "new_message", func(p map[string]any) {
			p["message"] = map[string]any{"type": "text", "text": "t", "post": map[string]any{"id": "p"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid()
			tt.edit(p)
			r := (&env{t: t, srv: e.srv, clock: e.clock}).amojo("POST", custom+scope, "", map[string]any{"event_type": tt.event, "payload": p})
			mustStatus(t, r, 400)
			errorCode(t, r)
		})
	}
	// Every kind that is valid.
	kinds := []map[string]any{
		{"type": "picture", "media": "https://x/p.png", "file_name": "p.png", "file_size": 10},
		{"type": "file", "media": "https://x/f.pdf", "file_name": "f.pdf"},
		{"type": "video", "media": "https://x/v.mp4", "media_duration": 3},
		{"type": "voice", "media": "https://x/v.ogg"},
		{"type": "audio", "media": "https://x/a.mp3"},
		{"type": "sticker", "sticker_id": "s1"},
		{"type": "location", "location": map[string]any{"lon": 37.6, "lat": 55.7}},
		{"type": "contact", "contact": map[string]any{"name": "A", "phone": "+7"}},
	}
	for i, k := range kinds {
		p := valid()
		p["msgid"], p["message"] = fmt.Sprintf("k-%d", i), k
		mustStatus(t, e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": p}), 200)
	}
	// Without msec_timestamp the seconds are used, as amoCRM's walk-through shows.
	p := valid()
	p["msgid"] = "no-msec"
	delete(p, "msec_timestamp")
	mustStatus(t, e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": p}), 200)
	// A reply to a message of the chat is fine.
	p = valid()
	p["msgid"], p["reply_to"] = "reply", map[string]any{"message": map[string]any{"msgid": "k-0"}}
	mustStatus(t, e.amojo("POST", custom+scope, "", map[string]any{"event_type": "new_message", "payload": p}), 200)
	ch, _ := e.srv.ChatByConversation(scope, "c")
	last := ch.Messages[len(ch.Messages)-1]
	if last.ClientID != "reply" || last.ReplyToID != ch.Messages[0].ID {
		t.Errorf("reply %+v", last)
	}
}

func TestEditMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	nm := e.incoming(scope, "conv", "m-1", "old", t0).json(t)["new_message"].(map[string]any)
	e.incoming(scope, "conv", "m-2", "other", t0)
	edit := func(p map[string]any) result {
		return e.amojo("POST", custom+scope, "", map[string]any{"event_type": "edit_message", "payload": p})
	}
	r := edit(map[string]any{"conversation_id": "conv", "msgid": "m-1", "timestamp": t0.Unix(), "msec_timestamp": t0.UnixMilli(),
		"message": map[string]any{"type": "text", "text": "new", "delivery_status": map[string]any{"status_code": -1, "error_code": 905, "error": "failed"}}})
	mustStatus(t, r, 200)
	if got := r.json(t)["new_message"].(map[string]any); got["msgid"] != nm["msgid"] || got["ref_id"] != "m-1" {
		t.Errorf("edit answer %s", r.body)
	}
	// By amojo id, giving a new msgid.
	mustStatus(t, edit(map[string]any{"conversation_ref_id": nm["conversation_id"], "id": nm["msgid"], "msgid": "m-1b", "message": map[string]any{"text": "newer"}}), 200)
	ch, _ := e.srv.ChatByConversation(scope, "conv")
	m := ch.Messages[0]
	if m.Text != "newer" || m.ClientID != "m-1b" || !m.Edited || m.DeliveryStatus != -1 || m.DeliveryErrorCode != 905 || m.DeliveryError != "failed" {
		t.Errorf("edited %+v", m)
	}
	// The old msgid is free again, the new one taken.
	mustStatus(t, e.incoming(scope, "conv", "m-1", "reuse", t0), 200)
	mustStatus(t, e.incoming(scope, "conv", "m-1b", "dup", t0), 400)
	mustStatus(t, edit(map[string]any{"conversation_id": "conv", "msgid": "nope", "message": map[string]any{"text": "x"}}), 404)
	mustStatus(t, edit(map[string]any{"conversation_id": "nope", "msgid": "m-2", "message": map[string]any{"text": "x"}}), 404)
	mustStatus(t, edit(map[string]any{"conversation_id": "conv", "id": nm["msgid"], "msgid": "m-2", "message": map[string]any{"text": "x"}}), 400)
	mustStatus(t, edit(map[string]any{"conversation_id": "conv", "msgid": "m-2"}), 400)
	mustStatus(t, edit(map[string]any{"conversation_id": "conv", "msgid": "m-2", "message": map[string]any{"text": ""}}), 400)
}

func TestTypingReactDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	nm := e.incoming(scope, "conv", "m-1", "hi", t0).json(t)["new_message"].(map[string]any)

	r := e.amojo("POST", custom+scope+"/typing", "", map[string]any{"conversation_id": "conv", "sender": map[string]any{"id": "client-1"}, "duration_ms": 3000})
	mustStatus(t, r, 204)
	if len(r.body) != 0 {
		t.Errorf("typing body %q", r.body)
	}
	mustStatus(t, e.amojo("POST", custom+scope+"/typing", "", map[string]any{"conversation_id": "nope", "sender": map[string]any{"id": "client-1"}}), 404)
	mustStatus(t, e.amojo("POST", custom+scope+"/typing", "", map[string]any{"conversation_id": "conv"}), 400)

	react := func(body map[string]any) result { return e.amojo("POST", custom+scope+"/react", "", body) }
	r = react(map[string]any{"conversation_id": "conv", "msgid": "m-1", "user": map[string]any{"id": "client-1"}, "type": "react", "emoji": "👍"})
	mustStatus(t, r, 200)
	if string(r.body) != "{}" {
		t.Errorf("react body %q", r.body)
	}
	mustStatus(t, react(map[string]any{"conversation_ref_id": nm["conversation_id"], "id": nm["msgid"], "user": map[string]any{"id": "m", "ref_id": amojotest.DefaultManagerAmojoID}, "type": "react", "emoji": "🔥"}), 200)
	ch, _ := e.srv.ChatByConversation(scope, "conv")
	if want := map[string]string{"client-1": "👍", amojotest.DefaultManagerAmojoID: "🔥"}; !reflect.DeepEqual(ch.Messages[0].Reactions, want) {
		t.Errorf("reactions %v", ch.Messages[0].Reactions)
	}
	mustStatus(t, react(map[string]any{"conversation_id": "conv", "msgid": "m-1", "user": map[string]any{"id": "client-1"}, "type": "unreact"}), 200)
	mustStatus(t, react(map[string]any{"conversation_id": "conv", "msgid": "nope", "user": map[string]any{"id": "client-1"}, "type": "react", "emoji": "x"}), 404)
	mustStatus(t, react(map[string]any{"conversation_id": "conv", "msgid": "m-1", "user": map[string]any{"id": "client-1"}, "type": "react"}), 400)
	mustStatus(t, react(map[string]any{"conversation_id": "conv", "msgid": "m-1", "user": map[string]any{"id": "client-1"}, "type": "love", "emoji": "x"}), 400)

	ds := func(id string, body map[string]any) result {
		return e.amojo("POST", custom+scope+"/"+id+"/delivery_status", "", body)
	}
	id := nm["msgid"].(string)
	r = ds(id, map[string]any{"msgid": id, "delivery_status": 2})
	mustStatus(t, r, 200)
	ch, _ = e.srv.ChatByConversation(scope, "conv")
	if ch.Messages[0].DeliveryStatus != 2 {
		t.Errorf("status %d", ch.Messages[0].DeliveryStatus)
	}
	mustStatus(t, ds(id, map[string]any{"msgid": id, "delivery_status": -1, "error_code": 901}), 200)
	mustStatus(t, ds("00000000-0000-0000-0000-000000000000", map[string]any{"delivery_status": 1}), 404)
	for _, body := range []map[string]any{
		{"msgid": "other", "delivery_status": 1},
		{"msgid": id},
		{"msgid": id, "delivery_status": 3},
		{"msgid": id, "delivery_status": -1},
		{"msgid": id, "delivery_status": -1, "error_code": 905},
		{"msgid": id, "delivery_status": "1"},
	} {
		r := ds(id, body)
		mustStatus(t, r, 400)
		errorCode(t, r)
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	// 60 messages imported out of order: history is by time, newest first.
	var chatID string
	for i := range 60 {
		n := (i * 37) % 60
		r := e.incoming(scope, "conv", fmt.Sprintf("m-%02d", n), fmt.Sprintf("text %02d", n), t0.Add(time.Duration(n)*time.Second))
		mustStatus(t, r, 200)
		chatID = r.json(t)["new_message"].(map[string]any)["conversation_id"].(string)
	}
	path := custom + scope + "/chats/" + chatID + "/history"
	page := func(query string) []any {
		r := e.amojo("GET", path, query, nil)
		mustStatus(t, r, 200)
		return r.json(t)["messages"].([]any)
	}
	first := page("") // default limit 50
	if len(first) != 50 {
		t.Fatalf("default page has %d messages", len(first))
	}
	item := first[0].(map[string]any)
	msg := item["message"].(map[string]any)
	if msg["client_id"] != "m-59" || msg["text"] != "text 59" || item["msec_timestamp"] != float64(t0.Add(59*time.Second).UnixMilli()) ||
		item["timestamp"] != float64(t0.Unix()+59) {
		t.Errorf("newest %v", item)
	}
	for _, k := range []string{"id", "type", "media", "thumbnail", "file_name", "file_size"} {
		if _, ok := msg[k]; !ok {
			t.Errorf("history message lacks %q: %v", k, msg)
		}
	}
	if _, ok := item["receiver"]; ok {
		t.Errorf("incoming item has a receiver: %v", item)
	}
	sender := item["sender"].(map[string]any)
	if sender["client_id"] != "client-1" || sender["name"] != "Client" || sender["phone"] != "+79151112233" || sender["id"] == "" {
		t.Errorf("sender %v", sender)
	}
	rest := page("offset=50&limit=50")
	if len(rest) != 10 || rest[9].(map[string]any)["message"].(map[string]any)["client_id"] != "m-00" {
		t.Errorf("second page %v", rest)
	}
	mid := page("offset=5&limit=3")
	var ids []string
	for _, it := range mid {
		ids = append(ids, it.(map[string]any)["message"].(map[string]any)["client_id"].(string))
	}
	if want := []string{"m-54", "m-53", "m-52"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("offset 5 limit 3: %v", ids)
	}
	mustStatus(t, e.amojo("GET", path, "offset=60", nil), 204)
	mustStatus(t, e.amojo("GET", custom+scope+"/chats/unknown/history", "", nil), 204)
	// A chat created without messages is empty.
	empty := e.amojo("POST", custom+scope+"/chats", "", map[string]any{"conversation_id": "empty", "user": map[string]any{"id": "client-1"}}).json(t)
	mustStatus(t, e.amojo("GET", custom+scope+"/chats/"+empty["id"].(string)+"/history", "", nil), 204)
	for _, q := range []string{"limit=51", "limit=0", "limit=x", "offset=-1"} {
		r := e.amojo("GET", path, q, nil)
		mustStatus(t, r, 400)
		errorCode(t, r)
	}
}

// TestMalformed sends bodies that are not what an endpoint reads.
func TestMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	scope := e.connect()
	paths := []string{custom + scope, custom + scope + "/chats", custom + scope + "/typing", custom + scope + "/react", custom + scope + "/x/delivery_status"}
	for _, p := range paths {
		for _, body := range []string{"", "null", "[]", `"s"`, "{", `{"payload":`, "\x00"} {
			r := e.amojo("POST", p, "", body)
			if r.status != 400 {
				t.Errorf("POST %s %q: status %d", p, body, r.status)
				continue
			}
			errorCode(t, r)
		}
	}
}
