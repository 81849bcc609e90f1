package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateContactSeed(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts", restReply(200, restFixture(t, "contacts_seed_response.json")))
	id, err := c.CreateContact(t.Context(), NewContact{FirstName: "Jack200803", LastName: "Tester"})
	require.NoError(t, err)
	assert.Equal(t, int64(3102959), id)
	reqs := s.requests()
	require.Len(t, reqs, 1)
	restCheckHeaders(t, reqs[0])
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, restBase+"/api/v4/contacts", reqs[0].Path)
	assert.Empty(t, reqs[0].Query)
	assert.Equal(t, string(restCompact(t, "contacts_seed_request.json")), string(reqs[0].Body))
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
	require.NoError(t, err)
	// The answer lists the contacts in another order; ids follow the input.
	assert.Equal(t, []int64{3102960, 3102961}, ids)
	reqs := s.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, string(restCompact(t, "contacts_full_request.json")), string(reqs[0].Body))
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
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.field, ve.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "amojo: invalid "+tt.field), "message %q", err)
			assert.Empty(t, s.requests(), "requests sent before validation")
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
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&in), "request body")
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
	require.NoError(t, err)
	require.Len(t, ids, 501)
	for i, id := range ids {
		require.Equal(t, int64(1000+i), id, "ids[%d]", i)
	}
	reqs := s.requests()
	sizes := []int{}
	next := 0
	for _, r := range reqs {
		restCheckHeaders(t, r)
		var got []map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &got))
		sizes = append(sizes, len(got))
		for _, g := range got {
			require.Equal(t, strconv.Itoa(next), g["request_id"], "item %v", g)
			require.Equal(t, fmt.Sprintf("c%d", next), g["name"], "item %v", g)
			next++
		}
	}
	assert.Equal(t, []int{250, 250, 1}, sizes, "batch sizes")
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
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 250, be.Done)
	assert.Equal(t, 250, be.Start)
	assert.Equal(t, 500, be.End)
	assert.Equal(t, []int{300, 310}, be.Failed)
	assert.Equal(t, "create contacts", be.Op)
	require.Len(t, ids, 250, "want the ids of the first 250")
	assert.Equal(t, int64(1000), ids[0])
	assert.Equal(t, int64(1249), ids[249])
	var ae *APIError
	require.ErrorAs(t, err, &ae, "no *APIError with validation errors inside")
	require.Equal(t, 400, ae.StatusCode)
	require.Len(t, ae.ValidationErrors, 2)
	msg := err.Error()
	for _, w := range []string{
		"amojo: create contacts: items 250-499 failed (rejected: 300, 310), items 0-249 done",
		"POST /crm/api/v4/contacts: 400 Bad Request: Request validation failed",
		"item 300: custom_fields_values.0.values.0.value: This value should be a valid phone. (InvalidType)",
		"item 310: responsible_user_id: User not found. (NotSupportedChoice)",
	} {
		assert.Contains(t, msg, w)
	}
	assert.Len(t, s.requests(), 2, "the third batch must not be sent")
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
			require.ErrorAs(t, err, &de)
			assert.Equal(t, 200, de.StatusCode)
		})
	}
	t.Run("request ids not echoed", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts", restReply(200, []byte(`{"_embedded":{"contacts":[{"id":5},{"id":6}]}}`)))
		ids, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}, {Name: "b"}})
		require.NoError(t, err)
		assert.Equal(t, []int64{5, 6}, ids)
	})
	t.Run("numeric request ids", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts", restReply(200, []byte(`{"_embedded":{"contacts":[{"id":6,"request_id":1},{"id":5,"request_id":0}]}}`)))
		ids, err := c.CreateContacts(t.Context(), []NewContact{{Name: "a"}, {Name: "b"}})
		require.NoError(t, err)
		assert.Equal(t, []int64{5, 6}, ids)
	})
}

func TestLinkChatSeed(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts/chats", restReply(200, restFixture(t, "links_seed_response.json")))
	l, err := c.LinkChat(t.Context(), "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", 3102959)
	require.NoError(t, err)
	want := ChatLink{ChatID: "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", ContactID: 3102959, ID: 26219, RequestID: "0"}
	assert.Equal(t, want, *l)
	reqs := s.requests()
	require.Len(t, reqs, 1)
	restCheckHeaders(t, reqs[0])
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, restBase+"/api/v4/contacts/chats", reqs[0].Path)
	assert.Equal(t, string(restCompact(t, "links_seed_request.json")), string(reqs[0].Body))
}

