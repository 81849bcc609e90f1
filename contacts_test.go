package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCreateContactSeed(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restReply(200, restFixture(t, "contacts_seed_response.json")))
	id, err := c.CreateContact(t.Context(), NewContact{FirstName: "Jack200803", LastName: "Tester"})
	if err != nil {
		t.Fatal(err)
	}
	if id != 3102959 {
		t.Errorf("id = %d", id)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	restCheckHeaders(t, reqs[0])
	if reqs[0].Method != "POST" || reqs[0].Path != restBase+"/api/v4/contacts" || reqs[0].Query != "" {
		t.Errorf("request %s %s?%s", reqs[0].Method, reqs[0].Path, reqs[0].Query)
	}
	if want := restCompact(t, "contacts_seed_request.json"); !bytes.Equal(reqs[0].Body, want) {
		t.Errorf("body\n%s\nwant\n%s", reqs[0].Body, want)
	}
}

func TestCreateContactsFields(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restReply(200, restFixture(t, "contacts_full_response.json")))
	ids, err := c.CreateContacts(t.Context(), []NewContact{
		{
			Name: "Example Client", FirstName: "Example", LastName: "Client",
			Phones:            []ContactPhone{{Value: "79151112233", Enum: PhoneMobile}, {Value: "+74950000000"}},
			Emails:            []ContactEmail{{Value: "example.client@example.com"}, {Value: "client@home.example", Enum: EmailPrivate}},
			ResponsibleUserID: 6158035,
			Tags:              []string{"chat", "import"},
			RequestID:         "sk-1376265f",
		},
		{Name: "Second"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The answer lists the contacts in another order; ids follow the input.
	if !slices.Equal(ids, []int64{3102960, 3102961}) {
		t.Errorf("ids = %v", ids)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if want := restCompact(t, "contacts_full_request.json"); !bytes.Equal(reqs[0].Body, want) {
		t.Errorf("body\n%s\nwant\n%s", reqs[0].Body, want)
	}
}

func TestCreateContactsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		contacts []NewContact
		field    string
	}{
		{"empty input", nil, "contacts"},
		{"unknown phone kind", []NewContact{{Name: "a"}, {Phones: []ContactPhone{{Value: "1", Enum: "CELL"}}}}, "contacts[1].Phones[0].Enum"},
		{"lowercase phone kind", []NewContact{{Phones: []ContactPhone{{Value: "1", Enum: "mob"}}}}, "contacts[0].Phones[0].Enum"},
		{"unknown e-mail kind", []NewContact{{Emails: []ContactEmail{{Value: "a@b", Enum: "HOME"}}}}, "contacts[0].Emails[0].Enum"},
		{"empty phone", []NewContact{{Phones: []ContactPhone{{Value: "1"}, {Value: "  "}}}}, "contacts[0].Phones[1].Value"},
		{"empty e-mail", []NewContact{{Emails: []ContactEmail{{Value: ""}}}}, "contacts[0].Emails[0].Value"},
		{"empty tag", []NewContact{{Tags: []string{""}}}, "contacts[0].Tags[0]"},
		{"negative responsible", []NewContact{{ResponsibleUserID: -1}}, "contacts[0].ResponsibleUserID"},
		{"request id equals another's index", []NewContact{{RequestID: "1"}, {}}, "contacts[1].RequestID"},
		{"duplicate request id", []NewContact{{RequestID: "x"}, {RequestID: "x"}}, "contacts[1].RequestID"},
		{"request id with line break", []NewContact{{RequestID: "a\nb"}}, "contacts[0].RequestID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			_, err := c.CreateContacts(t.Context(), tt.contacts)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("err = %v, want *ValidationError on %s", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "amojo: invalid "+tt.field) {
				t.Errorf("message %q", err)
			}
			if n := len(s.requests()); n != 0 {
				t.Errorf("%d requests sent before validation", n)
			}
		})
	}
}

