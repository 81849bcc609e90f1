package amojo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeRESTExtras feeds arbitrary bytes to the decoders of sources,
// chat templates, talks and chat events, and to the REST error body with
// its "errors" key and the block-page rule. None may panic; a decoded event
// resolves its contact by the documented rule; a JSON body never counts as a
// block page.
func FuzzDecodeRESTExtras(f *testing.F) {
	addCorpusFiles(f, "rest")
	f.Add([]byte(`{"errors":[{"request_id":1,"errors":{"code":2}}],"hint":["x"]}`))
	f.Add([]byte(`{"_embedded":{"events":[{"id":1.5,"value_after":[{"message":{"id":7}}],"entity_type":"contact"}]}}`))
	f.Add([]byte(`{"waba_examples":[1],"buttons":null,"review_status":5}`))
	f.Add([]byte(`<html>403 Forbidden</html>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, status := range []int{400, 403} {
			resp := &http.Response{StatusCode: status, Header: http.Header{"X-Request-Id": {string(data[:min(len(data), 300)])}}}
			e := newAPIError("DELETE", "/api/v4/sources", resp, data, time.Unix(0, 0))
			e.rest = true
			msg := e.Error()
			if !strings.HasPrefix(msg, "amojo: DELETE /api/v4/sources: "+strconv.Itoa(status)) {
				t.Fatalf("message %q", msg)
			}
			if len(e.RequestID) > maxRequestIDLen || strings.ContainsAny(e.RequestID, "\r\n\x00") {
				t.Fatalf("request id %q", e.RequestID)
			}
			if errors.Is(e, ErrAccountBlocked) && (status != 403 || json.Valid(data)) {
				t.Fatalf("blocked for status %d body %q", status, data)
			}
			be := newBatchError("delete sources", 0, 3, []string{"0", "1", "2"}, e)
			for _, i := range be.Failed {
				if i < 0 || i > 2 {
					t.Fatalf("failed index %d", i)
				}
			}
		}
		var h halEmbedded
		if json.Unmarshal(data, &h) == nil {
			if items, err := halItems[sourceBody](h, "sources"); err == nil {
				for i := range items {
					_ = items[i].result()
				}
			}
			if items, err := halItems[templateBody](h, "chat_templates"); err == nil {
				for i := range items {
					_ = items[i].result()
				}
			}
			if items, err := halItems[eventBody](h, "events"); err == nil {
				for i := range items {
					e := items[i].event()
					if e.EntityType == "contact" && e.ContactID != e.EntityID || e.EntityType != "contact" && e.ContactID != e.LinkedTalkContactID {
						t.Fatalf("contact of %+v", e)
					}
				}
			}
			_, _ = halItems[reviewBody](h, "reviews")
		}
		var tb talkBody
		if json.Unmarshal(data, &tb) == nil {
			_ = tb.talk()
		}
		var one templateBody
		if json.Unmarshal(data, &one) == nil {
			_ = one.result()
		}
		var it ItemErrors
		_ = json.Unmarshal(data, &it)
	})
}

// FuzzParseTemplateReviewWebhook feeds arbitrary form bodies to the
// add_chat_template_review parser. It must not panic, and what it decodes
// must come back unchanged when encoded again as a form and parsed.
func FuzzParseTemplateReviewWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "rest", "template_review_webhook*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no webhook fixtures (%v)", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("add[][id]=1&add[][reviews][][status]=review&add[0][waba_examples][{{a[b]=c"))
	f.Add([]byte("x[add][5][id]=+7&x[add][5][is_editable]=true&account[id]=-1"))
	f.Add([]byte("add[0][attachment][id]=&add[0][buttons][3][url]=%26"))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseTemplateReviewWebhook(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "amojo: template review webhook: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		again, err := ParseTemplateReviewWebhook([]byte(encodeReviewWebhook(w)))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", encodeReviewWebhook(w), err)
		}
		if !reflect.DeepEqual(again, w) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, w)
		}
	})
}

// encodeReviewWebhook writes w as amoCRM would: a form with bracket keys.
func encodeReviewWebhook(w *TemplateReviewWebhook) string {
	v := url.Values{}
	if w.AccountID != 0 {
		v.Set("account[id]", strconv.FormatInt(w.AccountID, 10))
	}
	if w.Subdomain != "" {
		v.Set("account[subdomain]", w.Subdomain)
	}
	setStr := func(key, s string) {
		if s != "" {
			v.Set(key, s)
		}
	}
	setInt := func(key string, n int64) {
		if n != 0 {
			v.Set(key, strconv.FormatInt(n, 10))
		}
	}
	setTime := func(key string, t time.Time) {
		if !t.IsZero() {
			v.Set(key, strconv.FormatInt(t.Unix(), 10))
		}
	}
	setBool := func(key string, b bool) {
		if b {
			v.Set(key, "1")
		}
	}
	for i, t := range w.Templates {
		p := fmt.Sprintf("add[%d]", i)
		v.Set(p+"[id]", strconv.FormatInt(t.ID, 10))
		setInt(p+"[account_id]", t.AccountID)
		setStr(p+"[name]", t.Name)
		setStr(p+"[content]", t.Content)
		setBool(p+"[is_editable]", t.Editable)
		setStr(p+"[type]", string(t.Type))
		setStr(p+"[external_id]", t.ExternalID)
		setStr(p+"[waba_category]", string(t.WABACategory))
		setStr(p+"[waba_language]", t.WABALanguage)
		setStr(p+"[waba_header]", t.WABAHeader)
		setStr(p+"[waba_header_type]", t.WABAHeaderType)
		setStr(p+"[waba_footer]", t.WABAFooter)
		setTime(p+"[created_at]", t.CreatedAt)
		setTime(p+"[updated_at]", t.UpdatedAt)
		setStr(p+"[review_status]", string(t.ReviewStatus))
		setBool(p+"[is_on_review]", t.OnReview)
		for j, b := range t.Buttons {
			q := fmt.Sprintf("%s[buttons][%d]", p, j)
			v.Set(q+"[type]", string(b.Type))
			setStr(q+"[text]", b.Text)
			setStr(q+"[url]", b.URL)
		}
		if a := t.Attachment; a != nil {
			v.Set(p+"[attachment][id]", a.ID)
			setStr(p+"[attachment][name]", a.Name)
			setStr(p+"[attachment][type]", a.Type)
			setBool(p+"[attachment][is_external]", a.IsExternal)
		}
		for k, val := range t.WABAExamples {
			v.Set(p+"[waba_examples]["+k+"]", val)
		}
		for j, r := range t.Reviews {
			q := fmt.Sprintf("%s[reviews][%d]", p, j)
			v.Set(q+"[id]", strconv.FormatInt(r.ID, 10))
			setInt(q+"[source_id]", r.SourceID)
			setStr(q+"[status]", string(r.Status))
			setStr(q+"[reject_reason]", r.RejectReason)
		}
	}
	if len(w.Templates) == 0 {
		v.Set("add[_]", "")
	}
	return v.Encode()
}