func TestLinkChatsBatchesAndOrder(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/contacts/chats", func(w http.ResponseWriter, r *http.Request) {
		var in []chatLinkBody
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&in))
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
	require.NoError(t, err)
	require.Len(t, out, 260)
	for i, l := range out {
		rid := strconv.Itoa(i)
		if i == 3 {
			rid = "mine"
		}
		require.Equal(t, ChatLink{ChatID: fmt.Sprintf("chat-%d", i), ContactID: int64(i + 1), ID: int64(9001 + i), RequestID: rid}, l, "out[%d]", i)
	}
	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 250, bytes.Count(reqs[0].Body, []byte(`"chat_id"`)))
	assert.Equal(t, 10, bytes.Count(reqs[1].Body, []byte(`"chat_id"`)))
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
			if assert.ErrorAs(t, tc.run(), &ve, "case %d", i) {
				assert.Equal(t, tc.field, ve.Field, "case %d", i)
			}
		}
		assert.Empty(t, s.requests(), "requests sent")
	})
	t.Run("403", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts/chats", restReply(403, restFixture(t, "problem_403.json")))
		_, err := c.LinkChat(t.Context(), "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", 3102959)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, 403, ae.StatusCode)
		require.NotErrorIs(t, err, ErrInvalidSignature)
		assert.Contains(t, err.Error(), "403 Forbidden: Access denied")
	})
	t.Run("401 in batch", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/contacts/chats", restReply(401, restFixture(t, "problem_401.json")))
		out, err := c.LinkChats(t.Context(), []ChatLink{{ChatID: "a", ContactID: 1}})
		var be *BatchError
		assert.ErrorIs(t, err, ErrUnauthorized)
		require.ErrorAs(t, err, &be)
		assert.Equal(t, "link chats", be.Op)
		assert.Empty(t, out)
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
	require.NoError(t, err)
	want := []ChatLink{
		{ChatID: "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", ContactID: 3102959, ID: 26219},
		{ChatID: "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", ContactID: 3102959, ID: 26220},
	}
	assert.Equal(t, want, links)
	reqs := s.requests()
	require.Len(t, reqs, 1)
	restCheckHeaders(t, reqs[0])
	// Duplicate ids are sent once; arrays use the [] syntax.
	wantQuery := "chat_id%5B%5D=6cbab3d5-c4c1-46ff-b710-ad59ad10805f&chat_id%5B%5D=0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b&contact_id%5B%5D=3102959"
	assert.Equal(t, "GET", reqs[0].Method)
	assert.Equal(t, restBase+"/api/v4/contacts/chats", reqs[0].Path)
	assert.Equal(t, wantQuery, reqs[0].Query)
}

func TestChatLinksNoContent(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/contacts/chats", restReply(204, nil))
	links, err := c.ChatLinks(t.Context(), ChatLinkFilter{ContactIDs: []int64{42}})
	require.NoError(t, err)
	assert.Equal(t, []ChatLink{}, links, "want an empty slice, not nil")
	reqs := s.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "contact_id%5B%5D=42", reqs[0].Query)
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
			require.NoError(t, err)
			reqs := s.requests()
			assert.Len(t, reqs, tt.wantRequests)
			asked := map[string]int{}
			for _, r := range reqs {
				q, _ := url.ParseQuery(r.Query)
				assert.LessOrEqual(t, len(q["chat_id[]"])+len(q["contact_id[]"]), 50, "ids in a request")
				for _, id := range q["chat_id[]"] {
					asked["chat "+id]++
				}
				for _, id := range q["contact_id[]"] {
					asked["contact "+id]++
				}
			}
			for _, id := range tt.f.ChatIDs {
				assert.NotZero(t, asked["chat "+id], "chat %s never asked", id)
			}
			for _, id := range tt.f.ContactIDs {
				assert.NotZero(t, asked["contact "+strconv.FormatInt(id, 10)], "contact %d never asked", id)
			}
			assert.Len(t, links, max(len(tt.f.ChatIDs), 1), "merged without duplicates")
			seen := map[ChatLink]bool{}
			for _, l := range links {
				assert.False(t, seen[l], "duplicate %+v", l)
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
		_, err := c.ChatLinks(t.Context(), tt.f)
		if assert.ErrorAs(t, err, &ve, "%+v", tt.f) {
			assert.Equal(t, tt.field, ve.Field, "%+v", tt.f)
		}
	}
	assert.Empty(t, s.requests(), "requests sent")
}