// restEchoContacts answers POST /api/v4/contacts with id 1000+request_id for
// each contact, in reverse order.
func restEchoContacts(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in []struct {
			RequestID string `json:"request_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("request body: %v", err)
		}
		type item struct {
			ID        int64  `json:"id"`
			RequestID string `json:"request_id"`
		}
		var out struct {
			Embedded struct {
				Contacts []item `json:"contacts"`
			} `json:"_embedded"`
		}
		for i := len(in) - 1; i >= 0; i-- {
			n, _ := strconv.ParseInt(in[i].RequestID, 10, 64)
			out.Embedded.Contacts = append(out.Embedded.Contacts, item{ID: 1000 + n, RequestID: in[i].RequestID})
		}
		b, _ := json.Marshal(out)
		restReply(200, b)(w, r)
	}
}

func TestCreateContactsBatches(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restEchoContacts(t))
	in := make([]NewContact, 501)
	for i := range in {
		in[i].Name = fmt.Sprintf("c%d", i)
	}
	ids, err := c.CreateContacts(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 501 {
		t.Fatalf("%d ids", len(ids))
	}
	for i, id := range ids {
		if id != int64(1000+i) {
			t.Fatalf("ids[%d] = %d", i, id)
		}
	}
	reqs := s.requests()
	sizes := []int{}
	next := 0
	for _, r := range reqs {
		restCheckHeaders(t, r)
		var got []map[string]any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(got))
		for _, g := range got {
			if g["request_id"] != strconv.Itoa(next) || g["name"] != fmt.Sprintf("c%d", next) {
				t.Fatalf("item %v, want request_id %d", g, next)
			}
			next++
		}
	}
	if !slices.Equal(sizes, []int{250, 250, 1}) {
		t.Errorf("batch sizes %v, want [250 250 1]", sizes)
	}
}

func TestCreateContactsPartialFailure(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	calls := 0
	s.handle("POST", "/api/v4/contacts", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 2 {
			restReply(400, []byte(`{"validation-errors":[{"request_id":"300","errors":[{"code":"InvalidType","path":"custom_fields_values.0.values.0.value","detail":"This value should be a valid phone."}]},{"request_id":"310","errors":[{"code":"NotSupportedChoice","path":"responsible_user_id","detail":"User not found."}]}],"title":"Bad Request","type":"https://httpstatus.es/400","status":400,"detail":"Request validation failed"}`))(w, r)
			return
		}
		restEchoContacts(t)(w, r)
	})
	in := make([]NewContact, 600)
	ids, err := c.CreateContacts(t.Context(), in)
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BatchError", err, err)
	}
	if be.Done != 250 || be.Start != 250 || be.End != 500 || !slices.Equal(be.Failed, []int{300, 310}) || be.Op != "create contacts" {
		t.Errorf("BatchError %+v", be)
	}
	if len(ids) != 250 || ids[0] != 1000 || ids[249] != 1249 {
		t.Errorf("%d ids returned, want the first 250", len(ids))
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || len(ae.ValidationErrors) != 2 {
		t.Fatalf("no *APIError with validation errors inside: %v", err)
	}
	msg := err.Error()
	for _, w := range []string{
		"amojo: create contacts: items 250-499 failed (rejected: 300, 310), items 0-249 done",
		"POST /crm/api/v4/contacts: 400 Bad Request: Request validation failed",
		"item 300: custom_fields_values.0.values.0.value: This value should be a valid phone. (InvalidType)",
		"item 310: responsible_user_id: User not found. (NotSupportedChoice)",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
	if len(s.requests()) != 2 {
		t.Errorf("%d requests; the third batch must not be sent", len(s.requests()))
	}
}

func TestCreateContactValidationErrorFixture(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restReply(400, restFixture(t, "problem_400_validation.json")))
	_, err := c.CreateContacts(t.Context(), []NewContact{{Name: "ok"}, {Name: "bad"}})
	var be *BatchError
	if !errors.As(err, &be) || be.Done != 0 || !slices.Equal(be.Failed, []int{1}) {
		t.Fatalf("err = %v", err)
	}
	want := []ItemErrors{{RequestID: "1", Errors: []FieldError{{Code: "NotSupportedChoice", Path: "custom_fields_values.0.values.0.enum_code", Detail: "The value you selected is not a valid choice."}}}}
	var ae *APIError
	if !errors.As(err, &ae) || fmt.Sprint(ae.ValidationErrors) != fmt.Sprint(want) || ae.Title != "Bad Request" || ae.Detail != "Request validation failed" {
		t.Errorf("APIError %+v", ae)
	}
	if !strings.Contains(err.Error(), "none done") || !strings.Contains(err.Error(), "(rejected: 1)") {
		t.Errorf("message %q", err)
	}
	// The one-contact form returns the APIError itself.
	_, err = c.CreateContact(t.Context(), NewContact{Name: "bad"})
	if _, ok := err.(*APIError); !ok {
		t.Errorf("CreateContact err %T, want *APIError", err)
	}
	if n := len(s.requests()); n != 2 {
		t.Errorf("%d requests; 400 must not be retried", n)
	}
}

func TestCreateContactsBadAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer string
	}{
		{"unknown request id", `{"_embedded":{"contacts":[{"id":1,"request_id":"7"}]}}`},
		{"missing item", `{"_embedded":{"contacts":[]}}`},
		{"not HAL", `[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			s.handle("POST", "/api/v4/contacts", restReply(200, []byte(tt.answer)))
			_, err := c.CreateContact(t.Context(), NewContact{Name: "x"})
			var de *DecodeError
			if !errors.As(err, &de) || de.StatusCode != 200 {
				t.Errorf("err = %v (%T), want *DecodeError", err, err)
			}
		})
	}
	t.Run("request ids not echoed", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts", restReply(200, []byte(`{"_embedded":{"contacts":[{"id":5},{"id":6}]}}`)))
		ids, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}, {Name: "b"}})
		if err != nil || !slices.Equal(ids, []int64{5, 6}) {
			t.Errorf("ids %v err %v", ids, err)
		}
	})
	t.Run("numeric request ids", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts", restReply(200, []byte(`{"_embedded":{"contacts":[{"id":6,"request_id":1},{"id":5,"request_id":0}]}}`)))
		ids, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}, {Name: "b"}})
		if err != nil || !slices.Equal(ids, []int64{5, 6}) {
			t.Errorf("ids %v err %v", ids, err)
		}
	})
}

