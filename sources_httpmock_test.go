package amojo_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeleteSourcesFixture replays amoCRM's answer to a batch delete that
// names a missing id: a 400 whose "errors" key holds one object per item
// (not the "validation-errors" array). The request body must be exactly
// the recorded request. It is written without this package's helpers: docs
// show it as the way to test an integration with httpmock.
func TestDeleteSourcesFixture(t *testing.T) {
	t.Parallel()
	wantBody, err := os.ReadFile("testdata/rest/sources_delete_request.json")
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, wantBody))
	answer, err := os.ReadFile("testdata/rest/sources_delete_400.json")
	require.NoError(t, err)

	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodDelete, "https://example.amocrm.ru/api/v4/sources",
		func(r *http.Request) (*http.Response, error) {
			body, err := io.ReadAll(r.Body)
			assert.NoError(t, err)
			assert.Empty(t, r.URL.RawQuery)
			assert.Equal(t, compact.String(), string(body))
			resp := httpmock.NewBytesResponse(http.StatusBadRequest, answer)
			resp.Header.Set("Content-Type", "application/problem+json")
			return resp, nil
		})
	crm, err := amojo.NewCRMClient("https://example.amocrm.ru", amojo.StaticToken("token"),
		amojo.WithHTTPClient(&http.Client{Transport: mock}))
	require.NoError(t, err)

	err = crm.DeleteSources(t.Context(), []int64{700101, 700199})

	var be *amojo.BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "delete sources", be.Op)
	assert.Equal(t, []int{1}, be.Failed) // 700199, the second id
	assert.Equal(t, 0, be.Done)
	assert.Equal(t, 0, be.Start)
	assert.Equal(t, 2, be.End)
	var ae *amojo.APIError
	require.ErrorAs(t, err, &ae)
	assert.EqualExportedValues(t, amojo.APIError{
		StatusCode: 400, Method: "DELETE", Path: "/api/v4/sources", Body: answer,
		ContentType: "application/problem+json",
		Title:       "Bad Request", Type: "https://httpstatus.es/400", Detail: "Invalid request items",
		ValidationErrors: []amojo.ItemErrors{{RequestID: "1", Errors: []amojo.FieldError{
			{Code: "EntityNotFound", Path: "id", Detail: "Entity with id 700199 not found"},
		}}},
	}, *ae)
	assert.Equal(t, 1, mock.GetTotalCallCount(), "a 400 is not retried")
}
