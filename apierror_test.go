package amojo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeErrorBodyIsDecodedWhole has LinkChats refused for 50 chat ids,
// a problem+json answer longer than the 4 KiB the error keeps raw.
func TestLargeErrorBodyIsDecodedWhole(t *testing.T) {
	t.Parallel()
	links := make([]ChatLink, 50)
	items := make([]ItemErrors, 50)
	for i := range links {
		links[i] = ChatLink{ChatID: fmt.Sprintf("6cbab3d5-c4f4-4a37-9d1c-%012d", i), ContactID: int64(1000 + i)}
		items[i] = ItemErrors{RequestID: fmt.Sprint(i), Errors: []FieldError{{Code: "NotFound", Path: "chat_id", Detail: "Chat " + links[i].ChatID + " not found"}}}
	}
	body, err := json.Marshal(map[string]any{
		"title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400,
		"detail": "Request validation failed", "validation-errors": items,
	})
	require.NoError(t, err)
	require.Greater(t, len(body), maxErrorBody)

	crm, srv := restSetup(t)
	srv.handle("POST", "/api/v4/contacts/chats", restReply(http.StatusBadRequest, body))
	_, err = crm.LinkChats(t.Context(), links)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Bad Request", ae.Title)
	assert.Equal(t, "Request validation failed", ae.Detail)
	assert.Equal(t, items, ae.ValidationErrors)
	assert.Equal(t, body[:maxErrorBody], ae.Body, "the raw body keeps its first 4 KiB")
	msg := ae.Error()
	assert.True(t, strings.HasPrefix(msg, "amojo: POST /crm/api/v4/contacts/chats: 400 Bad Request: Request validation failed; item 0: chat_id: Chat "), msg)
	for _, l := range links {
		assert.Contains(t, msg, l.ChatID)
	}
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Len(t, be.Failed, 50)
}