func TestLinkChatSeed(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts/chats", restReply(200, restFixture(t, "links_seed_response.json")))
	l, err := c.LinkChat(t.Context(), "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", 3102959)
	if err != nil {
		t.Fatal(err)
	}
	want := ChatLink{ChatID: "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", ContactID: 3102959, ID: 26219, RequestID: "0"}
	if *l != want {
		t.Errorf("link %+v", *l)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	restCheckHeaders(t, reqs[0])
	if reqs[0].Method != "POST" || reqs[0].Path != restBase+"/api/v4/contacts/chats" {
		t.Errorf("request %s %s", reqs[0].Method, reqs[0].Path)
	}
	if want := restCompact(t, "links_seed_request.json"); !bytes.Equal(reqs[0].Body, want) {
		t.Errorf("body\n%s\nwant\n%s", reqs[0].Body, want)
	}
}

func TestLinkChatsBatchesAndOrder(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts/chats", func(w http.ResponseWriter, r *http.Request) {
		var in []chatLinkBody
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		slices.Reverse(in)
		for i := range in {
			in[i].ID = 9000 + in[i].ContactID
		}
		b, _ := json.Marshal(map[string]any{"_total_items": len(in), "_embedded": map[string]any{"chats": in}})
		restReply(200, b)(w, r)
	})
	in := make([]ChatLink, 260)
	for i := range in {
		in[i] = ChatLink{ChatID: fmt.Sprintf("chat-%d", i), ContactID: int64(i + 1)}
	}
	in[3].RequestID = "mine"
	out, err := c.LinkChats(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 260 {
		t.Fatalf("%d links", len(out))
	}
	for i, l := range out {
		rid := strconv.Itoa(i)
		if i == 3 {
			rid = "mine"
		}
		if want := (ChatLink{ChatID: fmt.Sprintf("chat-%d", i), ContactID: int64(i + 1), ID: int64(9001 + i), RequestID: rid}); l != want {
			t.Fatalf("out[%d] = %+v, want %+v", i, l, want)
		}
	}
	if reqs := s.requests(); len(reqs) != 2 || bytes.Count(reqs[0].Body, []byte(`"chat_id"`)) != 250 || bytes.Count(reqs[1].Body, []byte(`"chat_id"`)) != 10 {
		t.Errorf("%d requests", len(reqs))
	}
}

