package amojo_test

import (
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpdateChatTemplatesFixture replays the answer to a batch update of
// templates: each template whole, in the order of the input, with its
// request_id; an empty buttons list and an empty waba_examples array (PHP's
// [] for an empty object) read as nil.
func TestUpdateChatTemplatesFixture(t *testing.T) {
	t.Parallel()
	crm, mt := newMockCRM(t)
	mockRoute(t, mt, "PATCH", mockCRMURL+"/api/v4/chats/templates", "", mockCompact(t, "rest/templates_update_request.json"),
		mockReply(200, halJSON, mockFixture(t, "rest/templates_update_response.json")))

	got, err := crm.UpdateChatTemplates(t.Context(), []amojo.ChatTemplateUpdate{
		{ID: 9121, Content: "Prices, {{contact.name}}:"},
		{ID: 9122, WABAFooter: "Kommo", WABAExamples: map[string]string{"{{lead.name}}": "Order 42"}},
	})
	require.NoError(t, err)
	assert.Equal(t, []amojo.ChatTemplate{
		{
			ID: 9121, AccountID: 31000001, Name: "Price list", Content: "Prices, {{contact.name}}:", Editable: true,
			Type: amojo.TemplateAmoCRM, ExternalID: "tpl-prices",
			CreatedAt: time.Unix(1767225700, 0).UTC(), UpdatedAt: time.Unix(1767312100, 0).UTC(), RequestID: "0",
		},
		{
			ID: 9122, AccountID: 31000001, Name: "Welcome", Content: "Welcome!", Type: amojo.TemplateWABA, ExternalID: "tpl-welcome",
			WABACategory: amojo.CategoryMarketing, WABALanguage: "ru", WABAHeaderType: amojo.HeaderText, WABAFooter: "Kommo",
			WABAExamples: map[string]string{"{{lead.name}}": "Order 42"},
			CreatedAt:    time.Unix(1767225800, 0).UTC(), UpdatedAt: time.Unix(1767312100, 0).UTC(), RequestID: "1",
		},
	}, got)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}
