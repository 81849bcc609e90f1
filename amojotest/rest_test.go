package amojotest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// noLimit turns the REST rate limit off for tests that are not about it:
// their clock stands still.
var noLimit = amojotest.WithRateLimit(0, 0)

// problemOf checks a problem+json answer and returns it.
func problemOf(t *testing.T, r result, status int) map[string]any {
	t.Helper()
	mustStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	m := r.json(t)
	if m["status"] != float64(status) || m["type"] != fmt.Sprintf("https://httpstatus.es/%d", status) || m["title"] == "" {
		t.Errorf("problem %s", r.body)
	}
	return m
}

func TestRESTAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, amojotest.WithToken("tok-1"), amojotest.WithToken("tok-2"))
	for _, tok := range []string{"", "wrong", amojotest.DefaultToken} {
		p := problemOf(t, e.rest("GET", "/api/v4/account", "", nil, tok), 401)
		if p["title"] != "Unauthorized" {
			t.Errorf("title %v", p["title"])
		}
	}
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, "tok-2"), 200)
	if e.srv.Token() != "tok-1" {
		t.Errorf("Token() = %q", e.srv.Token())
	}
	// Basic instead of Bearer.
	r := e.rest("GET", "/api/v4/account", "", nil, "")
	problemOf(t, r, 401)
}

func TestAccountAndUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	r := e.rest("GET", "/api/v4/account", "with=amojo_id", nil, tok)
	mustStatus(t, r, 200)
	if ct := r.header.Get("Content-Type"); ct != "application/hal+json" {
		t.Errorf("Content-Type %q", ct)
	}
	acc := r.json(t)
	if acc["amojo_id"] != amojotest.DefaultAccountID || acc["id"] != float64(amojotest.DefaultAccountNum) ||
		acc["subdomain"] != amojotest.DefaultSubdomain || acc["current_user_id"] != float64(amojotest.DefaultManagerID) {
		t.Errorf("account %s", r.body)
	}
	if self := acc["_links"].(map[string]any)["self"].(map[string]any)["href"]; self != e.srv.CRMURL+"/api/v4/account" {
		t.Errorf("self %v", self)
	}
	if _, ok := e.rest("GET", "/api/v4/account", "", nil, tok).json(t)["amojo_id"]; ok {
		t.Error("amojo_id without with=amojo_id")
	}

	r = e.rest("GET", "/api/v4/users", "with=amojo_id", nil, tok)
	mustStatus(t, r, 200)
	users := r.json(t)["_embedded"].(map[string]any)["users"].([]any)
	if len(users) != 2 {
		t.Fatalf("users %s", r.body)
	}
	u := users[0].(map[string]any)
	if u["id"] != float64(amojotest.DefaultManagerID) || u["amojo_id"] != amojotest.DefaultManagerAmojoID || u["name"] != amojotest.DefaultManagerName {
		t.Errorf("user %v", u)
	}
	if _, ok := e.rest("GET", "/api/v4/users", "", nil, tok).json(t)["_embedded"].(map[string]any)["users"].([]any)[0].(map[string]any)["amojo_id"]; ok {
		t.Error("amojo_id without with=")
	}
}

