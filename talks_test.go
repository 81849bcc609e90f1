package amojo

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetTalk(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/talks/5123", restReply(200, restFixture(t, "talk_response.json")))
	s.handle("GET", "/api/v4/talks/5124", restReply(200, restFixture(t, "talk_closed_response.json")))
	s.handle("GET", "/api/v4/talks/9", restReply(404, []byte(`{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Talk not found"}`)))
	got, err := c.GetTalk(t.Context(), 5123)
	require.NoError(t, err)
	wantOneRequest(t, s, "GET", "/api/v4/talks/5123", "", nil)
	assert.Equal(t, Talk{
		ID: 5123, CreatedAt: time.Unix(1767225600, 0).UTC(), UpdatedAt: time.Unix(1767229200, 0).UTC(), ContactID: 8801,
		ChatID: "3f9c2a44-1b7e-4d0a-9a51-6c2e8f0d7b13", EntityID: 99120, EntityType: "lead", InWork: true,
		Origin: "telegram", AccountID: 31000001, LeadID: 99120,
	}, *got, "talk")
	got, err = c.GetTalk(t.Context(), 5124)
	require.NoError(t, err)
	assert.Equal(t, Talk{
		ID: 5124, CreatedAt: time.Unix(1767225600, 0).UTC(), UpdatedAt: time.Unix(1767240000, 0).UTC(), Rate: 9, ContactID: 8802,
		ChatID: "8c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", EntityID: 2210, EntityType: "customer", Read: true,
		Origin: "Viber", MissedAt: time.Unix(1767229500, 0).UTC(), AccountID: 31000001, CustomerID: 2210,
	}, *got, "talk")
	_, err = c.GetTalk(t.Context(), 9)
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = c.GetTalk(t.Context(), -1)
	wantValidation(t, err, "id")
}

func TestCloseTalk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		force bool
		body  string
		reply []byte
	}{
		{"forced, no body", true, `{"force_close":true}`, nil},
		{"not forced, {} body", false, `{"force_close":false}`, []byte(`{}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			s.handle("POST", "/api/v4/talks/5123/close", restReply(202, tc.reply))
			got, err := c.CloseTalk(t.Context(), 5123, CloseTalkOptions{Force: tc.force})
			require.NoError(t, err)
			wantOneRequest(t, s, "POST", "/api/v4/talks/5123/close", "", []byte(tc.body))
			assert.Equal(t, TalkClose{TalkID: 5123, Forced: tc.force}, *got, "close")
		})
	}
	assert.Contains(t, string(restCompact(t, "talk_close_request.json")), `"force_close":true`, "fixture")
}

// A close whose first answer was lost is repeated; the repeat meets a talk
// being closed (422), which the caller treats as done.
func TestCloseTalkRetriedAfterLostAnswer(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	n := 0
	s.handle("POST", "/api/v4/talks/5123/close", func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			restReply(502, nil)(w, r)
			return
		}
		restReply(422, []byte(`{"title":"Unprocessable Entity","status":422,"detail":"being closed"}`))(w, r)
	})
	_, err := c.CloseTalk(t.Context(), 5123, CloseTalkOptions{})
	assert.ErrorIs(t, err, ErrTalkClosed)
	assert.Equal(t, 2, n, "attempts")
}
