package amojo_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file and in the *_httpmock_test.go files replay recorded
// answers of testdata/rest and testdata/responses through an httpmock
// transport: there is no server and no socket. Each route checks the request
// it answers (method and path by the route, the query and the body against
// the request fixture) and the test asserts the decoded Go value exactly.
// What goes on the wire itself (headers, signatures, connections) is tested
// against httptest and amojotest elsewhere.

const (
	mockCRMURL   = "https://example.amocrm.ru" // no request leaves the transport
	mockToken    = "long-lived-token-7f3a"
	mockChannel  = "344a5002-f8ca-454d-af3d-396180102ac7"
	mockSecret   = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
	mockAccount  = "52e591f7-c98f-4255-8495-827210138c81"
	mockScopeID  = mockChannel + "_" + mockAccount
	mockChatsURL = amojo.DefaultBaseURL + "/v2/origin/custom/" + mockScopeID

	halJSON     = "application/hal+json"
	problemJSON = "application/problem+json"
	plainJSON   = "application/json"
)

// newMockCRM returns a CRM client for mockCRMURL whose requests go to a new
// httpmock transport, and that transport. The client copies the http.Client
// it is given and keeps its Transport, so the mock sees every attempt; a
// transport per test keeps the tests parallel.
func newMockCRM(t *testing.T, opts ...amojo.Option) (*amojo.CRMClient, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	opts = append([]amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: mt})}, opts...)
	crm, err := amojo.NewCRMClient(mockCRMURL, amojo.StaticToken(mockToken), opts...)
	require.NoError(t, err)
	return crm, mt
}

// newMockChats returns a chats client for channel mockChannel at the default
// amojo URL whose requests go to a new httpmock transport, and that transport.
func newMockChats(t *testing.T, opts ...amojo.Option) (*amojo.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	opts = append([]amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: mt})}, opts...)
	c, err := amojo.NewClient(mockChannel, mockSecret, opts...)
	require.NoError(t, err)
	return c, mt
}

// mockFixture reads testdata/name.
func mockFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// mockCompact reads the JSON fixture testdata/name as compact JSON: the exact
// bytes a client sends.
func mockCompact(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, mockFixture(t, name)), name)
	return b.Bytes()
}

// mockReply answers status with body as contentType (no Content-Type for an
// empty body).
func mockReply(status int, contentType string, body []byte) httpmock.Responder {
	r := httpmock.NewBytesResponder(status, body)
	if len(body) == 0 {
		return r
	}
	return r.HeaderSet(http.Header{"Content-Type": {contentType}})
}

// mockRoute routes method and rawURL (no query) on mt to reply, after
// checking that the request has exactly query and body (nil: none).
func mockRoute(t *testing.T, mt *httpmock.MockTransport, method, rawURL, query string, body []byte, reply httpmock.Responder) {
	mt.RegisterResponder(method, rawURL, func(r *http.Request) (*http.Response, error) {
		var got []byte
		if r.Body != nil {
			var err error
			got, err = io.ReadAll(r.Body)
			assert.NoError(t, err)
		}
		assert.Equal(t, query, r.URL.RawQuery, "%s %s: query", method, rawURL)
		assert.Equal(t, string(body), string(got), "%s %s: body", method, rawURL)
		return reply(r)
	})
}

// TestTestingGuideShowsARealTest keeps the httpmock example of
// docs/testing.md the very file sources_httpmock_test.go, so the guide shows
// a test that compiles and passes.
func TestTestingGuideShowsARealTest(t *testing.T) {
	t.Parallel()
	guide, err := os.ReadFile(filepath.Join("docs", "testing.md"))
	require.NoError(t, err)
	test, err := os.ReadFile("sources_httpmock_test.go")
	require.NoError(t, err)
	assert.Contains(t, string(guide), "```go\n"+string(test)+"```\n", "docs/testing.md does not show sources_httpmock_test.go as it is")
}

