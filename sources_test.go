package amojo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantOneRequest asserts the server got exactly one request with method,
// path (below restBase), raw query and body (nil: none).
func wantOneRequest(t *testing.T, s *restServer, method, path, query string, body []byte) restRecorded {
	t.Helper()
	reqs := s.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	restCheckHeaders(t, r)
	assert.Equal(t, method, r.Method)
	assert.Equal(t, restBase+path, r.Path)
	assert.Equal(t, query, r.Query)
	assert.Equal(t, string(body), string(r.Body))
	return r
}

var salesSource = LeadSource{
	ID: 700101, Name: "Sales WhatsApp", ExternalID: "wa-79990001122", PipelineID: 5501, Default: true,
	OriginCode: "amo.ext.12345678",
	Services:   []SourceService{{Type: ServiceWhatsApp, WABA: true, Pages: []SourcePage{{ID: "79990001122", Name: "Sales", Link: "+79990001122"}}}},
}

func TestAddSourcesWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/sources", restReply(200, restFixture(t, "sources_add_response.json")))
	got, err := c.AddSources(t.Context(), []NewSource{
		{
			Name: "Sales WhatsApp", ExternalID: "wa-79990001122", PipelineID: 5501, Default: true, OriginCode: "amo.ext.12345678",
			Services: []SourceService{{Type: ServiceWhatsApp, WABA: true, Pages: []SourcePage{{ID: "79990001122", Name: "Sales", Link: "+79990001122"}}}},
		},
		{Name: "Landing chat", ExternalID: "landing-spring"},
	})
	require.NoError(t, err)
	wantOneRequest(t, s, "POST", "/api/v4/sources", "", restCompact(t, "sources_add_request.json"))
	sales := salesSource
	sales.RequestID = "0"
	// The answer lists them the other way round; the result follows the input.
	assert.Equal(t, []LeadSource{sales, {ID: 700102, Name: "Landing chat", ExternalID: "landing-spring", PipelineID: 5500, RequestID: "1"}}, got, "sources")
}

// echoSources answers a POST or PATCH of sources with each item given an id
// (its external id's number or its own id) and its request_id.
func echoSources(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in []map[string]any
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&in), "body")
		for i, it := range in {
			if _, ok := it["id"]; !ok {
				n, _ := strconv.Atoi(strings.TrimPrefix(it["external_id"].(string), "src-"))
				it["id"] = 1000 + n
			}
			it["_links"] = map[string]any{"self": map[string]any{"href": fmt.Sprintf("https://x/%d", i)}}
		}
		b, _ := json.Marshal(map[string]any{"_embedded": map[string]any{"sources": in}})
		restReply(200, b)(w, r)
	}
}

func TestAddSourcesSplitsIntoRequestsOf50(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/sources", echoSources(t))
	in := make([]NewSource, 120)
	for i := range in {
		in[i] = NewSource{Name: fmt.Sprintf("Source %d", i), ExternalID: fmt.Sprintf("src-%d", i)}
	}
	got, err := c.AddSources(t.Context(), in)
	require.NoError(t, err)
	for i, src := range got {
		require.Equal(t, int64(1000+i), src.ID, "got[%d] = %+v", i, src)
		require.Equal(t, strconv.Itoa(i), src.RequestID, "got[%d] = %+v", i, src)
	}
	reqs := s.requests()
	var sizes []int
	for _, r := range reqs {
		var items []map[string]any
		require.NoError(t, json.Unmarshal(r.Body, &items))
		sizes = append(sizes, len(items))
	}
	assert.Equal(t, []int{50, 50, 20}, sizes, "request sizes")
	assert.Contains(t, string(reqs[2].Body), `"request_id":"119"`, "the last request carries the input index as request_id")
}

