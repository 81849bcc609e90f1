package amojo_test

import (
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHistoryMediaFixture replays a history page of four kinds of message:
// a picture from the client (the phone and e-mail nested in a profile), a
// location from a manager to the client, a voice message without
// milliseconds and a shared contact with a field this SDK does not know.
func TestHistoryMediaFixture(t *testing.T) {
	t.Parallel()
	const chatID = "6cbab3d5-c4c1-46ff-b710-ad59ad10805f"
	chats, mt := newMockChats(t)
	mockRoute(t, mt, "GET", mockChatsURL+"/chats/"+chatID+"/history", "limit=50&offset=0", nil,
		mockReply(200, plainJSON, mockFixture(t, "responses/history_media.json")))

	got, err := chats.History(t.Context(), mockScopeID, chatID, amojo.HistoryOptions{})
	require.NoError(t, err)
	const client = "86a0caef-41ec-49ac-814b-b27da2cea267"
	assert.Equal(t, []amojo.HistoryMessage{
		{
			Time:   time.UnixMilli(1639660529379).UTC(),
			Sender: amojo.ChatUser{ID: client, ClientID: "c-1", Name: "Client", Phone: "+7915", Email: "c@example.com"},
			Message: amojo.ReceivedMessage{
				ID: "m-1", ClientID: "my-1", Type: amojo.TypePicture, Text: "caption", Media: "https://example.com/p.jpg",
				Thumbnail: "https://example.com/t.jpg", FileName: "p.jpg", FileSize: 2048, MediaGroupID: "g-1",
			},
		},
		{
			Time:     time.UnixMilli(1639660500001).UTC(),
			Sender:   amojo.ChatUser{ID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5", Name: "Manager"},
			Receiver: &amojo.ChatUser{ID: client, ClientID: "c-1"},
			Message:  amojo.ReceivedMessage{ID: "m-2", Type: amojo.TypeLocation, Location: &amojo.GeoPoint{Lon: 37.6, Lat: 55.7}},
		},
		{
			Time:    time.Unix(1639660400, 0).UTC(),
			Sender:  amojo.ChatUser{ID: client},
			Message: amojo.ReceivedMessage{ID: "m-3", Type: amojo.TypeVoice, Media: "https://example.com/v.ogg", MediaDuration: 4},
		},
		{
			Time:    time.Unix(1639660300, 0).UTC(),
			Sender:  amojo.ChatUser{ID: client},
			Message: amojo.ReceivedMessage{ID: "m-4", Type: amojo.TypeContact, Contact: &amojo.ContactInfo{Name: "Petya", Phone: "+7999"}},
		},
	}, got)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}
