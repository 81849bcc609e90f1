package amojo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// wantEqual fails unless got and want are deeply equal.
func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s\n got %+v\nwant %+v", what, got, want)
	}
}

// wantOneRequest asserts the server got exactly one request with method,
// path (below restBase), raw query and body (nil: none).
func wantOneRequest(t *testing.T, s *restServer, method, path, query string, body []byte) restRecorded {
	t.Helper()
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	restCheckHeaders(t, r)
	if r.Method != method || r.Path != restBase+path || r.Query != query {
		t.Errorf("request %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, method, restBase+path, query)
	}
	if !bytes.Equal(r.Body, body) {
		t.Errorf("body\n got %s\nwant %s", r.Body, body)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	wantOneRequest(t, s, "POST", "/api/v4/sources", "", restCompact(t, "sources_add_request.json"))
	sales := salesSource
	sales.RequestID = "0"
	// The answer lists them the other way round; the result follows the input.
	wantEqual(t, "sources", got, []LeadSource{sales, {ID: 700102, Name: "Landing chat", ExternalID: "landing-spring", PipelineID: 5500, RequestID: "1"}})
}

// echoSources answers a POST or PATCH of sources with each item given an id
// (its external id's number or its own id) and its request_id.
func echoSources(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("body: %v", err)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range got {
		if src.ID != int64(1000+i) || src.RequestID != strconv.Itoa(i) {
			t.Fatalf("got[%d] = %+v", i, src)
		}
	}
	reqs := s.requests()
	var sizes []int
	for _, r := range reqs {
		var items []map[string]any
		if err := json.Unmarshal(r.Body, &items); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(items))
	}
	wantEqual(t, "request sizes", sizes, []int{50, 50, 20})
	if !bytes.Contains(reqs[2].Body, []byte(`"request_id":"119"`)) {
		t.Errorf("last request lacks the input index as request_id: %s", reqs[2].Body)
	}
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
	if !errors.As(err, &be) {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 50 || be.Done != 50 || be.Start != 50 || be.End != 100 || !reflect.DeepEqual(be.Failed, []int{57}) || be.Op != "add sources" {
		t.Errorf("%d results, %+v", len(got), be)
	}
	if len(s.requests()) != 2 {
		t.Errorf("%d requests, want 2 (the third is not sent)", len(s.requests()))
	}
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
			if got := len(s.requests()); got != tc.attempts {
				t.Errorf("%d attempts, want %d (err %v)", got, tc.attempts, err)
			}
			if tc.attempts == 1 {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != tc.status {
					t.Errorf("err = %v, want the %d *APIError (not a *BatchError)", err, tc.status)
				}
			} else if err != nil {
				t.Error(err)
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
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
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
		if (err == nil) != tc.chat {
			t.Errorf("chat side, %d chars %q: %v", len(tc.id), tc.id, err)
		}
		_, err = (&NewSource{Name: "n", ExternalID: tc.id}).body("s", "0")
		if (err == nil) != tc.added {
			t.Errorf("sources API, %d chars %q: %v", len(tc.id), tc.id, err)
		}
	}
}

func TestSourcesList(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/sources", restReply(200, restFixture(t, "sources_list_response.json")))
	got, err := c.Sources(t.Context(), SourceFilter{ExternalIDs: []string{"wa-79990001122", "landing spring"}})
	if err != nil {
		t.Fatal(err)
	}
	wantOneRequest(t, s, "GET", "/api/v4/sources", "filter%5Bexternal_id%5D%5B%5D=wa-79990001122&filter%5Bexternal_id%5D%5B%5D=landing+spring", nil)
	sales := salesSource
	sales.Services = []SourceService{{Type: ServiceWhatsApp, WABA: true, ListMessage: true, Pages: []SourcePage{
		{ID: "79990001122", Name: "Sales", Link: "+79990001122"}, {ID: "79990003344", Name: "Support", Link: "+79990003344"},
	}}}
	wantEqual(t, "sources", got, []LeadSource{sales, {ID: 700102, Name: "Landing chat", ExternalID: "landing-spring", PipelineID: 5500}})
}

func TestSourcesListEmpty(t *testing.T) {
	t.Parallel()
	// 204, and the empty array PHP writes for an empty _embedded.
	for _, reply := range []http.HandlerFunc{restReply(204, nil), restReply(200, []byte(`{"_total_items":0,"_embedded":[]}`))} {
		c, s := restSetup(t)
		s.handle("GET", "/api/v4/sources", reply)
		got, err := c.Sources(t.Context(), SourceFilter{})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("got %v, %v; want an empty slice", got, err)
		}
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
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, src.ID)
	}
	wantEqual(t, "ids", ids, []int64{1, 2})
	reqs := s.requests()
	if len(reqs) != 2 || reqs[0].Query != "" || reqs[1].Query != "page=2" {
		t.Errorf("requests %+v", reqs)
	}
}