func TestAddSourcesStopsAtAFailedRequest(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	n := 0
	s.handle("POST", "/api/v4/sources", func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 2 {
			restReply(400, []byte(`{"title":"Bad Request","type":"https://httpstatus.es/400","status":400,"detail":"Request validation failed",`+
				`"validation-errors":[{"request_id":"57","errors":[{"code":"NotSupportedChoice","path":"external_id","detail":"This value is already used."}]}]}`))(w, r)
			return
		}
		echoSources(t)(w, r)
	})
	in := make([]NewSource, 120)
	for i := range in {
		in[i] = NewSource{Name: "s", ExternalID: fmt.Sprintf("src-%d", i)}
	}
	got, err := c.AddSources(t.Context(), in)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Len(t, got, 50)
	assert.Equal(t, 50, be.Done)
	assert.Equal(t, 50, be.Start)
	assert.Equal(t, 100, be.End)
	assert.Equal(t, []int{57}, be.Failed)
	assert.Equal(t, "add sources", be.Op)
	assert.Len(t, s.requests(), 2, "the third request is not sent")
}

// Adding sources after a lost answer is not repeated (they may exist); a
// 429 is, since amoCRM did nothing.
func TestAddSourcesRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status   int
		attempts int
	}{{http.StatusBadGateway, 1}, {http.StatusServiceUnavailable, 1}, {http.StatusGatewayTimeout, 1}, {http.StatusTooManyRequests, 2}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			n := 0
			s.handle("POST", "/api/v4/sources", func(w http.ResponseWriter, r *http.Request) {
				if n++; n == 1 {
					restReply(tc.status, nil)(w, r)
					return
				}
				echoSources(t)(w, r)
			})
			_, err := c.AddSource(t.Context(), NewSource{Name: "s", ExternalID: "src-1"})
			assert.Len(t, s.requests(), tc.attempts, "attempts (err %v)", err)
			if tc.attempts == 1 {
				var ae *APIError
				require.ErrorAs(t, err, &ae, "want the %d *APIError (not a *BatchError)", tc.status)
				assert.Equal(t, tc.status, ae.StatusCode)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestAddSourcesValidation(t *testing.T) {
	t.Parallel()
	ok := NewSource{Name: "n", ExternalID: "x"}
	with := func(f func(*NewSource)) []NewSource {
		s := ok
		f(&s)
		return []NewSource{ok, s}
	}
	tests := []struct {
		name  string
		in    []NewSource
		field string
	}{
		{"empty input", nil, "sources"},
		{"no name", with(func(s *NewSource) { s.Name = " " }), "sources[1].Name"},
		{"no external id", with(func(s *NewSource) { s.ExternalID = "" }), "sources[1].ExternalID"},
		{"external id of 37", with(func(s *NewSource) { s.ExternalID = strings.Repeat("a", 37) }), "sources[1].ExternalID"},
		{"external id not ASCII", with(func(s *NewSource) { s.ExternalID = "wa-номер" }), "sources[1].ExternalID"},
		{"external id with a tab", with(func(s *NewSource) { s.ExternalID = "a\tb" }), "sources[1].ExternalID"},
		{"same external id twice", []NewSource{ok, {Name: "m", ExternalID: "x"}}, "sources[1].ExternalID"},
		{"same request id twice", []NewSource{{Name: "a", ExternalID: "a", RequestID: "r"}, {Name: "b", ExternalID: "b", RequestID: "r"}}, "sources[1].RequestID"},
		{"negative pipeline", with(func(s *NewSource) { s.PipelineID = -1 }), "sources[1].PipelineID"},
		{"origin code of digits", with(func(s *NewSource) { s.OriginCode = "12345678" }), "sources[1].OriginCode"},
		{"origin code of quotes", with(func(s *NewSource) { s.OriginCode = `""` }), "sources[1].OriginCode"},
		{"origin code of 21", with(func(s *NewSource) { s.OriginCode = "amo.ext." + strings.Repeat("1", 13) }), "sources[1].OriginCode"},
		{"service without type", with(func(s *NewSource) { s.Services = []SourceService{{}} }), "sources[1].Services[0].Type"},
		{"page link with a line break", with(func(s *NewSource) {
			s.Services = []SourceService{{Type: ServiceWhatsApp, Pages: []SourcePage{{ID: "1", Name: "n", Link: "+7\n"}}}}
		}), "sources[1].Services[0].Pages[0].Link"},
	}
	c, s := restSetup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AddSources(t.Context(), tt.in)
			wantValidation(t, err, tt.field)
		})
	}
	_, err := c.UpdateSources(t.Context(), []SourceUpdate{{Name: "n"}})
	wantValidation(t, err, "updates[0].ID")
	_, err = c.UpdateSource(t.Context(), 5, SourceUpdate{OriginCode: "1"})
	wantValidation(t, err, "update.OriginCode")
	wantValidation(t, c.DeleteSources(t.Context(), []int64{1, 0}), "ids[1]")
	_, err = c.Sources(t.Context(), SourceFilter{ExternalIDs: []string{"a", ""}})
	wantValidation(t, err, "SourceFilter.ExternalIDs[1]")
	_, err = c.GetSource(t.Context(), 0)
	wantValidation(t, err, "id")
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

