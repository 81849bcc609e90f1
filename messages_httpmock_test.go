package amojo_test

import (
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mockIncomingText is the client's message whose body is
// testdata/requests/message_incoming_text.json.
func mockIncomingText() amojo.Message {
	client := amojo.Participant{
		ID:          "my_int-1376265f-86df-4c49-a0c3-a4816df41af8",
		Avatar:      "https://images.pexels.com/photos/10050979/pexels-photo-10050979.jpeg?auto=compress&cs=tinysrgb&dpr=2&w=500",
		Profile:     &amojo.Profile{Phone: "+79151112233", Email: "example.client@example.com"},
		ProfileLink: "https://example.com/profile/example.client",
		Name:        "Вася клиент",
	}
	at := time.Date(2021, 12, 16, 13, 15, 29, 379_000_000, time.UTC)
	return amojo.IncomingMessage("my_int-5f2836a8ca481", "my_int-d5a421f7f218", at, client, amojo.Text{Text: "Сообщение от клиента"})
}

// TestSendMessageResponses replays amojo's answers to new_message: the ids
// of an incoming and of an outgoing message, and the bare shape of the
// step-by-step page.
func TestSendMessageResponses(t *testing.T) {
	t.Parallel()
	const chatRef = "6cbab3d5-c4c1-46ff-b710-ad59ad10805f"
	tests := []struct {
		fixture string
		want    amojo.SentMessage
	}{
		{"new_message.json", amojo.SentMessage{
			ConversationID: chatRef, SenderID: "86a0caef-41ec-49ac-814b-b27da2cea267",
			MsgID: "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc", RefID: "my_int-5f2836a8ca481",
		}},
		{"new_message_outgoing.json", amojo.SentMessage{
			ConversationID: chatRef, SenderID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5",
			ReceiverID: "86a0caef-41ec-49ac-814b-b27da2cea267",
			MsgID:      "3985523d-78b3-45b7-aeaf-142405bbf1dc", RefID: "skm-5f2836a8ca468",
		}},
		{"new_message_seed.json", amojo.SentMessage{MsgID: "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			chats, mt := newMockChats(t)
			mockRoute(t, mt, "POST", mockChatsURL, "", mockFixture(t, "requests/message_incoming_text.json"),
				mockReply(200, plainJSON, mockFixture(t, "responses/"+tt.fixture)))
			got, err := chats.SendMessage(t.Context(), mockScopeID, mockIncomingText())
			require.NoError(t, err)
			assert.Equal(t, tt.want, *got)
			assert.Equal(t, 1, mt.GetTotalCallCount())
		})
	}
}

// TestSendMessageError400 replays amojo's 400 to a repeated msgid: an
// *APIError with the body's code and description, matching no sentinel,
// and not retried.
func TestSendMessageError400(t *testing.T) {
	t.Parallel()
	chats, mt := newMockChats(t)
	body := mockFixture(t, "responses/error_400.json")
	mockRoute(t, mt, "POST", mockChatsURL, "", mockFixture(t, "requests/message_incoming_text.json"), mockReply(400, plainJSON, body))

	_, err := chats.SendMessage(t.Context(), mockScopeID, mockIncomingText())
	var ae *amojo.APIError
	require.ErrorAs(t, err, &ae)
	assert.EqualExportedValues(t, amojo.APIError{
		StatusCode: 400, Method: "POST", Path: "/v2/origin/custom/" + mockScopeID, Body: body, ContentType: plainJSON,
		Code: "400", Message: "payload.msgid: duplicate",
	}, *ae)
	assert.NotErrorIs(t, err, amojo.ErrInvalidSignature, "400 matches a sentinel")
	assert.NotErrorIs(t, err, amojo.ErrNotFound, "400 matches a sentinel")
	assert.Equal(t, 1, mt.GetTotalCallCount(), "400 was retried")
}
