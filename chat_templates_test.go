package amojo

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var orderReady = ChatTemplate{
	ID: 9120, AccountID: 31000001, Name: "Order ready", Content: "Hello {{contact.name}}, your order is ready.",
	Type: TemplateWABA, ExternalID: "tpl-order-ready",
	Buttons:      []TemplateButton{{Type: ButtonURL, Text: "Track", URL: "https://example.com/track"}},
	WABACategory: CategoryUtility, WABALanguage: "en", WABAHeader: "Order update", WABAHeaderType: HeaderText,
	WABAFooter: "Reply STOP to opt out", WABAExamples: map[string]string{"{{contact.name}}": "Anna"},
	CreatedAt: time.Unix(1767225600, 0).UTC(), UpdatedAt: time.Unix(1767225600, 0).UTC(),
}

var priceList = ChatTemplate{
	ID: 9121, AccountID: 31000001, Name: "Price list", Content: "Our prices, {{contact.name}}:", Editable: true,
	Type: TemplateAmoCRM, ExternalID: "tpl-prices", Buttons: []TemplateButton{{Type: ButtonInline, Text: "Call me"}},
	Attachment: &TemplateAttachment{ID: "4a7b2c1d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", Name: "prices.pdf", Type: AttachmentDocument, IsExternal: true},
	CreatedAt:  time.Unix(1767225700, 0).UTC(), UpdatedAt: time.Unix(1767225700, 0).UTC(),
}

var newOrderReady = NewChatTemplate{
	Name: "Order ready", Content: "Hello {{contact.name}}, your order is ready.", Type: TemplateWABA, ExternalID: "tpl-order-ready",
	Buttons:      []TemplateButton{{Type: ButtonURL, Text: "Track", URL: "https://example.com/track"}},
	WABACategory: CategoryUtility, WABALanguage: "en", WABAHeader: "Order update", WABAHeaderType: HeaderText,
	WABAFooter: "Reply STOP to opt out", WABAExamples: map[string]string{"{{contact.name}}": "Anna"},
}

func TestAddChatTemplatesWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/chats/templates", restReply(200, restFixture(t, "templates_add_response.json")))
	got, err := c.AddChatTemplate(t.Context(), newOrderReady)
	require.NoError(t, err)
	wantOneRequest(t, s, "POST", "/api/v4/chats/templates", "", restCompact(t, "templates_add_request.json"))
	want := orderReady
	want.RequestID = "0"
	assert.Equal(t, want, *got, "template")
}

// Adding templates after a lost answer is not repeated; 422 (the account's
// template limit) is returned as it comes.
func TestAddChatTemplatesNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadGateway, http.StatusUnprocessableEntity} {
		c, s := restSetup(t)
		s.handle("POST", "/api/v4/chats/templates", restReply(status, []byte(`{"title":"x","type":"https://httpstatus.es/`+fmt.Sprint(status)+`","status":`+fmt.Sprint(status)+`,"detail":"template limit reached"}`)))
		_, err := c.AddChatTemplates(t.Context(), []NewChatTemplate{{Name: "n", Content: "c"}})
		var ae *APIError
		if assert.ErrorAs(t, err, &ae, "%d", status) {
			assert.Equal(t, status, ae.StatusCode)
		}
		assert.Len(t, s.requests(), 1, "%d: attempts", status)
	}
}

