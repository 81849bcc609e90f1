package amojo_test

import (
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCreateChatWithoutIDInAnswer replays the create-chat answer of the
// step-by-step page, which has no chat id: an error, not a Chat without id.
func TestCreateChatWithoutIDInAnswer(t *testing.T) {
	t.Parallel()
	chats, mt := newMockChats(t)
	mockRoute(t, mt, "POST", mockChatsURL+"/chats", "", mockFixture(t, "requests/create_chat.json"),
		mockReply(200, plainJSON, mockFixture(t, "responses/create_chat_seed.json")))

	chat, err := chats.CreateChat(t.Context(), mockScopeID, amojo.CreateChatRequest{
		ConversationID: "my_int-8e3e7640-49af-4448-a2c6-d5a421f7f217",
		Source:         &amojo.Source{ExternalID: "78001234567"},
		User: amojo.Participant{
			ID:          "my_int-1376265f-86df-4c49-a0c3-a4816df41af9",
			Avatar:      "https://example.com/users/avatar.png",
			Name:        "Имя клиента",
			Profile:     &amojo.Profile{Phone: "+79151112233", Email: "example.client@example.com"},
			ProfileLink: "https://example.com/profile/example.client",
		},
	})
	require.EqualError(t, err, "amojo: create chat: response has no chat id")
	assert.Nil(t, chat)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}