func TestGetSource(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/sources/700102", restReply(200, restFixture(t, "source_response.json")))
	s.handle("GET", "/api/v4/sources/9", restReply(204, nil))
	got, err := c.GetSource(t.Context(), 700102)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "source", *got, LeadSource{ID: 700102, Name: "Landing chat (spring)", ExternalID: "landing-spring", PipelineID: 5502, Default: true})
	_, err = c.GetSource(t.Context(), 9)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "GET /crm/api/v4/sources/9: 204: not found") {
		t.Errorf("missing source: %v", err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	wantOneRequest(t, s, "PATCH", "/api/v4/sources", "", restCompact(t, "sources_update_request.json"))
	wantEqual(t, "sources", got, []LeadSource{
		{ID: 700102, Name: "Landing chat (spring)", ExternalID: "landing-spring", PipelineID: 5502, Default: true, RequestID: "0"},
		{ID: 700101, Name: "Sales WhatsApp", ExternalID: "wa-79990001122", PipelineID: 5501, OriginCode: "amo.ext.12345678", RequestID: "wa"},
	})
}

func TestUpdateSourceWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("PATCH", "/api/v4/sources/700102", restReply(200, restFixture(t, "source_response.json")))
	yes := true
	got, err := c.UpdateSource(t.Context(), 700102, SourceUpdate{ID: 1, Name: "Landing chat (spring)", PipelineID: 5502, Default: &yes})
	if err != nil {
		t.Fatal(err)
	}
	wantOneRequest(t, s, "PATCH", "/api/v4/sources/700102", "", restCompact(t, "source_update_request.json"))
	if got.ID != 700102 || !got.Default || got.PipelineID != 5502 {
		t.Errorf("got %+v", got)
	}
}

func TestDeleteSources(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("DELETE", "/api/v4/sources", restReply(400, restFixture(t, "sources_delete_400.json")))
	err := c.DeleteSources(t.Context(), []int64{700101, 700199})
	wantOneRequest(t, s, "DELETE", "/api/v4/sources", "", restCompact(t, "sources_delete_request.json"))
	var be *BatchError
	var ae *APIError
	if !errors.As(err, &be) || !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(be.Failed, []int{1}) || ae.ValidationErrors[0].Errors[0].Code != "EntityNotFound" {
		t.Errorf("Failed %v, %+v", be.Failed, ae.ValidationErrors)
	}
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
	if !errors.As(err, &be) || !reflect.DeepEqual(be.Failed, []int{53}) || be.Done != 50 {
		t.Fatalf("err = %v (%+v)", err, be)
	}
	reqs := s.requests()
	if len(reqs) != 2 || !bytes.HasPrefix(reqs[1].Body, []byte(`[{"id":51},`)) {
		t.Errorf("requests %d, second body %s", len(reqs), reqs[len(reqs)-1].Body)
	}
}

func TestDeleteSource(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("DELETE", "/api/v4/sources/700102", restReply(204, nil))
	s.handle("DELETE", "/api/v4/sources/9", restReply(404, []byte(`{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Source not found"}`)))
	if err := c.DeleteSource(t.Context(), 700102); err != nil {
		t.Fatal(err)
	}
	wantOneRequest(t, s, "DELETE", "/api/v4/sources/700102", "", nil)
	if err := c.DeleteSource(t.Context(), 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}