func TestChatTemplatesValidation(t *testing.T) {
	t.Parallel()
	with := func(f func(*NewChatTemplate)) []NewChatTemplate {
		tpl := newOrderReady
		f(&tpl)
		return []NewChatTemplate{newOrderReady, tpl}
	}
	tests := []struct {
		name  string
		in    []NewChatTemplate
		field string
	}{
		{"empty input", nil, "templates"},
		{"no name", with(func(t *NewChatTemplate) { t.Name = "" }), "templates[1].Name"},
		{"no content", with(func(t *NewChatTemplate) { t.Content = "  " }), "templates[1].Content"},
		{"unknown type", with(func(t *NewChatTemplate) { t.Type = "WABA" }), "templates[1].Type"},
		{"WABA fields on amocrm", with(func(t *NewChatTemplate) { t.Type = TemplateAmoCRM }), "templates[1].Type"},
		{"WABA fields without type", with(func(t *NewChatTemplate) { t.Type = "" }), "templates[1].Type"},
		{"unknown category", with(func(t *NewChatTemplate) { t.WABACategory = "utility" }), "templates[1].WABACategory"},
		{"header of 61", with(func(t *NewChatTemplate) { t.WABAHeader = strings.Repeat("ё", 61) }), "templates[1].WABAHeader"},
		{"unknown header type", with(func(t *NewChatTemplate) { t.WABAHeaderType = "image" }), "templates[1].WABAHeaderType"},
		{"media header without attachment", with(func(t *NewChatTemplate) { t.WABAHeaderType = HeaderMedia }), "templates[1].Attachment"},
		{"url button without URL", with(func(t *NewChatTemplate) { t.Buttons = []TemplateButton{{Type: ButtonURL, Text: "x"}} }), "templates[1].Buttons[0].URL"},
		{"url button with relative URL", with(func(t *NewChatTemplate) { t.Buttons = []TemplateButton{{Type: ButtonURL, Text: "x", URL: "/track"}} }), "templates[1].Buttons[0].URL"},
		{"inline button with URL", with(func(t *NewChatTemplate) {
			t.Buttons = []TemplateButton{{Type: ButtonInline, Text: "x", URL: "https://example.com"}}
		}), "templates[1].Buttons[0].URL"},
		{"button without text", with(func(t *NewChatTemplate) { t.Buttons = []TemplateButton{{Type: ButtonInline}} }), "templates[1].Buttons[0].Text"},
		{"unknown button type", with(func(t *NewChatTemplate) { t.Buttons = []TemplateButton{{Type: "reply", Text: "x"}} }), "templates[1].Buttons[0].Type"},
		{"attachment without id", with(func(t *NewChatTemplate) { t.Attachment = &TemplateAttachment{Type: AttachmentPicture} }), "templates[1].Attachment.ID"},
		{"unknown attachment type", with(func(t *NewChatTemplate) { t.Attachment = &TemplateAttachment{ID: "u", Type: "image"} }), "templates[1].Attachment.Type"},
		{"empty example marker", with(func(t *NewChatTemplate) { t.WABAExamples = map[string]string{"": "x"} }), "templates[1].WABAExamples"},
		{"same request id", []NewChatTemplate{{Name: "a", Content: "a", RequestID: "r"}, {Name: "b", Content: "b", RequestID: "r"}}, "templates[1].RequestID"},
	}
	c, s := restSetup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AddChatTemplates(t.Context(), tt.in)
			wantValidation(t, err, tt.field)
		})
	}
	_, err := c.UpdateChatTemplates(t.Context(), []ChatTemplateUpdate{{Name: "n"}})
	wantValidation(t, err, "updates[0].ID")
	_, err = c.UpdateChatTemplate(t.Context(), 1, ChatTemplateUpdate{Type: TemplateAmoCRM, WABAFooter: "f"})
	wantValidation(t, err, "update.Type")
	_, err = c.ChatTemplates(t.Context(), ChatTemplateListOptions{Limit: 51})
	wantValidation(t, err, "ChatTemplateListOptions.Limit")
	_, err = c.SetChatTemplateReviewStatus(t.Context(), 1, 2, ReviewDecision{Status: ReviewPending})
	wantValidation(t, err, "ReviewDecision.Status")
	_, err = c.SetChatTemplateReviewStatus(t.Context(), 1, 2, ReviewDecision{Status: ReviewRejected, RejectReason: strings.Repeat("x", MaxRejectReasonLen+1)})
	wantValidation(t, err, "ReviewDecision.RejectReason")
	_, err = c.SetChatTemplateReviewStatus(t.Context(), 1, 0, ReviewDecision{Status: ReviewApproved})
	wantValidation(t, err, "reviewID")
	wantValidation(t, c.DeleteChatTemplates(t.Context(), nil), "ids")
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