func TestUsersPaging(t *testing.T) {
	t.Parallel()
	var users []amojotest.User
	for i := range 7 {
		users = append(users, amojotest.User{ID: 100 + i, AmojoID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Name: fmt.Sprint("U", i)})
	}
	e := newEnv(t, noLimit, amojotest.WithAccount(amojotest.Account{AmojoID: "acc", ID: 1, Subdomain: "s", Users: users}))
	tok := e.srv.Token()
	var got []float64
	query := "with=amojo_id&limit=3"
	for page := 1; ; page++ {
		r := e.rest("GET", "/api/v4/users", query, nil, tok)
		mustStatus(t, r, 200)
		m := r.json(t)
		if m["_page"] != float64(page) || m["_total_items"] != float64(7) || m["_page_count"] != float64(3) {
			t.Errorf("page %d: %s", page, r.body)
		}
		for _, u := range m["_embedded"].(map[string]any)["users"].([]any) {
			got = append(got, u.(map[string]any)["id"].(float64))
		}
		next, ok := m["_links"].(map[string]any)["next"].(map[string]any)
		if !ok {
			break
		}
		href := next["href"].(string)
		if !strings.HasPrefix(href, e.srv.CRMURL+"/api/v4/users?") {
			t.Fatalf("next %q", href)
		}
		query = strings.SplitN(href, "?", 2)[1]
	}
	if want := []float64{100, 101, 102, 103, 104, 105, 106}; !reflect.DeepEqual(got, want) {
		t.Errorf("ids %v", got)
	}
	mustStatus(t, e.rest("GET", "/api/v4/users", "page=4&limit=3", nil, tok), 204)
	for _, q := range []string{"limit=251", "limit=0", "page=0", "page=x"} {
		problemOf(t, e.rest("GET", "/api/v4/users", q, nil, tok), 400)
	}
	mustStatus(t, e.rest("GET", "/api/v4/users", "limit=250", nil, tok), 200)
}

func TestContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	body := `[
		{"name":"Jack Tester","responsible_user_id":6118045,"request_id":"a",
		 "custom_fields_values":[{"field_code":"PHONE","values":[{"value":"+79151112233","enum_code":"WORK"}]},
		                         {"field_code":"EMAIL","values":[{"value":"c@example.com","enum_code":"PRIV"}]}],
		 "tags_to_add":[{"name":"chat"}],"_embedded":{"tags":[{"id":5}]}},
		{"first_name":"Jack200803","last_name":"Tester"}
	]`
	r := e.rest("POST", "/api/v4/contacts", "", body, tok)
	mustStatus(t, r, 200)
	m := r.json(t)
	if self := m["_links"].(map[string]any)["self"].(map[string]any)["href"]; self != e.srv.CRMURL+"/api/v4/contacts" {
		t.Errorf("self %v", self)
	}
	items := m["_embedded"].(map[string]any)["contacts"].([]any)
	if len(items) != 2 {
		t.Fatalf("answer %s", r.body)
	}
	a, b := items[0].(map[string]any), items[1].(map[string]any)
	if a["request_id"] != "a" || b["request_id"] != "1" || a["id"] == b["id"] {
		t.Errorf("items %v %v", a, b)
	}
	if href := b["_links"].(map[string]any)["self"].(map[string]any)["href"]; href != fmt.Sprintf("%s/api/v4/contacts/%d", e.srv.CRMURL, int(b["id"].(float64))) {
		t.Errorf("href %v", href)
	}
	got := e.srv.Contacts()
	if len(got) != 2 || float64(got[0].ID) != a["id"] || got[1].Name != "Jack200803 Tester" {
		t.Fatalf("Contacts %+v", got)
	}
	c := got[0]
	if c.ResponsibleUserID != amojotest.DefaultManagerID || !reflect.DeepEqual(c.Phones, []amojotest.FieldValue{{Value: "+79151112233", EnumCode: "WORK"}}) ||
		!reflect.DeepEqual(c.Emails, []amojotest.FieldValue{{Value: "c@example.com", EnumCode: "PRIV"}}) ||
		!reflect.DeepEqual(c.Tags, []string{"chat", "#5"}) || c.AccountID != amojotest.DefaultAccountID {
		t.Errorf("contact %+v", c)
	}

	bad := []struct {
		name, body, path, code string
	}{
		{"phone enum", `[{"name":"x","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"1","enum_code":"PRIV"}]}]}]`,
			"custom_fields_values.0.values.0.enum_code", amojotest.CodeNotSupportedChoice},
		{"email enum", `[{"name":"x","custom_fields_values":[{"field_code":"EMAIL","values":[{"value":"a@b","enum_code":"MOB"}]}]}]`,
			"custom_fields_values.0.values.0.enum_code", amojotest.CodeNotSupportedChoice},
		{"field code", `[{"name":"x","custom_fields_values":[{"field_code":"SKYPE","values":[{"value":"1"}]}]}]`,
			"custom_fields_values.0.field_code", amojotest.CodeNotSupportedChoice},
		{"name type", `[{"name":5}]`, "name", amojotest.CodeInvalidType},
		{"responsible user", `[{"name":"x","responsible_user_id":1}]`, "responsible_user_id", amojotest.CodeNotSupportedChoice},
		{"request_id type", `[{"name":"x","request_id":1}]`, "request_id", amojotest.CodeInvalidType},
		{"empty value", `[{"custom_fields_values":[{"field_id":1001,"values":[{"value":""}]}]}]`, "custom_fields_values.0.values.0.value", amojotest.CodeNotBlank},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, srv: e.srv, clock: e.clock}
			p := problemOf(t, e.rest("POST", "/api/v4/contacts", "", `[{"name":"fine"},`+tt.body[1:], tok), 400)
			ve, _ := p["validation-errors"].([]any)
			if len(ve) != 1 {
				t.Fatalf("validation-errors %v", p)
			}
			item := ve[0].(map[string]any)
			errs := item["errors"].([]any)
			fe := errs[0].(map[string]any)
			if fe["path"] != tt.path || fe["code"] != tt.code || fe["detail"] == "" {
				t.Errorf("error %v", fe)
			}
			if rid := item["request_id"]; rid != "1" {
				t.Errorf("request_id %v", rid)
			}
		})
	}
	if n := len(e.srv.Contacts()); n != 2 {
		t.Errorf("a refused batch created contacts: %d", n)
	}
	big := "[" + strings.TrimSuffix(strings.Repeat(`{"name":"x"},`, 251), ",") + "]"
	problemOf(t, e.rest("POST", "/api/v4/contacts", "", big, tok), 400)
	problemOf(t, e.rest("POST", "/api/v4/contacts", "", `[]`, tok), 400)
	problemOf(t, e.rest("POST", "/api/v4/contacts", "", `{"name":"x"}`, tok), 400)
	ok250 := "[" + strings.TrimSuffix(strings.Repeat(`{"name":"x"},`, 250), ",") + "]"
	mustStatus(t, e.rest("POST", "/api/v4/contacts", "", ok250, tok), 200)
}

func TestChatLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	scope := e.connect()
	chatID := func(conv string) string {
		return e.amojo("POST", custom+scope+"/chats", "", map[string]any{"conversation_id": conv, "user": map[string]any{"id": "c", "name": "C"}}).json(t)["id"].(string)
	}
	chat1, chat2 := chatID("one"), chatID("two")
	contacts := e.rest("POST", "/api/v4/contacts", "", `[{"name":"a"},{"name":"b"}]`, tok).json(t)["_embedded"].(map[string]any)["contacts"].([]any)
	c1 := int(contacts[0].(map[string]any)["id"].(float64))
	c2 := int(contacts[1].(map[string]any)["id"].(float64))

	r := e.rest("POST", "/api/v4/contacts/chats", "", fmt.Sprintf(`[{"contact_id":%d,"chat_id":%q},{"contact_id":%d,"chat_id":%q,"request_id":"x"}]`, c1, chat1, c1, chat2), tok)
	mustStatus(t, r, 200)
	m := r.json(t)
	links := m["_embedded"].(map[string]any)["chats"].([]any)
	if m["_total_items"] != float64(2) || len(links) != 2 {
		t.Fatalf("link answer %s", r.body)
	}
	l0 := links[0].(map[string]any)
	if l0["chat_id"] != chat1 || l0["contact_id"] != float64(c1) || l0["request_id"] != "0" || l0["id"] == nil || links[1].(map[string]any)["request_id"] != "x" {
		t.Errorf("links %v", links)
	}

	list := func(query string) []any {
		r := e.rest("GET", "/api/v4/contacts/chats", query, nil, tok)
		mustStatus(t, r, 200)
		return r.json(t)["_embedded"].(map[string]any)["chats"].([]any)
	}
	for _, q := range []string{"chat_id[]=" + chat1, "chat_id=" + chat1, fmt.Sprintf("chat_id[]=%s&contact_id[]=%d", chat1, c1)} {
		got := list(q)
		if len(got) != 1 || got[0].(map[string]any)["chat_id"] != chat1 {
			t.Errorf("%s: %v", q, got)
		}
		if _, ok := got[0].(map[string]any)["request_id"]; ok {
			t.Errorf("list has request_id: %v", got)
		}
	}
	if got := list(fmt.Sprintf("contact_id=%d", c1)); len(got) != 2 {
		t.Errorf("by contact: %v", got)
	}
	if got := list(fmt.Sprintf("chat_id[]=%s&chat_id[]=%s", chat1, chat2)); len(got) != 2 {
		t.Errorf("two chats: %v", got)
	}
	mustStatus(t, e.rest("GET", "/api/v4/contacts/chats", fmt.Sprintf("contact_id[]=%d", c2), nil, tok), 204)
	mustStatus(t, e.rest("GET", "/api/v4/contacts/chats", "chat_id[]=nope", nil, tok), 204)
	problemOf(t, e.rest("GET", "/api/v4/contacts/chats", "", nil, tok), 400)
	problemOf(t, e.rest("GET", "/api/v4/contacts/chats", "contact_id=x", nil, tok), 400)

	// Re-linking a chat to another contact moves it.
	mustStatus(t, e.rest("POST", "/api/v4/contacts/chats", "", fmt.Sprintf(`[{"contact_id":%d,"chat_id":%q}]`, c2, chat1), tok), 200)
	if got := list("chat_id=" + chat1); got[0].(map[string]any)["contact_id"] != float64(c2) {
		t.Errorf("relinked %v", got)
	}
	if n := len(e.srv.Links()); n != 2 {
		t.Errorf("Links %v", e.srv.Links())
	}
	for _, body := range []string{
		fmt.Sprintf(`[{"contact_id":1,"chat_id":%q}]`, chat1),
		fmt.Sprintf(`[{"contact_id":%d,"chat_id":"nope"}]`, c1),
		fmt.Sprintf(`[{"contact_id":%d}]`, c1),
		fmt.Sprintf(`[{"contact_id":"%d","chat_id":%q}]`, c1, chat1),
	} {
		p := problemOf(t, e.rest("POST", "/api/v4/contacts/chats", "", body, tok), 400)
		if _, ok := p["validation-errors"]; !ok {
			t.Errorf("%s: %v", body, p)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.srv.Token()
	for range 7 {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	}
	p := problemOf(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	if p["title"] != "Too Many Requests" {
		t.Errorf("title %v", p["title"])
	}
	// The clock stands still: still limited. One seventh of a second later one
	// more request passes, and then the limit holds again.
	problemOf(t, e.rest("GET", "/api/v4/users", "", nil, tok), 429)
	e.clock.Add(time.Second / 7)
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	problemOf(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	// A full second refills the burst.
	e.clock.Add(time.Second)
	for range 7 {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	}
	problemOf(t, e.rest("GET", "/api/v4/account", "", nil, tok), 429)
	// Turned off.
	e.srv.SetRateLimit(0, 0)
	for range 20 {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), 200)
	}
	// amojo calls are not limited.
	e2 := newEnv(t, amojotest.WithRateLimit(1, 1))
	e2.connect()
	for range 10 {
		mustStatus(t, e2.amojo("GET", custom+e2.srv.ScopeID()+"/chats/x/history", "", nil), 204)
	}
	mustStatus(t, e2.rest("GET", "/api/v4/account", "", nil, e2.srv.Token()), 200)
	problemOf(t, e2.rest("GET", "/api/v4/account", "", nil, e2.srv.Token()), 429)
}

// TestFindContacts: GET /api/v4/contacts searches names, phones (also by
// their digits) and e-mails, filters on created_at, pages, and answers 204
// when nothing matches; CRMClient.FindContacts reads it.
func TestFindContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	create := func(body string) {
		t.Helper()
		mustStatus(t, e.rest("POST", "/api/v4/contacts", "", body, tok), 200)
	}
	create(`[{"name":"Ann Old","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"+7 915 111-22-33","enum_code":"MOB"}]}]}]`)
	e.clock.Add(time.Minute)
	create(`[{"first_name":"Jack","last_name":"Tester","custom_fields_values":[{"field_code":"EMAIL","values":[{"value":"Jack@Example.com","enum_code":"WORK"}]}]},
		{"name":"Ann New","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"79151112233","enum_code":"WORK"}]}]}]`)
	all := e.srv.Contacts()
	ids := func(r result) []int {
		t.Helper()
		mustStatus(t, r, 200)
		var out []int
		for _, c := range r.json(t)["_embedded"].(map[string]any)["contacts"].([]any) {
			out = append(out, int(c.(map[string]any)["id"].(float64)))
		}
		return out
	}
	since := fmt.Sprint(t0.Add(time.Minute).Unix())
	for _, tt := range []struct {
		query string
		want  []int
	}{
		{"", []int{all[0].ID, all[1].ID, all[2].ID}},
		{"query=ann", []int{all[0].ID, all[2].ID}},
		{"query=79151112233", []int{all[0].ID, all[2].ID}},
		{"query=jack%40example.com", []int{all[1].ID}},
		{"query=tester", []int{all[1].ID}},
		{"query=ann&filter%5Bcreated_at%5D%5Bfrom%5D=" + since, []int{all[2].ID}},
		{"filter%5Bcreated_at%5D%5Bto%5D=" + fmt.Sprint(t0.Unix()), []int{all[0].ID}},
		{"limit=2", []int{all[0].ID, all[1].ID}},
		{"limit=2&page=2", []int{all[2].ID}},
	} {
		if got := ids(e.rest("GET", "/api/v4/contacts", tt.query, nil, tok)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.query, got, tt.want)
		}
	}
	r := e.rest("GET", "/api/v4/contacts", "limit=2", nil, tok)
	page := r.json(t)
	links := page["_links"].(map[string]any)
	if next, _ := links["next"].(map[string]any); next == nil || !strings.Contains(next["href"].(string), "page=2") {
		t.Errorf("links %v", links)
	}
	item := page["_embedded"].(map[string]any)["contacts"].([]any)[0].(map[string]any)
	fields := item["custom_fields_values"].([]any)
	if item["name"] != "Ann Old" || item["created_at"] != float64(t0.Unix()) || len(fields) != 1 ||
		fields[0].(map[string]any)["field_code"] != "PHONE" || fields[0].(map[string]any)["field_id"] != float64(amojotest.PhoneFieldID) {
		t.Errorf("contact %s", r.body)
	}
	mustStatus(t, e.rest("GET", "/api/v4/contacts", "query=nobody", nil, tok), 204)
	mustStatus(t, e.rest("GET", "/api/v4/contacts", "page=3&limit=2", nil, tok), 204)
	for _, bad := range []string{"limit=251", "page=0", "filter%5Bcreated_at%5D%5Bfrom%5D=yesterday"} {
		problemOf(t, e.rest("GET", "/api/v4/contacts", bad, nil, tok), 400)
	}

	// The client walks the pages and reads the fields back.
	var found []amojo.Contact
	for c, err := range e.srv.CRMClient().FindContacts(t.Context(), amojo.ContactQuery{Query: "79151112233", CreatedFrom: t0.Add(30 * time.Second)}) {
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, c)
	}
	want := []amojo.Contact{{ID: int64(all[2].ID), Name: "Ann New", Phones: []amojo.ContactPhone{{Value: "79151112233", Enum: amojo.PhoneWork}}, CreatedAt: t0.Add(time.Minute)}}
	if !reflect.DeepEqual(found, want) {
		t.Errorf("found %+v\nwant %+v", found, want)
	}
	for _, err := range e.srv.CRMClient().FindContacts(t.Context(), amojo.ContactQuery{Query: "nobody"}) {
		t.Errorf("nothing should be found: %v", err)
	}
	if fr := e.srv.RequestsTo(amojotest.RouteFindContacts); len(fr) == 0 || fr[len(fr)-1].Query.Get("query") != "nobody" {
		t.Errorf("requests %+v", fr)
	}
}