func TestLinkChatErrors(t *testing.T) {
	t.Parallel()
	t.Run("validation", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		cases := []struct {
			run   func() error
			field string
		}{
			{func() error { _, err := c.LinkChat(t.Context(), "", 1); return err }, "chatID"},
			{func() error { _, err := c.LinkChat(t.Context(), "a b", 1); return err }, "chatID"},
			{func() error { _, err := c.LinkChat(t.Context(), "chat", 0); return err }, "contactID"},
			{func() error { _, err := c.LinkChats(t.Context(), nil); return err }, "links"},
			{func() error {
				_, err := c.LinkChats(t.Context(), []ChatLink{{ChatID: "a", ContactID: 1}, {ChatID: "b", ContactID: -4}})
				return err
			}, "links[1].ContactID"},
			{func() error {
				_, err := c.LinkChats(t.Context(), []ChatLink{{ChatID: "a", ContactID: 1}, {ContactID: 4}})
				return err
			}, "links[1].ChatID"},
			{func() error {
				_, err := c.LinkChats(t.Context(), []ChatLink{{ChatID: "a", ContactID: 1, RequestID: "x"}, {ChatID: "b", ContactID: 4, RequestID: "x"}})
				return err
			}, "links[1].RequestID"},
		}
		for i, tc := range cases {
			var ve *ValidationError
			if err := tc.run(); !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("case %d: err = %v, want invalid %s", i, err, tc.field)
			}
		}
		if n := len(s.requests()); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
	t.Run("403", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts/chats", restReply(403, restFixture(t, "problem_403.json")))
		_, err := c.LinkChat(t.Context(), "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", 3102959)
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != 403 || errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(err.Error(), "403 Forbidden: Access denied") {
			t.Errorf("message %q", err)
		}
	})
	t.Run("401 in batch", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts/chats", restReply(401, restFixture(t, "problem_401.json")))
		out, err := c.LinkChats(t.Context(), []ChatLink{{ChatID: "a", ContactID: 1}})
		var be *BatchError
		if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &be) || be.Op != "link chats" || len(out) != 0 {
			t.Errorf("out %v err %v", out, err)
		}
	})
}

