package amojotest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
)

// addWABASources adds two WhatsApp sources with waba set and one without.
func addWABASources(t *testing.T, e *env) {
	t.Helper()
	wa := func(id string, waba bool) map[string]any {
		return map[string]any{"name": id, "external_id": id, "services": []any{map[string]any{"type": "whatsapp", "params": map[string]any{"waba": waba}}}}
	}
	mustStatus(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{wa("wa-1", true), wa("wa-2", false), wa("wa-3", true)}, e.srv.Token()), 200)
}

func TestChatTemplatesReviewFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	addWABASources(t, e)
	r := e.rest("POST", "/api/v4/chats/templates", "", []map[string]any{
		{"name": "Order ready", "content": "Hello {{contact.name}}", "type": "waba", "waba_category": "UTILITY", "waba_language": "en",
			"waba_examples": map[string]any{"{{contact.name}}": "Anna"}, "buttons": []any{map[string]any{"type": "url", "text": "Track", "url": "https://example.com"}}},
		{"name": "Canned", "content": "Thanks!"},
	}, tok)
	mustStatus(t, r, 200)
	items := embedded(t, r, "chat_templates")
	if items[0]["id"] != float64(9101) || items[1]["type"] != "amocrm" || items[1]["request_id"] != "1" {
		t.Errorf("add answer %s", r.body)
	}
	if ex, ok := items[1]["waba_examples"].([]any); !ok || len(ex) != 0 {
		t.Errorf("waba_examples of a plain template: %v", items[1]["waba_examples"])
	}
	// Before review: a draft, no status.
	tpl := e.rest("GET", "/api/v4/chats/templates/9101", "with=reviews", nil, tok).json(t)
	if tpl["review_status"] != nil || tpl["is_on_review"] != false {
		t.Errorf("draft %v", tpl)
	}
	// Plain templates are not reviewed; waba ones get one review per WABA source.
	problemOf(t, e.rest("POST", "/api/v4/chats/templates/9102/review", "", map[string]any{}, tok), 400)
	r = e.rest("POST", "/api/v4/chats/templates/9101/review", "", map[string]any{}, tok)
	mustStatus(t, r, 200)
	reviews := embedded(t, r, "reviews")
	if len(reviews) != 2 || reviews[0]["source_id"] != float64(700101) || reviews[1]["source_id"] != float64(700103) || reviews[0]["status"] != "review" {
		t.Fatalf("reviews %s", r.body)
	}
	problemOf(t, e.rest("POST", "/api/v4/chats/templates/9101/review", "", map[string]any{}, tok), 400) // already on review
	// A template on review cannot be edited.
	codes := validationCodes(t, e.rest("PATCH", "/api/v4/chats/templates", "", []map[string]any{{"id": 9101, "content": "x"}}, tok), "0")
	if codes["id"] == "" {
		t.Errorf("edit on review: %v", codes)
	}
	// Meta approves one number and rejects the other.
	r = e.rest("POST", "/api/v4/chats/templates/9101/review/4401", "", map[string]any{"status": "approved", "reject_reason": ""}, tok)
	mustStatus(t, r, 200)
	if m := r.json(t); m["status"] != "approved" || m["id"] != float64(4401) {
		t.Errorf("set status %s", r.body)
	}
	if tpl := e.rest("GET", "/api/v4/chats/templates/9101", "with=reviews", nil, tok).json(t); tpl["review_status"] != "review" || tpl["is_on_review"] != true {
		t.Errorf("one review left: %v %v", tpl["review_status"], tpl["is_on_review"])
	}
	mustStatus(t, e.rest("POST", "/api/v4/chats/templates/9101/review/4402", "", map[string]any{"status": "rejected", "reject_reason": "markers"}, tok), 200)
	tpl = e.rest("GET", "/api/v4/chats/templates/9101", "with=reviews", nil, tok).json(t)
	if tpl["review_status"] != "rejected" || tpl["is_on_review"] != false {
		t.Errorf("after decisions: %v", tpl)
	}
	if got := e.srv.ChatTemplates()[0].Reviews; len(got) != 2 || got[1].RejectReason != "markers" {
		t.Errorf("stored reviews %+v", got)
	}
	// Without with=reviews the review fields are absent.
	if tpl := e.rest("GET", "/api/v4/chats/templates/9101", "", nil, tok).json(t); tpl["review_status"] != nil || tpl["_embedded"] != nil {
		t.Errorf("without reviews: %v", tpl)
	}
	for _, bad := range []map[string]any{{"status": "review"}, {"status": "approved", "reject_reason": strings.Repeat("x", 65536)}} {
		problemOf(t, e.rest("POST", "/api/v4/chats/templates/9101/review/4401", "", bad, tok), 400)
	}
	problemOf(t, e.rest("POST", "/api/v4/chats/templates/9101/review/1", "", map[string]any{"status": "approved"}, tok), 404)
}

func TestChatTemplatesPagesAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	items := make([]map[string]any, 7)
	for i := range items {
		items[i] = map[string]any{"name": fmt.Sprint("t", i), "content": "c", "external_id": fmt.Sprint("x", i%2)}
	}
	mustStatus(t, e.rest("POST", "/api/v4/chats/templates", "", items, tok), 200)
	r := e.rest("GET", "/api/v4/chats/templates", "page=2&limit=3", nil, tok)
	m := r.json(t)
	if len(embedded(t, r, "chat_templates")) != 3 || m["_links"].(map[string]any)["next"] == nil {
		t.Errorf("page 2 %s", r.body)
	}
	r = e.rest("GET", "/api/v4/chats/templates", "page=3&limit=3", nil, tok)
	if len(embedded(t, r, "chat_templates")) != 1 || r.json(t)["_links"].(map[string]any)["next"] != nil {
		t.Errorf("page 3 %s", r.body)
	}
	mustStatus(t, e.rest("GET", "/api/v4/chats/templates", "page=4&limit=3", nil, tok), 204)
	problemOf(t, e.rest("GET", "/api/v4/chats/templates", "limit=51", nil, tok), 400)
	if l := embedded(t, e.rest("GET", "/api/v4/chats/templates", "filter[external_id][]=x1", nil, tok), "chat_templates"); len(l) != 3 {
		t.Errorf("filter: %d", len(l))
	}
	// PATCH of one answers the object itself.
	r = e.rest("PATCH", "/api/v4/chats/templates/9101", "", map[string]any{"name": "renamed"}, tok)
	if m := r.json(t); m["name"] != "renamed" || m["_embedded"] != nil {
		t.Errorf("patch one %s", r.body)
	}
	p := problemOf(t, e.rest("DELETE", "/api/v4/chats/templates", "", []map[string]any{{"id": 9101}, {"id": 1}}, tok), 400)
	if p["errors"] == nil {
		t.Errorf("no errors key: %v", p)
	}
	mustStatus(t, e.rest("DELETE", "/api/v4/chats/templates", "", []map[string]any{{"id": 9101}, {"id": 9102}}, tok), 204)
	mustStatus(t, e.rest("DELETE", "/api/v4/chats/templates/9103", "", nil, tok), 204)
	problemOf(t, e.rest("GET", "/api/v4/chats/templates/9103", "", nil, tok), 404)
	if n := len(e.srv.ChatTemplates()); n != 4 {
		t.Errorf("%d templates left", n)
	}
}

func TestChatTemplatesValidationAndLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	for _, tc := range []struct {
		item map[string]any
		path string
	}{
		{map[string]any{"content": "c"}, "name"},
		{map[string]any{"name": "n"}, "content"},
		{map[string]any{"name": "n", "content": "c", "type": "sms"}, "type"},
		{map[string]any{"name": "n", "content": "c", "buttons": []any{map[string]any{"type": "url", "text": "t"}}}, "buttons.0.url"},
		{map[string]any{"name": "n", "content": "c", "waba_header": strings.Repeat("h", 61)}, "waba_header"},
		{map[string]any{"name": "n", "content": "c", "waba_header_type": "media"}, "attachment"},
		{map[string]any{"name": "n", "content": "c", "waba_category": "OTHER"}, "waba_category"},
		{map[string]any{"name": "n", "content": "c", "attachment": map[string]any{"id": "u", "type": "gif"}}, "attachment.type"},
	} {
		if codes := validationCodes(t, e.rest("POST", "/api/v4/chats/templates", "", []map[string]any{tc.item}, tok), "0"); codes[tc.path] == "" {
			t.Errorf("%v: codes %v, want one at %s", tc.item, codes, tc.path)
		}
	}
	items := make([]map[string]any, amojotest.MaxChatTemplates)
	for i := range items {
		items[i] = map[string]any{"name": "n", "content": "c"}
	}
	mustStatus(t, e.rest("POST", "/api/v4/chats/templates", "", items, tok), 200)
	problemOf(t, e.rest("POST", "/api/v4/chats/templates", "", []map[string]any{{"name": "n", "content": "c"}}, tok), 422)
}
