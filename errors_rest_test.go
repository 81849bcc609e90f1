package amojo

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
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
	if e.Hint != "Token has been revoked" || e.RequestID != "5f2836a8ca475" || e.ContentType != "application/problem+json" {
		t.Errorf("Hint %q RequestID %q ContentType %q", e.Hint, e.RequestID, e.ContentType)
	}
	want := "amojo: GET /api/v4/sources: 401 Неавторизованный запрос: Срок действия токена истёк (hint: Token has been revoked) (request id 5f2836a8ca475)"
	if e.Error() != want {
		t.Errorf("Error()\n got %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, ErrUnauthorized) || errors.Is(e, ErrAccountBlocked) {
		t.Errorf("Is: unauthorized %v, blocked %v", errors.Is(e, ErrUnauthorized), errors.Is(e, ErrAccountBlocked))
	}
}

func TestAPIErrorRequestIDIsCleaned(t *testing.T) {
	t.Parallel()
	e := restAPIError(t, 500, nil, "X-Request-Id", "abc\x00\x1b[31mdef\x7f"+strings.Repeat("x", 500))
	if strings.ContainsAny(e.RequestID, "\x00\x1b\x7f") || len(e.RequestID) > maxRequestIDLen || !strings.HasPrefix(e.RequestID, "abc[31mdef") {
		t.Errorf("RequestID %q (%d bytes)", e.RequestID, len(e.RequestID))
	}
	if e := restAPIError(t, 500, nil); e.RequestID != "" || strings.Contains(e.Error(), "request id") {
		t.Errorf("no header: RequestID %q, Error %q", e.RequestID, e.Error())
	}
}

// The sources batch delete names a missing id under "errors", whose inner
// "errors" is one object, not an array.
func TestAPIErrorBatchErrorsKey(t *testing.T) {
	t.Parallel()
	e := restAPIError(t, 400, restFixture(t, "sources_delete_400.json"))
	want := []ItemErrors{{RequestID: "1", Errors: []FieldError{{Code: "EntityNotFound", Path: "id", Detail: "Entity with id 700199 not found"}}}}
	if !reflect.DeepEqual(e.ValidationErrors, want) {
		t.Errorf("ValidationErrors = %+v", e.ValidationErrors)
	}
	if got := e.Error(); got != "amojo: GET /api/v4/sources: 400 Bad Request: Invalid request items; item 1: id: Entity with id 700199 not found (EntityNotFound)" {
		t.Errorf("Error() = %q", got)
	}
	// Both keys in one body, request ids as numbers, inner lists either way.
	e = restAPIError(t, 400, []byte(`{"validation-errors":[{"request_id":0,"errors":[{"code":"A","path":"p","detail":"d"}]}],`+
		`"errors":[{"request_id":"2","errors":[{"code":"B","path":"q","detail":"e"}]},{"request_id":3,"errors":null}]}`))
	want = []ItemErrors{
		{RequestID: "0", Errors: []FieldError{{Code: "A", Path: "p", Detail: "d"}}},
		{RequestID: "2", Errors: []FieldError{{Code: "B", Path: "q", Detail: "e"}}},
		{RequestID: "3"},
	}
	if !reflect.DeepEqual(e.ValidationErrors, want) {
		t.Errorf("ValidationErrors = %+v", e.ValidationErrors)
	}
	be := newBatchError("delete sources", 0, 4, []string{"0", "1", "2", "3"}, e)
	if !reflect.DeepEqual(be.Failed, []int{0, 2, 3}) {
		t.Errorf("Failed = %v", be.Failed)
	}
}

func TestAPIErrorBlocked(t *testing.T) {
	t.Parallel()
	page := restFixture(t, "blocked_403.html")
	e := restAPIError(t, 403, page, "Content-Type", "text/html")
	if !errors.Is(e, ErrAccountBlocked) {
		t.Fatal("HTML 403 does not match ErrAccountBlocked")
	}
	if errors.Is(e, ErrInvalidSignature) || errors.Is(e, ErrUnauthorized) {
		t.Error("HTML 403 matches another sentinel")
	}
	if e.ContentType != "text/html" || string(e.Body) != string(page) {
		t.Errorf("ContentType %q Body %q", e.ContentType, e.Body)
	}
	want := "amojo: GET /api/v4/sources: 403 Forbidden: " + blockedMessage
	if e.Error() != want {
		t.Errorf("Error() = %q", e.Error())
	}
	for _, w := range []string{"blocked", "429", "stop every call", "support"} {
		if !strings.Contains(e.Error(), w) {
			t.Errorf("message lacks %q", w)
		}
	}
	if strings.Contains(e.Error(), "<html>") {
		t.Error("message repeats the page")
	}

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
		if errors.Is(tc.e, ErrAccountBlocked) {
			t.Errorf("%s: matches ErrAccountBlocked", tc.name)
		}
	}
}

// A blocked account is asked once: no retry, whatever the policy.
func TestBlockedIsNeverRetried(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t, WithRetry(RetryPolicy{MaxAttempts: 5}))
	page := restFixture(t, "blocked_403.html")
	s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(page)
	})
	_, err := c.Account(t.Context())
	if !errors.Is(err, ErrAccountBlocked) {
		t.Fatalf("err = %v", err)
	}
	var re *RetryError
	if errors.As(err, &re) {
		t.Errorf("retried: %v", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