func TestChatLinks(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/contacts/chats", restReply(200, restFixture(t, "links_list_response.json")))
	links, err := c.ChatLinks(t.Context(), ChatLinkFilter{
		ChatIDs:    []string{"6cbab3d5-c4c1-46ff-b710-ad59ad10805f", "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "6cbab3d5-c4c1-46ff-b710-ad59ad10805f"},
		ContactIDs: []int64{3102959},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ChatLink{
		{ChatID: "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", ContactID: 3102959, ID: 26219},
		{ChatID: "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", ContactID: 3102959, ID: 26220},
	}
	if !slices.Equal(links, want) {
		t.Errorf("links %+v", links)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	restCheckHeaders(t, reqs[0])
	// Duplicate ids are sent once; arrays use the [] syntax.
	wantQuery := "chat_id%5B%5D=6cbab3d5-c4c1-46ff-b710-ad59ad10805f&chat_id%5B%5D=0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b&contact_id%5B%5D=3102959"
	if reqs[0].Method != "GET" || reqs[0].Path != restBase+"/api/v4/contacts/chats" || reqs[0].Query != wantQuery {
		t.Errorf("request %s %s?%s", reqs[0].Method, reqs[0].Path, reqs[0].Query)
	}
}

func TestChatLinksNoContent(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/contacts/chats", restReply(204, nil))
	links, err := c.ChatLinks(t.Context(), ChatLinkFilter{ContactIDs: []int64{42}})
	if err != nil || links == nil || len(links) != 0 {
		t.Errorf("links %#v err %v, want an empty slice", links, err)
	}
	if r := s.requests(); len(r) != 1 || r[0].Query != "contact_id%5B%5D=42" {
		t.Errorf("requests %+v", r)
	}
}

func TestChatLinksSplitsLongFilters(t *testing.T) {
	t.Parallel()
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	nums := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	tests := []struct {
		name         string
		f            ChatLinkFilter
		wantRequests int
	}{
		{"50 chats fit", ChatLinkFilter{ChatIDs: ids("c", 50)}, 1},
		{"120 chats", ChatLinkFilter{ChatIDs: ids("c", 120)}, 3},
		{"51 contacts", ChatLinkFilter{ContactIDs: nums(51)}, 2},
		{"30 chats and 30 contacts", ChatLinkFilter{ChatIDs: ids("c", 30), ContactIDs: nums(30)}, 4},
		{"20 chats and 30 contacts fit", ChatLinkFilter{ChatIDs: ids("c", 20), ContactIDs: nums(30)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			// The server links every chat it is asked about to contact 1, and
			// contact 1 to chat "c0": answers overlap and must be merged.
			s.handle("GET", "/api/v4/contacts/chats", func(w http.ResponseWriter, r *http.Request) {
				q, _ := url.ParseQuery(r.URL.RawQuery)
				type link struct {
					ChatID    string `json:"chat_id"`
					ContactID int64  `json:"contact_id"`
					ID        int64  `json:"id"`
				}
				var out []link
				for _, ch := range q["chat_id[]"] {
					n, _ := strconv.Atoi(strings.TrimPrefix(ch, "c"))
					out = append(out, link{ch, 1, int64(100 + n)})
				}
				if slices.Contains(q["contact_id[]"], "1") {
					out = append(out, link{"c0", 1, 100})
				}
				if len(out) == 0 {
					restReply(204, nil)(w, r)
					return
				}
				b, _ := json.Marshal(map[string]any{"_embedded": map[string]any{"chats": out}})
				restReply(200, b)(w, r)
			})
			links, err := c.ChatLinks(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			reqs := s.requests()
			if len(reqs) != tt.wantRequests {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			asked := map[string]int{}
			for _, r := range reqs {
				q, _ := url.ParseQuery(r.Query)
				if n := len(q["chat_id[]"]) + len(q["contact_id[]"]); n > 50 {
					t.Errorf("a request has %d ids", n)
				}
				for _, id := range q["chat_id[]"] {
					asked["chat "+id]++
				}
				for _, id := range q["contact_id[]"] {
					asked["contact "+id]++
				}
			}
			for _, id := range tt.f.ChatIDs {
				if asked["chat "+id] == 0 {
					t.Errorf("chat %s never asked", id)
				}
			}
			for _, id := range tt.f.ContactIDs {
				if asked["contact "+strconv.FormatInt(id, 10)] == 0 {
					t.Errorf("contact %d never asked", id)
				}
			}
			wantLinks := max(len(tt.f.ChatIDs), 1)
			if len(links) != wantLinks {
				t.Errorf("%d links, want %d (merged without duplicates)", len(links), wantLinks)
			}
			seen := map[ChatLink]bool{}
			for _, l := range links {
				if seen[l] {
					t.Errorf("duplicate %+v", l)
				}
				seen[l] = true
			}
		})
	}
}

func TestChatLinksValidation(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	tests := []struct {
		f     ChatLinkFilter
		field string
	}{
		{ChatLinkFilter{}, "ChatLinkFilter"},
		{ChatLinkFilter{ChatIDs: []string{"a", ""}}, "ChatLinkFilter.ChatIDs[1]"},
		{ChatLinkFilter{ContactIDs: []int64{0}}, "ChatLinkFilter.ContactIDs[0]"},
	}
	for _, tt := range tests {
		var ve *ValidationError
		if _, err := c.ChatLinks(t.Context(), tt.f); !errors.As(err, &ve) || ve.Field != tt.field {
			t.Errorf("%+v: err = %v, want invalid %s", tt.f, err, tt.field)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCreateContactsNotRetriedAfterALostAnswer(t *testing.T) {
	t.Parallel()
	for _, code := range []int{502, 503, 504} {
		srv := newScriptServer(t, status(code, ""), status(200, `{"_embedded":{"contacts":[{"id":1,"request_id":"0"}]}}`))
		crm, err := NewCRMClient(srv.URL, StaticToken("t"), withTestSleep((&sleepRecorder{}).sleep))
		if err != nil {
			t.Fatal(err)
		}
		_, err = crm.CreateContacts(t.Context(), []NewContact{{Name: "A"}})
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != code {
			t.Errorf("%d: err = %v", code, err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d: %d attempts, want 1", code, n)
		}
	}
	// 429 means amoCRM did nothing: retried.
	srv := newScriptServer(t, status(429, "", "Retry-After", "1"), status(200, `{"_embedded":{"contacts":[{"id":7,"request_id":"0"}]}}`))
	crm, err := NewCRMClient(srv.URL, StaticToken("t"), withTestSleep((&sleepRecorder{}).sleep))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := crm.CreateContacts(t.Context(), []NewContact{{Name: "A"}})
	if err != nil || len(ids) != 1 || ids[0] != 7 || len(srv.Requests()) != 2 {
		t.Fatalf("ids = %v, err = %v, attempts %d", ids, err, len(srv.Requests()))
	}
}

func TestFindContacts(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/contacts", func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("page") == "1" && q.Get("query") != "" {
			restReply(200, restFixture(t, "contacts_find_response.json"))(w, r)
			return
		}
		restReply(204, nil)(w, r)
	})
	from := time.Date(2020, 8, 3, 16, 6, 48, 900_000_000, time.UTC)
	var got []Contact
	for ct, err := range c.FindContacts(t.Context(), ContactQuery{Query: "+7 915 111-22-33", CreatedFrom: from}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ct)
	}
	want := []Contact{
		{ID: 3102959, Name: "Jack200803 Tester", FirstName: "Jack200803", LastName: "Tester", ResponsibleUserID: 6118045,
			Phones:    []ContactPhone{{Value: "+7 915 111-22-33", Enum: PhoneMobile}, {Value: "79151112233", Enum: PhoneWork}},
			Emails:    []ContactEmail{{Value: "example.client@example.com", Enum: EmailWork}},
			CreatedAt: time.Unix(1596470809, 0).UTC()},
		{ID: 3102960, Name: "Example Client", ResponsibleUserID: 6118045, CreatedAt: time.Unix(1596470900, 0).UTC()},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("contacts\n got %+v\nwant %+v", got, want)
	}
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs {
		restCheckHeaders(t, r)
		q, _ := url.ParseQuery(r.Query)
		want := url.Values{"query": {"+7 915 111-22-33"}, "filter[created_at][from]": {"1596470808"}, "page": {strconv.Itoa(i + 1)}, "limit": {"250"}}
		if r.Method != "GET" || r.Path != restBase+"/api/v4/contacts" || !reflect.DeepEqual(q, want) {
			t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
		}
	}

	// Nothing found; no query and no bound send neither; bad input sends nothing.
	for range c.FindContacts(t.Context(), ContactQuery{}) {
		t.Error("a 204 yielded")
	}
	if q := s.requests()[2].Query; q != "limit=250&page=1" {
		t.Errorf("query %q", q)
	}
	for _, bad := range []struct {
		q     ContactQuery
		field string
	}{
		{ContactQuery{Query: "a\nb"}, "ContactQuery.Query"},
		{ContactQuery{CreatedFrom: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "ContactQuery.CreatedFrom"},
	} {
		n := 0
		for _, err := range c.FindContacts(t.Context(), bad.q) {
			n++
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != bad.field {
				t.Errorf("err = %v, want one for %s", err, bad.field)
			}
		}
		if n != 1 {
			t.Errorf("%d results for %+v", n, bad.q)
		}
	}
	if n := len(s.requests()); n != 3 {
		t.Errorf("%d requests", n)
	}
}

// TestFindContactsRepeatedPage: a server that ignores page= ends the walk
// with an error instead of looping.
func TestFindContactsRepeatedPage(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/contacts", restReply(200, restFixture(t, "contacts_find_response.json")))
	var n int
	var last error
	for _, err := range c.FindContacts(t.Context(), ContactQuery{Query: "x"}) {
		n++
		last = err
	}
	if n != 3 || last == nil || !strings.Contains(last.Error(), "page 2 repeats page 1") {
		t.Errorf("%d results, last error %v", n, last)
	}
}

// FuzzDecodeFoundContacts feeds arbitrary bytes to the decoder of GET
// /api/v4/contacts answers. It must not panic, and what it reads keeps only
// string values of the PHONE and EMAIL fields.
func FuzzDecodeFoundContacts(f *testing.F) {
	f.Add(restFixture(f, "contacts_find_response.json"))
	f.Add([]byte(`{"_embedded":{"contacts":[{"id":"x","custom_fields_values":[{"field_code":"PHONE","values":[{"value":{"a":1}},{"value":null}]}]}]}}`))
	f.Add([]byte(`{"_links":{"next":null},"_embedded":{"contacts":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b halFoundContacts
		if json.Unmarshal(data, &b) != nil {
			return
		}
		_ = b.Links.hasNext()
		for i := range b.Embedded.Contacts {
			c := b.Embedded.Contacts[i].contact()
			if c.CreatedAt.IsZero() != (b.Embedded.Contacts[i].CreatedAt <= 0) {
				t.Fatalf("created_at %d read as %v", b.Embedded.Contacts[i].CreatedAt, c.CreatedAt)
			}
		}
	})
}

// TestCreateContactsBeforeSend: the hook runs right before each attempt
// leaves, after the rate-limit wait and the back-off of a 429, with the
// client's clock and the input range of the request.
func TestCreateContactsBeforeSend(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var events []string
	event := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf(format, args...))
	}
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	sleep := withTestSleep(func(_ <-chan struct{}, d time.Duration) bool {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
		event("sleep")
		return true
	})
	c, s := restSetup(t, sleep, WithClock(clock), WithRateLimit(1, 1))
	var calls atomic.Int32
	s.handle("POST", "/api/v4/contacts", func(w http.ResponseWriter, r *http.Request) {
		event("server")
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			restReply(429, []byte(`{"title":"Too Many Requests","status":429}`))(w, r)
			return
		}
		var in []struct {
			RequestID string `json:"request_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		var out []string
		for i, it := range in {
			out = append(out, fmt.Sprintf(`{"id":%d,"request_id":%q}`, 1000+i, it.RequestID))
		}
		restReply(200, []byte(`{"_embedded":{"contacts":[`+strings.Join(out, ",")+`]}}`))(w, r)
	})
	contacts := make([]NewContact, 300)
	for i := range contacts {
		contacts[i].Name = fmt.Sprintf("c-%d", i)
	}
	var seen []ContactsAttempt
	ids, err := c.CreateContacts(t.Context(), contacts, BeforeSendContacts(func(_ context.Context, a ContactsAttempt) error {
		if !a.Time.Equal(clock()) {
			t.Errorf("attempt at %v, clock %v", a.Time, clock())
		}
		seen = append(seen, a)
		event("hook")
		return nil
	}))
	if err != nil || len(ids) != 300 {
		t.Fatalf("%d ids, %v", len(ids), err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []ContactsAttempt{{0, 250, 1, t0}, {0, 250, 2, seen[1].Time}, {250, 300, 1, seen[2].Time}}
	if !reflect.DeepEqual(seen, want) || !seen[1].Time.After(t0) || !seen[2].Time.After(seen[1].Time) {
		t.Errorf("attempts %+v", seen)
	}
	// Each hook is followed by its request, with no wait between.
	if got := strings.Join(events, " "); !regexp.MustCompile(`^hook server( sleep)+ hook server( sleep)+ hook server$`).MatchString(got) {
		t.Errorf("events %s", got)
	}
}

// TestCreateContactsBeforeSendRefuses: an error from the hook keeps the
// attempt from leaving.
func TestCreateContactsBeforeSendRefuses(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restReply(200, restFixture(t, "contacts_seed_response.json")))
	full := errors.New("checkpoint full")
	_, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}}, BeforeSendContacts(func(context.Context, ContactsAttempt) error { return full }))
	var be *BatchError
	if !errors.As(err, &be) || be.Done != 0 || !errors.Is(err, full) {
		t.Errorf("err = %v", err)
	}
	_, err = c.CreateContact(t.Context(), NewContact{Name: "a"}, BeforeSendContacts(nil))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "BeforeSendContacts" {
		t.Errorf("err = %v", err)
	}
	if _, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}}, nil); err == nil {
		t.Error("a nil option was accepted")
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