func TestCreateContactsNotRetriedAfterALostAnswer(t *testing.T) {
	t.Parallel()
	for _, code := range []int{502, 503, 504} {
		srv := newScriptServer(t, status(code, ""), status(200, `{"_embedded":{"contacts":[{"id":1,"request_id":"0"}]}}`))
		crm, err := NewCRMClient(srv.URL, StaticToken("t"), withTestSleep((&sleepRecorder{}).sleep))
		require.NoError(t, err)
		_, err = crm.CreateContacts(t.Context(), []NewContact{{Name: "A"}})
		var ae *APIError
		if assert.ErrorAs(t, err, &ae, "%d", code) {
			assert.Equal(t, code, ae.StatusCode)
		}
		assert.Len(t, srv.Requests(), 1, "%d: attempts", code)
	}
	// 429 means amoCRM did nothing: retried.
	srv := newScriptServer(t, status(429, "", "Retry-After", "1"), status(200, `{"_embedded":{"contacts":[{"id":7,"request_id":"0"}]}}`))
	crm, err := NewCRMClient(srv.URL, StaticToken("t"), withTestSleep((&sleepRecorder{}).sleep))
	require.NoError(t, err)
	ids, err := crm.CreateContacts(t.Context(), []NewContact{{Name: "A"}})
	require.NoError(t, err)
	require.Equal(t, []int64{7}, ids)
	require.Len(t, srv.Requests(), 2, "attempts")
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
		require.NoError(t, err)
		got = append(got, ct)
	}
	want := []Contact{
		{ID: 3102959, Name: "Jack200803 Tester", FirstName: "Jack200803", LastName: "Tester", ResponsibleUserID: 6118045,
			Phones:    []ContactPhone{{Value: "+7 915 111-22-33", Enum: PhoneMobile}, {Value: "79151112233", Enum: PhoneWork}},
			Emails:    []ContactEmail{{Value: "example.client@example.com", Enum: EmailWork}},
			CreatedAt: time.Unix(1596470809, 0).UTC()},
		{ID: 3102960, Name: "Example Client", ResponsibleUserID: 6118045, CreatedAt: time.Unix(1596470900, 0).UTC()},
	}
	assert.Equal(t, want, got)
	reqs := s.requests()
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		restCheckHeaders(t, r)
		q, _ := url.ParseQuery(r.Query)
		assert.Equal(t, "GET", r.Method)
		assert.Equal(t, restBase+"/api/v4/contacts", r.Path)
		assert.Equal(t, url.Values{"query": {"+7 915 111-22-33"}, "filter[created_at][from]": {"1596470808"}, "page": {strconv.Itoa(i + 1)}, "limit": {"250"}}, q)
	}

	// Nothing found; no query and no bound send neither; bad input sends nothing.
	for range c.FindContacts(t.Context(), ContactQuery{}) {
		assert.Fail(t, "a 204 yielded")
	}
	reqs = s.requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, "limit=250&page=1", reqs[2].Query)
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
			if assert.ErrorAs(t, err, &ve, bad.field) {
				assert.Equal(t, bad.field, ve.Field)
			}
		}
		assert.Equal(t, 1, n, "results for %+v", bad.q)
	}
	assert.Len(t, s.requests(), 3)
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
	assert.Equal(t, 3, n, "results")
	assert.ErrorContains(t, last, "page 2 repeats page 1")
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
		assert.True(t, a.Time.Equal(clock()), "attempt at %v, clock %v", a.Time, clock())
		seen = append(seen, a)
		event("hook")
		return nil
	}))
	require.NoError(t, err)
	require.Len(t, ids, 300)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.Len(t, seen, 3)
	want := []ContactsAttempt{{0, 250, 1, t0}, {0, 250, 2, seen[1].Time}, {250, 300, 1, seen[2].Time}}
	assert.Equal(t, want, seen)
	assert.True(t, seen[1].Time.After(t0), "attempts %+v", seen)
	assert.True(t, seen[2].Time.After(seen[1].Time), "attempts %+v", seen)
	// Each hook is followed by its request, with no wait between.
	assert.Regexp(t, `^hook server( sleep)+ hook server( sleep)+ hook server$`, strings.Join(events, " "))
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
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 0, be.Done)
	assert.ErrorIs(t, err, full)
	_, err = c.CreateContact(t.Context(), NewContact{Name: "a"}, BeforeSendContacts(nil))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "BeforeSendContacts", ve.Field)
	_, err = c.CreateContacts(t.Context(), []NewContact{{Name: "a"}}, nil)
	assert.Error(t, err, "a nil option was accepted")
	assert.Empty(t, s.requests(), "requests sent")
}
