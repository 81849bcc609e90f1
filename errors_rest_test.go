package amojo

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restAPIError decodes body as the REST client would (rest set), with the
// headers given as name, value pairs.
func restAPIError(t *testing.T, code int, body []byte, headers ...string) *APIError {
	t.Helper()
	resp := &http.Response{StatusCode: code, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		resp.Header.Set(headers[i], headers[i+1])
	}
	e := newAPIError("GET", "/api/v4/sources", resp, body, newFakeClock().Now())
	e.rest = true
	return e
}

func TestAPIErrorHintRequestIDContentType(t *testing.T) {
	t.Parallel()
	e := restAPIError(t, 401, restFixture(t, "problem_401_hint.json"),
		"Content-Type", "application/problem+json", "X-Request-Id", "5f2836a8ca475")
	assert.Equal(t, "Token has been revoked", e.Hint)
	assert.Equal(t, "5f2836a8ca475", e.RequestID)
	assert.Equal(t, "application/problem+json", e.ContentType)
	want := "amojo: GET /api/v4/sources: 401 Неавторизованный запрос: Срок действия токена истёк (hint: Token has been revoked) (request id 5f2836a8ca475)"
	assert.EqualError(t, e, want)
	assert.ErrorIs(t, e, ErrUnauthorized)
	assert.NotErrorIs(t, e, ErrAccountBlocked)
}

func TestAPIErrorRequestIDIsCleaned(t *testing.T) {
	t.Parallel()
	e := restAPIError(t, 500, nil, "X-Request-Id", "abc\x00\x1b[31mdef\x7f"+strings.Repeat("x", 500))
	assert.False(t, strings.ContainsAny(e.RequestID, "\x00\x1b\x7f"), "RequestID %q", e.RequestID)
	assert.LessOrEqual(t, len(e.RequestID), maxRequestIDLen, "RequestID %q", e.RequestID)
	assert.True(t, strings.HasPrefix(e.RequestID, "abc[31mdef"), "RequestID %q", e.RequestID)

	e = restAPIError(t, 500, nil)
	assert.Empty(t, e.RequestID, "no header")
	assert.NotContains(t, e.Error(), "request id", "no header")
}

// The sources batch delete names a missing id under "errors", whose inner
// "errors" is one object, not an array.
func TestAPIErrorBatchErrorsKey(t *testing.T) {
	t.Parallel()
	e := restAPIError(t, 400, restFixture(t, "sources_delete_400.json"))
	want := []ItemErrors{{RequestID: "1", Errors: []FieldError{{Code: "EntityNotFound", Path: "id", Detail: "Entity with id 700199 not found"}}}}
	assert.Equal(t, want, e.ValidationErrors)
	assert.EqualError(t, e, "amojo: GET /api/v4/sources: 400 Bad Request: Invalid request items; item 1: id: Entity with id 700199 not found (EntityNotFound)")
	// Both keys in one body, request ids as numbers, inner lists either way.
	e = restAPIError(t, 400, []byte(`{"validation-errors":[{"request_id":0,"errors":[{"code":"A","path":"p","detail":"d"}]}],`+
		`"errors":[{"request_id":"2","errors":[{"code":"B","path":"q","detail":"e"}]},{"request_id":3,"errors":null}]}`))
	want = []ItemErrors{
		{RequestID: "0", Errors: []FieldError{{Code: "A", Path: "p", Detail: "d"}}},
		{RequestID: "2", Errors: []FieldError{{Code: "B", Path: "q", Detail: "e"}}},
		{RequestID: "3"},
	}
	assert.Equal(t, want, e.ValidationErrors)
	be := newBatchError("delete sources", 0, 4, []string{"0", "1", "2", "3"}, e)
	assert.Equal(t, []int{0, 2, 3}, be.Failed)
}

func TestAPIErrorBlocked(t *testing.T) {
	t.Parallel()
	page := restFixture(t, "blocked_403.html")
	e := restAPIError(t, 403, page, "Content-Type", "text/html")
	require.ErrorIs(t, e, ErrAccountBlocked, "HTML 403")
	assert.NotErrorIs(t, e, ErrInvalidSignature, "HTML 403 matches another sentinel")
	assert.NotErrorIs(t, e, ErrUnauthorized, "HTML 403 matches another sentinel")
	assert.Equal(t, "text/html", e.ContentType)
	assert.Equal(t, string(page), string(e.Body))
	assert.EqualError(t, e, "amojo: GET /api/v4/sources: 403 Forbidden: "+blockedMessage)
	for _, w := range []string{"blocked", "429", "stop every call", "support"} {
		assert.Contains(t, e.Error(), w)
	}
	assert.NotContains(t, e.Error(), "<html>", "message repeats the page")

	// Not a block: REST 403 with problem+json, REST 403 without a body (a
	// plain 403), and amojo's 403 (a bad signature) whatever its body.
	for _, tc := range []struct {
		name string
		e    *APIError
	}{
		{"problem+json", restAPIError(t, 403, restFixture(t, "problem_403.json"))},
		{"JSON of another shape", restAPIError(t, 403, []byte(`{"title":7}`))},
		{"JSON that is no object", restAPIError(t, 403, []byte(`null`))},
		{"empty", restAPIError(t, 403, nil)},
		{"amojo", apiErrorFrom(t, 403, string(page))},
		{"REST 404 page", restAPIError(t, 404, page)},
	} {
		assert.NotErrorIs(t, tc.e, ErrAccountBlocked, tc.name)
	}
}