// The chats side accepts the chats API's 40 characters for the same value.
func TestSourceExternalIDLimits(t *testing.T) {
	t.Parallel()
	user := Participant{ID: "u", Name: "n"}
	for _, tc := range []struct {
		id          string
		chat, added bool
	}{
		{strings.Repeat("a", 36), true, true},
		{strings.Repeat("a", 37), true, false},
		{strings.Repeat("a", 40), true, false},
		{strings.Repeat("a", 41), false, false},
		{"with space ~", true, true},
		{"é", false, false},
	} {
		err := CreateChatRequest{ConversationID: "c", Source: &Source{ExternalID: tc.id}, User: user}.Validate()
		assert.Equal(t, tc.chat, err == nil, "chat side, %d chars %q: %v", len(tc.id), tc.id, err)
		_, err = (&NewSource{Name: "n", ExternalID: tc.id}).body("s", "0")
		assert.Equal(t, tc.added, err == nil, "sources API, %d chars %q: %v", len(tc.id), tc.id, err)
	}
}

func TestSourcesList(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/sources", restReply(200, restFixture(t, "sources_list_response.json")))
	got, err := c.Sources(t.Context(), SourceFilter{ExternalIDs: []string{"wa-79990001122", "landing spring"}})
	require.NoError(t, err)
	wantOneRequest(t, s, "GET", "/api/v4/sources", "filter%5Bexternal_id%5D%5B%5D=wa-79990001122&filter%5Bexternal_id%5D%5B%5D=landing+spring", nil)
	sales := salesSource
	sales.Services = []SourceService{{Type: ServiceWhatsApp, WABA: true, ListMessage: true, Pages: []SourcePage{
		{ID: "79990001122", Name: "Sales", Link: "+79990001122"}, {ID: "79990003344", Name: "Support", Link: "+79990003344"},
	}}}
	assert.Equal(t, []LeadSource{sales, {ID: 700102, Name: "Landing chat", ExternalID: "landing-spring", PipelineID: 5500}}, got, "sources")
}

func TestSourcesListEmpty(t *testing.T) {
	t.Parallel()
	// 204, and the empty array PHP writes for an empty _embedded.
	for _, reply := range []http.HandlerFunc{restReply(204, nil), restReply(200, []byte(`{"_total_items":0,"_embedded":[]}`))} {
		c, s := restSetup(t)
		s.handle("GET", "/api/v4/sources", reply)
		got, err := c.Sources(t.Context(), SourceFilter{})
		require.NoError(t, err)
		assert.Equal(t, []LeadSource{}, got, "want an empty slice, not nil")
		wantOneRequest(t, s, "GET", "/api/v4/sources", "", nil)
	}
}

// Pages are not documented for sources; a next link is followed anyway.
func TestAllSourcesFollowsNextLink(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/sources", func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		id := map[string]int{"": 1, "2": 2}[page]
		body := fmt.Sprintf(`{"_links":{"next":{"href":"https://acme.amocrm.ru/api/v4/sources?page=2"}},"_embedded":{"sources":[{"id":%d,"name":"s","external_id":"e%d"}]}}`, id, id)
		if page == "2" {
			body = `{"_embedded":{"sources":[{"id":2,"name":"s","external_id":"e2"}]}}`
		}
		restReply(200, []byte(body))(w, r)
	})
	var ids []int64
	for src, err := range c.AllSources(t.Context(), SourceFilter{}) {
		require.NoError(t, err)
		ids = append(ids, src.ID)
	}
	assert.Equal(t, []int64{1, 2}, ids, "ids")
	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.Empty(t, reqs[0].Query)
	assert.Equal(t, "page=2", reqs[1].Query)
}

