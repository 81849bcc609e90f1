package amojotest

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// crmFuzzRoutes are the sources, templates, talks and events calls the fuzz
// target sends its input to.
var crmFuzzRoutes = []struct{ method, path string }{
	{"GET", "/api/v4/sources"}, {"GET", "/api/v4/sources/700101"}, {"POST", "/api/v4/sources"},
	{"PATCH", "/api/v4/sources"}, {"PATCH", "/api/v4/sources/700101"}, {"DELETE", "/api/v4/sources"},
	{"GET", "/api/v4/chats/templates"}, {"GET", "/api/v4/chats/templates/9101"}, {"POST", "/api/v4/chats/templates"},
	{"PATCH", "/api/v4/chats/templates"}, {"PATCH", "/api/v4/chats/templates/9101"}, {"DELETE", "/api/v4/chats/templates"},
	{"POST", "/api/v4/chats/templates/9101/review"}, {"POST", "/api/v4/chats/templates/9101/review/4401"},
	{"GET", "/api/v4/talks/5001"}, {"POST", "/api/v4/talks/5001/close"}, {"GET", "/api/v4/events"},
}

// serveREST serves a REST request with the default token.
func serveREST(s *Server, method, target string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// FuzzCRMRequests sends arbitrary bodies and queries to the fake's sources,
// templates, talks and events calls, on a server that has one of each. The
// answer must be a documented status, an error must be problem+json, and
// the stored state must keep its rules: at most one default source and at
// most MaxSources sources.
func FuzzCRMRequests(f *testing.F) {
	seeds := []struct {
		query, body string
	}{
		{"", `[{"name":"a","external_id":"x","default":true,"services":[{"type":"whatsapp","params":{"waba":true},"pages":[{"id":"1","name":"n","link":"l"}]}]}]`},
		{"", `[{"id":700101,"name":"b","default":true,"origin_code":"amo.ext.1"}]`},
		{"", `{"name":"c","default":false,"services":[]}`},
		{"", `[{"id":700101},{"id":9}]`},
		{"with=reviews&page=1&limit=50&filter[external_id][]=x", ``},
		{"", `[{"name":"t","content":"c","type":"waba","buttons":[{"type":"url","text":"t","url":"https://e"}],"attachment":{"id":"u","type":"picture"},"waba_header_type":"media","waba_examples":{"a":"b"}}]`},
		{"", `{"status":"rejected","reject_reason":"r"}`},
		{"", `{"force_close":true}`},
		{"filter[type][]=incoming_chat_message&filter[entity][]=contact&filter[entity_id][]=1&filter[created_at][from]=1&limit=100", ``},
		{"filter[created_at]=x&filter[entity][]=lead&filter[entity][]=contact", `{}`},
		{"page=99999999999999999999", `[]`},
	}
	for _, s := range seeds {
		for route := range byte(len(crmFuzzRoutes)) {
			f.Add(route, s.query, []byte(s.body))
		}
	}
	f.Fuzz(func(t *testing.T, route byte, query string, body []byte) {
		s, _ := fuzzServer(t)
		// One source (WABA), one template, one talk.
		for _, r := range []struct{ path, body string }{
			{"/api/v4/sources", `[{"name":"s","external_id":"wa","services":[{"type":"whatsapp","params":{"waba":true}}]}]`},
			{"/api/v4/chats/templates", `[{"name":"t","content":"c","type":"waba"}]`},
		} {
			if rec := serveREST(s, "POST", r.path, []byte(r.body)); rec.Code != 200 {
				t.Fatalf("setup %s: %d %s", r.path, rec.Code, rec.Body)
			}
		}
		if rec := serveREST(s, "POST", "/api/v4/chats/templates/9101/review", []byte(`{}`)); rec.Code != 200 {
			t.Fatalf("setup review: %d %s", rec.Code, rec.Body)
		}
		rt := crmFuzzRoutes[int(route)%len(crmFuzzRoutes)]
		target := rt.path
		if query != "" && validQuery(query) {
			target += "?" + query
		}
		rec := serveREST(s, rt.method, target, body)
		switch rec.Code {
		case 200, 202, 204:
		case 400, 404, 422:
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["status"] != float64(rec.Code) ||
				rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d body %q", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%s %s: status %d for %q", rt.method, target, rec.Code, body)
		}
		defaults := 0
		srcs := s.Sources()
		for _, src := range srcs {
			if src.Default {
				defaults++
			}
		}
		if defaults > 1 || len(srcs) > MaxSources {
			t.Fatalf("%d defaults among %d sources", defaults, len(srcs))
		}
	})
}

// validQuery reports whether a fuzzed query can go into a request URI.
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f || c == '#' {
			return false
		}
	}
	return true
}
