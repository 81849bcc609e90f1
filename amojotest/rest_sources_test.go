package amojotest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
)

// validationCodes returns path → code of the validation errors of item
// request id id in a 400 answer.
func validationCodes(t *testing.T, r result, id string) map[string]string {
	t.Helper()
	p := problemOf(t, r, 400)
	out := map[string]string{}
	items, _ := p["validation-errors"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		if m["request_id"] != id {
			continue
		}
		for _, e := range m["errors"].([]any) {
			fe := e.(map[string]any)
			out[fe["path"].(string)] = fe["code"].(string)
		}
	}
	return out
}

func embedded(t *testing.T, r result, key string) []map[string]any {
	t.Helper()
	list, ok := r.json(t)["_embedded"].(map[string]any)[key].([]any)
	if !ok {
		t.Fatalf("no _embedded.%s in %s", key, r.body)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

func TestSourcesLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	r := e.rest("POST", "/api/v4/sources", "", []map[string]any{
		{"name": "Sales", "external_id": "wa-1", "pipeline_id": 5501, "default": true, "origin_code": "amo.ext.12345678",
			"services": []any{map[string]any{"type": "whatsapp", "params": map[string]any{"waba": true}, "pages": []any{map[string]any{"id": "1", "name": "Sales", "link": "+7999"}}}}},
		{"name": "Landing", "external_id": "landing", "request_id": "l"},
	}, tok)
	mustStatus(t, r, 200)
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	got := embedded(t, r, "sources")
	if got[0]["id"] != float64(700101) || got[0]["request_id"] != "0" || got[1]["request_id"] != "l" ||
		got[1]["pipeline_id"] != float64(amojotest.DefaultPipelineID) || got[1]["origin_code"] != nil || got[1]["default"] != false {
		t.Errorf("answer %s", r.body)
	}
	// A second default takes over.
	mustStatus(t, e.rest("PATCH", "/api/v4/sources/700102", "", map[string]any{"default": true, "name": "Landing 2"}, tok), 200)
	want := []amojotest.Source{
		{ID: 700101, AccountID: amojotest.DefaultAccountID, Name: "Sales", ExternalID: "wa-1", PipelineID: 5501, OriginCode: "amo.ext.12345678",
			Services: []amojotest.SourceService{{Type: "whatsapp", WABA: true, Pages: []amojotest.SourcePage{{ID: "1", Name: "Sales", Link: "+7999"}}}}},
		{ID: 700102, AccountID: amojotest.DefaultAccountID, Name: "Landing 2", ExternalID: "landing", PipelineID: amojotest.DefaultPipelineID, Default: true},
	}
	if got := e.srv.Sources(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sources()\n got %+v\nwant %+v", got, want)
	}
	// List, filtered, and one.
	if l := embedded(t, e.rest("GET", "/api/v4/sources", "filter[external_id]=landing", nil, tok), "sources"); len(l) != 1 || l[0]["name"] != "Landing 2" {
		t.Errorf("filtered list %v", l)
	}
	if l := embedded(t, e.rest("GET", "/api/v4/sources", "filter[external_id][]=landing&filter[external_id][]=wa-1", nil, tok), "sources"); len(l) != 2 {
		t.Errorf("list %v", l)
	}
	mustStatus(t, e.rest("GET", "/api/v4/sources", "filter[external_id]=none", nil, tok), 204)
	mustStatus(t, e.rest("GET", "/api/v4/sources/700101", "", nil, tok), 200)
	mustStatus(t, e.rest("GET", "/api/v4/sources/700199", "", nil, tok), 204)
	// Batch update: external_id cannot change, unknown ids are named.
	codes := validationCodes(t, e.rest("PATCH", "/api/v4/sources", "", []map[string]any{{"id": 700101, "external_id": "x"}, {"id": 9}}, tok), "0")
	if codes["external_id"] != amojotest.CodeInvalidType {
		t.Errorf("codes %v", codes)
	}
	mustStatus(t, e.rest("PATCH", "/api/v4/sources", "", []map[string]any{{"id": 700101, "services": []any{}}}, tok), 200)
	if s := e.srv.Sources(); s[0].Services != nil {
		t.Errorf("services kept: %+v", s[0])
	}
	// Batch delete with an unknown id: 400 under "errors", nothing deleted.
	r = e.rest("DELETE", "/api/v4/sources", "", []map[string]any{{"id": 700101}, {"id": 700199}}, tok)
	p := problemOf(t, r, 400)
	errs := p["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["request_id"] != "1" || errs[0].(map[string]any)["errors"].(map[string]any)["code"] != amojotest.CodeEntityNotFound {
		t.Errorf("delete 400 %s", r.body)
	}
	if len(e.srv.Sources()) != 2 {
		t.Error("a failed batch delete deleted something")
	}
	mustStatus(t, e.rest("DELETE", "/api/v4/sources", "", []map[string]any{{"id": 700101}}, tok), 204)
	mustStatus(t, e.rest("DELETE", "/api/v4/sources/700102", "", nil, tok), 204)
	problemOf(t, e.rest("DELETE", "/api/v4/sources/700102", "", nil, tok), 404)
	if len(e.srv.Sources()) != 0 {
		t.Errorf("left %v", e.srv.Sources())
	}
}

func TestSourcesValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	mustStatus(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{{"name": "a", "external_id": "taken"}}, tok), 200)
	for _, tc := range []struct {
		item map[string]any
		path string
		code string
	}{
		{map[string]any{"external_id": "x"}, "name", amojotest.CodeNotBlank},
		{map[string]any{"name": "n", "external_id": strings.Repeat("a", 37)}, "external_id", amojotest.CodeInvalidType},
		{map[string]any{"name": "n", "external_id": "ключ"}, "external_id", amojotest.CodeInvalidType},
		{map[string]any{"name": "n", "external_id": "taken"}, "external_id", amojotest.CodeNotSupportedChoice},
		{map[string]any{"name": "n", "origin_code": "123"}, "origin_code", amojotest.CodeInvalidType},
		{map[string]any{"name": "n", "origin_code": strings.Repeat("a", 21)}, "origin_code", amojotest.CodeInvalidType},
		{map[string]any{"name": "n", "services": []any{map[string]any{"type": "telegram"}}}, "services.0.type", amojotest.CodeNotSupportedChoice},
		{map[string]any{"name": "n", "default": "yes"}, "default", amojotest.CodeInvalidType},
	} {
		codes := validationCodes(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{tc.item}, tok), "0")
		if codes[tc.path] != tc.code {
			t.Errorf("%v: codes %v, want %s at %s", tc.item, codes, tc.code, tc.path)
		}
	}
	// Two items with one external id in one request.
	codes := validationCodes(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{{"name": "a", "external_id": "d"}, {"name": "b", "external_id": "d"}}, tok), "1")
	if codes["external_id"] != amojotest.CodeNotSupportedChoice {
		t.Errorf("codes %v", codes)
	}
	many := make([]map[string]any, amojotest.MaxSourcesPerRequest+1)
	for i := range many {
		many[i] = map[string]any{"name": "n", "external_id": fmt.Sprint("m", i)}
	}
	problemOf(t, e.rest("POST", "/api/v4/sources", "", many, tok), 400)
	if len(e.srv.Sources()) != 1 {
		t.Errorf("%d sources after refused adds", len(e.srv.Sources()))
	}
}

func TestSourcesPerIntegrationLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noLimit)
	tok := e.srv.Token()
	for b := 0; b < amojotest.MaxSources/50; b++ {
		items := make([]map[string]any, 50)
		for i := range items {
			items[i] = map[string]any{"name": "n", "external_id": fmt.Sprint("s", b, "-", i)}
		}
		mustStatus(t, e.rest("POST", "/api/v4/sources", "", items, tok), 200)
	}
	p := problemOf(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{{"name": "one more", "external_id": "x"}}, tok), 400)
	if !strings.Contains(p["detail"].(string), "100") {
		t.Errorf("detail %v", p["detail"])
	}
	mustStatus(t, e.rest("DELETE", "/api/v4/sources/700101", "", nil, tok), 204)
	mustStatus(t, e.rest("POST", "/api/v4/sources", "", []map[string]any{{"name": "one more", "external_id": "x"}}, tok), 200)
}