func TestGetSource(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/sources/700102", restReply(200, restFixture(t, "source_response.json")))
	s.handle("GET", "/api/v4/sources/9", restReply(204, nil))
	got, err := c.GetSource(t.Context(), 700102)
	require.NoError(t, err)
	assert.Equal(t, LeadSource{ID: 700102, Name: "Landing chat (spring)", ExternalID: "landing-spring", PipelineID: 5502, Default: true}, *got, "source")
	_, err = c.GetSource(t.Context(), 9)
	assert.ErrorIs(t, err, ErrNotFound, "missing source")
	assert.ErrorContains(t, err, "GET /crm/api/v4/sources/9: 204: not found", "missing source")
}

func TestUpdateSourcesWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("PATCH", "/api/v4/sources", restReply(200, restFixture(t, "sources_update_response.json")))
	yes, no := true, false
	got, err := c.UpdateSources(t.Context(), []SourceUpdate{
		{ID: 700102, Name: "Landing chat (spring)", PipelineID: 5502, Default: &yes},
		{ID: 700101, Default: &no, Services: []SourceService{}, RequestID: "wa"},
	})
	require.NoError(t, err)
	wantOneRequest(t, s, "PATCH", "/api/v4/sources", "", restCompact(t, "sources_update_request.json"))
	assert.Equal(t, []LeadSource{
		{ID: 700102, Name: "Landing chat (spring)", ExternalID: "landing-spring", PipelineID: 5502, Default: true, RequestID: "0"},
		{ID: 700101, Name: "Sales WhatsApp", ExternalID: "wa-79990001122", PipelineID: 5501, OriginCode: "amo.ext.12345678", RequestID: "wa"},
	}, got, "sources")
}

func TestUpdateSourceWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("PATCH", "/api/v4/sources/700102", restReply(200, restFixture(t, "source_response.json")))
	yes := true
	got, err := c.UpdateSource(t.Context(), 700102, SourceUpdate{ID: 1, Name: "Landing chat (spring)", PipelineID: 5502, Default: &yes})
	require.NoError(t, err)
	wantOneRequest(t, s, "PATCH", "/api/v4/sources/700102", "", restCompact(t, "source_update_request.json"))
	assert.Equal(t, int64(700102), got.ID)
	assert.True(t, got.Default)
	assert.Equal(t, int64(5502), got.PipelineID)
}

func TestDeleteSources(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("DELETE", "/api/v4/sources", restReply(400, restFixture(t, "sources_delete_400.json")))
	err := c.DeleteSources(t.Context(), []int64{700101, 700199})
	wantOneRequest(t, s, "DELETE", "/api/v4/sources", "", restCompact(t, "sources_delete_request.json"))
	var be *BatchError
	var ae *APIError
	require.ErrorAs(t, err, &be)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, []int{1}, be.Failed)
	require.NotEmpty(t, ae.ValidationErrors)
	require.NotEmpty(t, ae.ValidationErrors[0].Errors)
	assert.Equal(t, "EntityNotFound", ae.ValidationErrors[0].Errors[0].Code)
}

// Batch deletes carry no request_id, so amoCRM's item index is within its
// own request; the error maps it back to the input.
func TestDeleteSourcesMapsIndexesOfLaterRequests(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	n := 0
	s.handle("DELETE", "/api/v4/sources", func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			restReply(204, nil)(w, r)
			return
		}
		restReply(400, []byte(`{"title":"Bad Request","status":400,"detail":"Invalid request items","errors":[{"request_id":"3","errors":{"code":"EntityNotFound","path":"id","detail":"no"}}]}`))(w, r)
	})
	ids := make([]int64, 60)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	err := c.DeleteSources(t.Context(), ids)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, []int{53}, be.Failed)
	require.Equal(t, 50, be.Done)
	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.True(t, bytes.HasPrefix(reqs[1].Body, []byte(`[{"id":51},`)), "second body %s", reqs[1].Body)
}

func TestDeleteSource(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("DELETE", "/api/v4/sources/700102", restReply(204, nil))
	s.handle("DELETE", "/api/v4/sources/9", restReply(404, []byte(`{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Source not found"}`)))
	require.NoError(t, c.DeleteSource(t.Context(), 700102))
	wantOneRequest(t, s, "DELETE", "/api/v4/sources/700102", "", nil)
	assert.ErrorIs(t, c.DeleteSource(t.Context(), 9), ErrNotFound)
}