func TestAllChatTemplatesPages(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/chats/templates", func(w http.ResponseWriter, r *http.Request) {
		restReply(200, restFixture(t, "templates_list_page"+r.URL.Query().Get("page")+".json"))(w, r)
	})
	var got []ChatTemplate
	for tpl, err := range c.AllChatTemplates(t.Context(), ChatTemplateListOptions{WithReviews: true, Limit: 2, ExternalIDs: []string{"a b"}}) {
		require.NoError(t, err)
		got = append(got, tpl)
	}
	reviewing := orderReady
	reviewing.UpdatedAt = time.Unix(1767229200, 0).UTC()
	reviewing.ReviewStatus, reviewing.OnReview = ReviewPending, true
	reviewing.Reviews = []TemplateReview{{ID: 4410, SourceID: 700101, Status: ReviewPending}}
	welcome := ChatTemplate{
		ID: 9122, AccountID: 31000001, Name: "Welcome", Content: "Welcome!", Type: TemplateWABA, ExternalID: "tpl-welcome",
		Attachment:   &TemplateAttachment{ID: "9c1e7a44-0b2d-4f3e-8a51-6c2e8f0d7b13", Name: "banner.png", Type: AttachmentPicture, IsExternal: true},
		WABACategory: CategoryMarketing, WABALanguage: "ru", WABAHeaderType: HeaderMedia,
		CreatedAt: time.Unix(1767225800, 0).UTC(), UpdatedAt: time.Unix(1767312000, 0).UTC(),
		ReviewStatus: ReviewRejected,
		Reviews: []TemplateReview{
			{ID: 4411, SourceID: 700101, Status: ReviewRejected, RejectReason: "Meta: the example values do not match the markers"},
			{ID: 4412, SourceID: 700103, Status: ReviewApproved},
		},
	}
	assert.Equal(t, []ChatTemplate{reviewing, priceList, welcome}, got, "templates")
	reqs := s.requests()
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		restCheckHeaders(t, r)
		assert.Equal(t, restBase+"/api/v4/chats/templates", r.Path, "request %d", i)
		assert.Equal(t, fmt.Sprintf("filter%%5Bexternal_id%%5D%%5B%%5D=a+b&limit=2&page=%d&with=reviews", i+1), r.Query, "request %d", i)
	}
}

func TestChatTemplatesEmptyPage(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/chats/templates", restReply(204, nil))
	p, err := c.ChatTemplates(t.Context(), ChatTemplateListOptions{Page: 3})
	require.NoError(t, err)
	assert.Equal(t, ChatTemplatePage{Templates: []ChatTemplate{}, Page: 3}, *p, "want an empty (not nil) page 3 without next")
	wantOneRequest(t, s, "GET", "/api/v4/chats/templates", "limit=50&page=3", nil)
}

func TestGetChatTemplateWithReviews(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/chats/templates/9120", restReply(200, restFixture(t, "template_response.json")))
	s.handle("GET", "/api/v4/chats/templates/9", restReply(404, []byte(`{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"not found"}`)))
	got, err := c.GetChatTemplate(t.Context(), 9120)
	require.NoError(t, err)
	wantOneRequest(t, s, "GET", "/api/v4/chats/templates/9120", "with=reviews", nil)
	want := orderReady
	want.UpdatedAt = time.Unix(1767312000, 0).UTC()
	want.ReviewStatus = ReviewApproved
	want.Reviews = []TemplateReview{{ID: 4410, SourceID: 700101, Status: ReviewApproved}}
	assert.Equal(t, want, *got, "template")
	_, err = c.GetChatTemplate(t.Context(), 9)
	assert.ErrorIs(t, err, ErrNotFound)
}