// TestCRMProblemErrors replays amoCRM's problem+json answers (and bare
// statuses): each is an *APIError with the answer's fields, matches the
// sentinels it should and no other, and is never retried.
func TestCRMProblemErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		fixture    string
		is         error
		isNot      []error
		want       amojo.APIError
		wantInText []string
	}{
		{"401", 401, "rest/problem_401.json", amojo.ErrUnauthorized, []error{amojo.ErrInvalidSignature, amojo.ErrRateLimited},
			amojo.APIError{Title: "Unauthorized", Type: "https://httpstatus.es/401", Detail: "Incorrect account"},
			[]string{"amojo: GET /api/v4/account: 401 Unauthorized: Incorrect account"}},
		{"402", 402, "rest/problem_402.json", nil, []error{amojo.ErrUnauthorized, amojo.ErrInvalidSignature},
			amojo.APIError{Title: "Payment Required", Type: "https://httpstatus.es/402", Detail: "Account subscription has expired"},
			[]string{"402 Payment Required", "subscription has expired"}},
		{"403", 403, "rest/problem_403.json", nil, []error{amojo.ErrInvalidSignature, amojo.ErrUnauthorized, amojo.ErrAccountBlocked},
			amojo.APIError{Title: "Forbidden", Type: "https://httpstatus.es/403", Detail: "Access denied: the integration does not own this channel"},
			[]string{"403 Forbidden", "Access denied"}},
		{"402 without body", 402, "", nil, nil, amojo.APIError{}, []string{"402: Payment Required"}},
		{"403 without body", 403, "", nil, []error{amojo.ErrUnauthorized, amojo.ErrAccountBlocked}, amojo.APIError{}, []string{"403: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			crm, mt := newMockCRM(t)
			want := tt.want
			want.StatusCode, want.Method, want.Path = tt.status, "GET", "/api/v4/account"
			if tt.fixture != "" {
				want.Body, want.ContentType = mockFixture(t, tt.fixture), problemJSON
			}
			mockRoute(t, mt, "GET", mockCRMURL+"/api/v4/account", "with=amojo_id", nil, mockReply(tt.status, problemJSON, want.Body))

			_, err := crm.Account(t.Context())
			var ae *amojo.APIError
			require.ErrorAs(t, err, &ae)
			assert.EqualExportedValues(t, want, *ae)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, not := range tt.isNot {
				assert.NotErrorIs(t, err, not)
			}
			for _, w := range tt.wantInText {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), mockToken, "the message leaks the token")
			assert.Equal(t, 1, mt.GetTotalCallCount(), "never retried")
		})
	}
}

// TestBlockedIsNeverRetried replays the HTML page amoCRM answers instead of
// the API to a blocked account or address: ErrAccountBlocked, asked once
// whatever the retry policy.
func TestBlockedIsNeverRetried(t *testing.T) {
	t.Parallel()
	crm, mt := newMockCRM(t, amojo.WithRetry(amojo.RetryPolicy{MaxAttempts: 5}))
	page := mockFixture(t, "rest/blocked_403.html")
	mockRoute(t, mt, "GET", mockCRMURL+"/api/v4/account", "with=amojo_id", nil, mockReply(http.StatusForbidden, "text/html", page))

	_, err := crm.Account(t.Context())
	require.ErrorIs(t, err, amojo.ErrAccountBlocked)
	var re *amojo.RetryError
	assert.NotErrorAs(t, err, &re, "retried")
	assert.Equal(t, 1, mt.GetTotalCallCount())
	var ae *amojo.APIError
	require.ErrorAs(t, err, &ae)
	assert.EqualExportedValues(t, amojo.APIError{
		StatusCode: 403, Method: "GET", Path: "/api/v4/account", Body: page, ContentType: "text/html",
	}, *ae)
	assert.NotErrorIs(t, err, amojo.ErrInvalidSignature)
	assert.NotErrorIs(t, err, amojo.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "<html>", "the message repeats the page")
}
