package amojotest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fuzzTime is the clock of the fuzz servers.
var fuzzTime = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fuzzServer is an unstarted server with a connected scope, a chat and a
// message, served without a network.
func fuzzServer(t testing.TB) (*Server, string) {
	s := NewUnstartedServer(WithClock(func() time.Time { return fuzzTime }), WithRateLimit(0, 0))
	t.Cleanup(s.Close)
	scope, err := s.Connect(DefaultChannelID, DefaultAccountID)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"event_type":"new_message","payload":{"timestamp":1764072000,"msgid":"seed","conversation_id":"conv","sender":{"id":"c","name":"C"},"message":{"type":"text","text":"hi"}}}`
	if rec := serveSigned(s, "POST", "/v2/origin/custom/"+scope, []byte(body)); rec.Code != 200 {
		t.Fatalf("seed message: %d %s", rec.Code, rec.Body)
	}
	return s, scope
}

// serveSigned serves a correctly signed amojo request.
func serveSigned(s *Server, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	date := fuzzTime.Format(time.RFC1123Z)
	md := hexMD5(body)
	req.Header.Set("Date", date)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-MD5", md)
	req.Header.Set("X-Signature", signature(DefaultChannelSecret, method, md, "application/json", date, path))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails on an answer the fake must never give to a signed
// request: a status outside the documented ones, or an error without a JSON
// body naming the problem.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, body []byte) {
	switch rec.Code {
	case 200, 204:
	case 400, 404:
		var e map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error_code"] == "" || e["error_description"] == "" {
			t.Fatalf("%d body %q for %q", rec.Code, rec.Body, body)
		}
	default:
		t.Fatalf("status %d for %q", rec.Code, body)
	}
}

func FuzzAmojoRequest(f *testing.F) {
	for _, seed := range []string{
		`{"event_type":"new_message","payload":{"timestamp":1764072000,"msec_timestamp":1764072000123,"msgid":"m","conversation_id":"conv","sender":{"id":"c","name":"C"},"message":{"type":"text","text":"x"}}}`,
		`{"event_type":"edit_message","payload":{"conversation_id":"conv","msgid":"seed","message":{"text":"y","delivery_status":{"status_code":-1,"error_code":905,"error":"e"}}}}`,
		`{"event_type":"new_message","payload":{"timestamp":1,"msgid":"r","conversation_id":"conv","sender":{"id":"m","ref_id":"` + DefaultManagerAmojoID + `"},"receiver":{"id":"c"},"message":{"type":"location","location":{"lon":1,"lat":2}},"reply_to":{"message":{"msgid":"seed"}}}}`,
		`{"conversation_id":"conv","user":{"id":"c","name":"C","profile":{"phone":"1"}},"source":{"external_id":"x"}}`,
		`{"conversation_id":"conv","msgid":"seed","user":{"id":"c"},"type":"react","emoji":"x"}`,
		`{"msgid":"x","delivery_status":-1,"error_code":901}`,
		`{"account_id":"` + DefaultAccountID + `","hook_api_version":"v2"}`,
		`[]`, `null`, `{"payload":{"message":{"location":{"lon":1e400}}}}`,
	} {
		for route := range byte(6) {
			f.Add(route, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route byte, body []byte) {
		s, scope := fuzzServer(t)
		p := "/v2/origin/custom/" + scope
		switch route % 6 {
		case 1:
			p += "/chats"
		case 2:
			p += "/typing"
		case 3:
			p += "/react"
		case 4:
			p += "/x/delivery_status"
		case 5:
			p = "/v2/origin/custom/" + DefaultChannelID + "/connect"
		}
		checkAnswer(t, serveSigned(s, "POST", p, body), body)
	})
}

func FuzzRESTBatch(f *testing.F) {
	f.Add(false, []byte(`[{"name":"a","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"1","enum_code":"MOB"}]}],"tags_to_add":[{"name":"t"}],"_embedded":{"tags":[{"id":1}]}}]`))
	f.Add(false, []byte(`[{"first_name":"a","responsible_user_id":6118045,"custom_fields_values":[{"field_id":1002,"values":[{"value":"a@b","enum_code":"PRIV"}]}]}]`))
	f.Add(true, []byte(`[{"contact_id":40401635,"chat_id":"x","request_id":"r"}]`))
	f.Add(true, []byte(`[{"contact_id":"1"}]`))
	f.Add(false, []byte(`{}`))
	f.Fuzz(func(t *testing.T, links bool, body []byte) {
		s, _ := fuzzServer(t)
		path := "/api/v4/contacts"
		if links {
			path += "/chats"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
		case 400:
			var p map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["status"] != float64(400) ||
				rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("400 body %q", rec.Body)
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Thu, 16 Dec 2021 13:15:29 +0000", "Thu, 16 Dec 2021 13:15:29 GMT", "Thu, 6 Dec 2021 13:15:29 -0300", "", "Thu"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if tm, ok := parseDate(v); ok && tm.IsZero() {
			t.Fatalf("%q parsed to the zero time", v)
		}
	})
}

// TestServeHTTPWithoutListener checks the server works as a plain handler.
func TestServeHTTPWithoutListener(t *testing.T) {
	t.Parallel()
	s, scope := fuzzServer(t)
	rec := serveSigned(s, http.MethodGet, "/v2/origin/custom/"+scope+"/chats/nope/history", nil)
	if rec.Code != 204 {
		t.Errorf("status %d", rec.Code)
	}
}
