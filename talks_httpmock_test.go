package amojo_test

import (
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseTalkAlreadyClosed replays the 422 amoCRM answers to closing a
// talk that is closed or being closed: a *TalkClosedError matching
// ErrTalkClosed around the *APIError. A 404 is not ErrTalkClosed. Neither
// is retried.
func TestCloseTalkAlreadyClosed(t *testing.T) {
	t.Parallel()
	crm, mt := newMockCRM(t)
	closed := mockFixture(t, "rest/talk_close_422.json")
	mockRoute(t, mt, "POST", mockCRMURL+"/api/v4/talks/5123/close", "", mockCompact(t, "rest/talk_close_request.json"),
		mockReply(422, problemJSON, closed))
	mockRoute(t, mt, "POST", mockCRMURL+"/api/v4/talks/9/close", "", []byte(`{"force_close":false}`),
		mockReply(404, problemJSON, []byte(`{"title":"Not Found","type":"https://httpstatus.es/404","status":404,"detail":"Talk not found"}`)))

	_, err := crm.CloseTalk(t.Context(), 5123, amojo.CloseTalkOptions{Force: true})
	var tc *amojo.TalkClosedError
	var ae *amojo.APIError
	require.ErrorAs(t, err, &tc)
	require.ErrorIs(t, err, amojo.ErrTalkClosed)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int64(5123), tc.TalkID)
	assert.EqualExportedValues(t, amojo.APIError{
		StatusCode: 422, Method: "POST", Path: "/api/v4/talks/5123/close", Body: closed, ContentType: problemJSON,
		Title: "Unprocessable Entity", Type: "https://httpstatus.es/422", Detail: "Talk is already closed",
	}, *ae)
	assert.EqualError(t, err, "amojo: talk 5123 is already closed or being closed (amojo: POST /api/v4/talks/5123/close: 422 Unprocessable Entity: Talk is already closed)")

	_, err = crm.CloseTalk(t.Context(), 9, amojo.CloseTalkOptions{})
	assert.NotErrorIs(t, err, amojo.ErrTalkClosed, "404")
	assert.ErrorIs(t, err, amojo.ErrNotFound, "404")
	assert.Equal(t, 2, mt.GetTotalCallCount(), "422 and 404 are not retried")
}
