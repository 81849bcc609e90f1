package amojo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllChatEventsWireAndDecoding(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/events", func(w http.ResponseWriter, r *http.Request) {
		restReply(200, restFixture(t, "events_page"+r.URL.Query().Get("page")+".json"))(w, r)
	})
	since, until := time.Unix(1767228600, 0), time.Unix(1767232200, 0)
	var got []ChatEvent
	for e, err := range c.AllChatEvents(t.Context(), ChatEventFilter{Since: since, Until: until}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	assert.Equal(t, []ChatEvent{
		{
			ID: "01jh7q2x9c4m8v0k3t6n5r1bz", Type: EventOutgoingChat, MessageID: "b7e0c1d2-5a44-4f19-8e3b-0d9a6c7f2e81",
			ContactID: 8801, EntityID: 99120, EntityType: "lead", LinkedTalkContactID: 8801, CreatedBy: 6101,
			CreatedAt: time.Unix(1767229100, 0).UTC(), AccountID: 31000001,
		},
		{
			ID: "01jh7q1m2n3b4v5c6x7z8l9k0j", Type: EventIncomingChat, MessageID: "a1b2c3d4-0e0f-4a1b-9c2d-3e4f5a6b7c8d",
			ContactID: 8801, EntityID: 8801, EntityType: "contact", CreatedAt: time.Unix(1767229000, 0).UTC(), AccountID: 31000001,
		},
		{
			ID: "01jh7q0a1b2c3d4e5f6g7h8i9j", Type: EventOutgoingChat, MessageID: "c9d8e7f6-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
			ContactID: 8802, EntityID: 2210, EntityType: "customer", LinkedTalkContactID: 8802, CreatedBy: 6101,
			CreatedAt: time.Unix(1767228900, 0).UTC(), AccountID: 31000001,
		},
	}, got, "events")
	reqs := s.requests()
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		restCheckHeaders(t, r)
		want := "filter%5Bcreated_at%5D%5Bfrom%5D=1767228600&filter%5Bcreated_at%5D%5Bto%5D=1767232200&filter%5Bentity%5D%5B%5D=contact" +
			"&filter%5Btype%5D%5B%5D=incoming_chat_message&filter%5Btype%5D%5B%5D=outgoing_chat_message&limit=100&page=" + fmt.Sprint(i+1)
		assert.Equal(t, restBase+"/api/v4/events", r.Path, "request %d", i)
		assert.Equal(t, want, r.Query, "request %d", i)
	}
}

func TestChatEventsQuery(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/events", restReply(204, nil))
	p, err := c.ChatEvents(t.Context(), ChatEventFilter{
		Types: []ChatEventType{EventOutgoingChat, EventOutgoingChat}, ContactIDs: []int64{8801, 8802}, CreatedBy: []int64{6101}, Page: 2, Limit: 10,
	})
	require.NoError(t, err)
	require.Equal(t, ChatEventPage{Events: []ChatEvent{}, Page: 2}, *p, "want an empty (not nil) page 2 without next")
	r := wantOneRequest(t, s, "GET", "/api/v4/events", s.requests()[0].Query, nil)
	q, _ := url.ParseQuery(r.Query)
	assert.Equal(t, url.Values{
		"filter[type][]": {"outgoing_chat_message"}, "filter[entity][]": {"contact"}, "filter[entity_id][]": {"8801", "8802"},
		"filter[created_by][]": {"6101"}, "page": {"2"}, "limit": {"10"},
	}, q, "query")

	// Direct messages alone are not filtered by contact.
	_, err = c.ChatEvents(t.Context(), ChatEventFilter{Types: []ChatEventType{EventDirectMessage}})
	require.NoError(t, err)
	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.NotContains(t, reqs[1].Query, "filter%5Bentity")
	assert.Contains(t, reqs[1].Query, "entity_direct_message")
}

func TestChatEventsValidation(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	many := make([]int64, MaxEventFilterIDs+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	for _, tc := range []struct {
		f     ChatEventFilter
		field string
	}{
		{ChatEventFilter{Types: []ChatEventType{"lead_added"}}, "ChatEventFilter.Types[0]"},
		{ChatEventFilter{Limit: 101}, "ChatEventFilter.Limit"},
		{ChatEventFilter{Page: -1}, "ChatEventFilter.Page"},
		{ChatEventFilter{ContactIDs: many}, "ChatEventFilter.ContactIDs"},
		{ChatEventFilter{CreatedBy: []int64{0}}, "ChatEventFilter.CreatedBy[0]"},
		{ChatEventFilter{Since: time.Unix(20, 0), Until: time.Unix(10, 0)}, "ChatEventFilter.Until"},
	} {
		_, err := c.ChatEvents(t.Context(), tc.f)
		wantValidation(t, err, tc.field)
		for _, err := range c.AllChatEvents(t.Context(), tc.f) {
			wantValidation(t, err, tc.field)
		}
	}
	assert.Empty(t, s.requests(), "requests for invalid filters")
}

// A server that ignores page= must not loop the iterator for ever.
func TestAllChatEventsStopsOnARepeatedPage(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/events", restReply(200, restFixture(t, "events_page1.json")))
	var err error
	for _, e := range c.AllChatEvents(t.Context(), ChatEventFilter{}) {
		if e != nil {
			err = e
		}
	}
	assert.ErrorContains(t, err, "page 2 repeats page 1")
	assert.Len(t, s.requests(), 2)
}

// value_after of another shape gives no message id; it does not fail.
func TestChatEventOddShapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want ChatEvent
	}{
		{`{"id":123,"type":"incoming_chat_message","value_after":{"x":1},"_embedded":{"entity":{"id":7}},"entity_type":"contact"}`,
			ChatEvent{ID: "123", Type: EventIncomingChat, EntityID: 7, EntityType: "contact", ContactID: 7}},
		{`{"id":"e","type":"outgoing_chat_message","entity_type":"lead","entity_id":5,"value_after":[{"note":{}},{"message":{"id":"m"}}]}`,
			ChatEvent{ID: "e", Type: EventOutgoingChat, EntityID: 5, EntityType: "lead", MessageID: "m"}},
	} {
		var b eventBody
		require.NoError(t, json.Unmarshal([]byte(tc.body), &b))
		assert.Equal(t, tc.want, b.event(), tc.body)
	}
}