// The single PATCH answers the object itself, with waba_examples as [].
func TestUpdateChatTemplateWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("PATCH", "/api/v4/chats/templates/9121", restReply(200, restFixture(t, "template_update_response.json")))
	no := false
	got, err := c.UpdateChatTemplate(t.Context(), 9121, ChatTemplateUpdate{Name: "Price list (2026)", Editable: &no, Buttons: []TemplateButton{}})
	require.NoError(t, err)
	wantOneRequest(t, s, "PATCH", "/api/v4/chats/templates/9121", "", restCompact(t, "template_update_request.json"))
	want := priceList
	want.Name, want.Editable, want.Buttons = "Price list (2026)", false, nil
	want.UpdatedAt = time.Unix(1767312100, 0).UTC()
	assert.Equal(t, want, *got, "template")
}

func TestUpdateChatTemplatesWire(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("PATCH", "/api/v4/chats/templates", restReply(200, restFixture(t, "templates_update_response.json")))
	got, err := c.UpdateChatTemplates(t.Context(), []ChatTemplateUpdate{
		{ID: 9121, Content: "Prices, {{contact.name}}:"},
		{ID: 9122, WABAFooter: "Kommo", WABAExamples: map[string]string{"{{lead.name}}": "Order 42"}},
	})
	require.NoError(t, err)
	wantOneRequest(t, s, "PATCH", "/api/v4/chats/templates", "", restCompact(t, "templates_update_request.json"))
	require.Len(t, got, 2)
	assert.Equal(t, "Prices, {{contact.name}}:", got[0].Content)
	assert.Equal(t, "0", got[0].RequestID)
	assert.Equal(t, "Kommo", got[1].WABAFooter)
	assert.Equal(t, "Order 42", got[1].WABAExamples["{{lead.name}}"])
	assert.Equal(t, "1", got[1].RequestID)
}

func TestDeleteChatTemplates(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("DELETE", "/api/v4/chats/templates", restReply(204, nil))
	s.handle("DELETE", "/api/v4/chats/templates/9120", restReply(204, nil))
	require.NoError(t, c.DeleteChatTemplates(t.Context(), []int64{9120, 9121}))
	wantOneRequest(t, s, "DELETE", "/api/v4/chats/templates", "", restCompact(t, "templates_delete_request.json"))
	require.NoError(t, c.DeleteChatTemplate(t.Context(), 9120))
	reqs := s.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "DELETE", reqs[1].Method)
	assert.Equal(t, restBase+"/api/v4/chats/templates/9120", reqs[1].Path)
	assert.Empty(t, reqs[1].Body)
}

func TestSendChatTemplateForReview(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/chats/templates/9120/review", restReply(200, restFixture(t, "template_review_response.json")))
	got, err := c.SendChatTemplateForReview(t.Context(), 9120)
	require.NoError(t, err)
	wantOneRequest(t, s, "POST", "/api/v4/chats/templates/9120/review", "", []byte(`{}`))
	assert.Equal(t, []TemplateReview{{ID: 4410, SourceID: 700101, Status: ReviewPending}, {ID: 4413, SourceID: 700103, Status: ReviewPending}}, got, "reviews")
}

func TestSendChatTemplateForReviewNotRetried(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/chats/templates/9120/review", restReply(503, nil))
	_, err := c.SendChatTemplateForReview(t.Context(), 9120)
	require.Error(t, err)
	assert.Len(t, s.requests(), 1, "attempts")
}

func TestSetChatTemplateReviewStatus(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("POST", "/api/v4/chats/templates/9120/review/4410", restReply(200, restFixture(t, "template_review_status_response.json")))
	got, err := c.SetChatTemplateReviewStatus(t.Context(), 9120, 4410, ReviewDecision{Status: ReviewRejected, RejectReason: "Meta: the example values do not match the markers"})
	require.NoError(t, err)
	wantOneRequest(t, s, "POST", "/api/v4/chats/templates/9120/review/4410", "", restCompact(t, "template_review_status_request.json"))
	assert.Equal(t, TemplateReview{ID: 4410, SourceID: 700101, Status: ReviewRejected, RejectReason: "Meta: the example values do not match the markers"}, *got, "review")
}

func readRestText(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rest", name))
	require.NoError(t, err)
	return b
}

func TestParseTemplateReviewWebhook(t *testing.T) {
	t.Parallel()
	got, err := ParseTemplateReviewWebhook(readRestText(t, "template_review_webhook.txt"))
	require.NoError(t, err)
	assert.Equal(t, TemplateReviewWebhook{
		AccountID: 31000001, Subdomain: "acme",
		Templates: []ChatTemplate{{
			ID: 9120, Type: TemplateWABA, AccountID: 31000001, Name: "Order ready", Content: "Hello {{contact.name}}, your order is ready.",
			CreatedAt: time.Unix(1767225600, 0).UTC(), UpdatedAt: time.Unix(1767225600, 0).UTC(), OnReview: true,
			WABACategory: CategoryUtility, WABALanguage: "en", WABAFooter: "Reply STOP to opt out",
			Reviews: []TemplateReview{{ID: 4410, SourceID: 700101, Status: ReviewPending}},
		}},
	}, *got, "webhook")
}

// The add list under a top-level key, items out of order, literal brackets,
// a value with an escaped & and markers as keys.
func TestParseTemplateReviewWebhookNested(t *testing.T) {
	t.Parallel()
	got, err := ParseTemplateReviewWebhook(readRestText(t, "template_review_webhook_nested.txt"))
	require.NoError(t, err)
	assert.Equal(t, TemplateReviewWebhook{
		AccountID: 31000001, Subdomain: "acme",
		Templates: []ChatTemplate{
			{ID: 9120, Type: TemplateWABA, Name: "Order ready", OnReview: true, Reviews: []TemplateReview{{ID: 4410, SourceID: 700101, Status: ReviewPending}}},
			{
				ID: 9122, Type: TemplateWABA, Name: "Welcome", WABAExamples: map[string]string{"{{lead.name}}": "Order 42"},
				Buttons: []TemplateButton{{Type: ButtonURL, Text: "Open", URL: "https://example.com/o?a=1&b=2"}},
				Reviews: []TemplateReview{{ID: 4412, SourceID: 700103, Status: ReviewPending}},
			},
		},
	}, *got, "webhook")
}

func TestParseTemplateReviewWebhookErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "", "no add list"},
		{"JSON", `{"add":[{"id":"1"}]}`, "text after ]"},
		{"bad escape", "add[0][id]=%zz", "bad escape"},
		{"unclosed bracket", "add[0][id=1", "unclosed ["},
		{"text after bracket", "add[0]x[id]=1", "text after ]"},
		{"no name", "[add][0][id]=1", "no name before ["},
		{"value and list", "add[0]=1&add[0][id]=2", "used both as a value and as a list"},
		{"id not a number", "add[0][id]=abc", `add[0][id]: "abc" is not an integer`},
		{"bool not a bool", "add[0][is_on_review]=yes", "is not a boolean"},
		{"review id not a number", "add[0][reviews][0][id]=x", `add[0][reviews][0][id]: "x" is not an integer`},
		{"two add lists", "a[add][0][id]=1&b[add][0][id]=2", "more than one add list"},
		{"add is a value", "add=1", "add is not a list"},
		{"too deep", "add" + strings.Repeat("[0]", 13) + "=1", "nested deeper"},
		{"too many fields", strings.Repeat("a=1&", maxFormPairs+1), "more than"},
	} {
		_, err := ParseTemplateReviewWebhook([]byte(tc.body))
		if assert.ErrorContains(t, err, tc.want, tc.name) {
			assert.True(t, strings.HasPrefix(err.Error(), "amojo: template review webhook: "), "%s: err = %v", tc.name, err)
		}
	}
	_, err := ParseTemplateReviewWebhook(make([]byte, MaxTemplateReviewWebhookBody+1))
	assert.Error(t, err, "oversized body accepted")
	// PHP semantics: a repeated key keeps the last value; [] appends.
	got, err := ParseTemplateReviewWebhook([]byte("add[][id]=1&add[][id]=2&add[1][name]=b&add[1][name]=c"))
	require.NoError(t, err)
	require.Len(t, got.Templates, 2)
	assert.Equal(t, int64(1), got.Templates[0].ID)
	assert.Equal(t, int64(2), got.Templates[1].ID)
	assert.Equal(t, "c", got.Templates[1].Name)
}
