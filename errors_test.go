package amojo

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func apiErrorFrom(t *testing.T, code int, body string, headers ...string) *APIError {
	t.Helper()
	resp := &http.Response{StatusCode: code, Header: http.Header{}}
	for i := 0; i+1 < len(headers); i += 2 {
		resp.Header.Set(headers[i], headers[i+1])
	}
	return newAPIError("POST", "/v2/origin/custom/s/chats", resp, []byte(body), newFakeClock().Now())
}

func TestAPIErrorDecodesBodies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body        string
		code, msg, detail string
		text              string
	}{
		{"amojo php-client shape", `{"error_code":400,"error_type":"validation","error_description":"msgid is required"}`,
			"400", "msgid is required", "", "amojo: POST /v2/origin/custom/s/chats: 400 [400]: msgid is required"},
		{"code and message", `{"code":"duplicate_msgid","message":"message already exists"}`,
			"duplicate_msgid", "message already exists", "", "amojo: POST /v2/origin/custom/s/chats: 400 [duplicate_msgid]: message already exists"},
		{"error string", `{"error":"bad payload"}`, "", "bad payload", "", "amojo: POST /v2/origin/custom/s/chats: 400: bad payload"},
		{"empty object", `{}`, "", "", "", "amojo: POST /v2/origin/custom/s/chats: 400: Bad Request"},
		{"not json", `<html>oops</html>`, "", "", "", "amojo: POST /v2/origin/custom/s/chats: 400: Bad Request"},
		{"problem+json with validation errors",
			`{"title":"Bad Request","type":"https://httpstatus.es/400","status":400,"detail":"Request validation failed","validation-errors":[{"request_id":"1","errors":[{"code":"InvalidType","path":"custom_fields_values.0.values.0.enum_code","detail":"enum not found"}]}]}`,
			"", "", "Request validation failed",
			"amojo: POST /v2/origin/custom/s/chats: 400 Bad Request: Request validation failed; item 1: custom_fields_values.0.values.0.enum_code: enum not found (InvalidType)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := apiErrorFrom(t, 400, tc.body)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.msg, e.Message)
			assert.Equal(t, tc.detail, e.Detail)
			assert.Equal(t, tc.text, e.Error())
			assert.Equal(t, tc.body, string(e.Body))
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		body string
		is   error
		not  []error
	}{
		{403, "", ErrInvalidSignature, []error{ErrNotFound, ErrUnauthorized}},
		{403, `{"title":"Forbidden","type":"https://httpstatus.es/403","status":403,"detail":"blocked"}`, nil, []error{ErrInvalidSignature}},
		{404, "", ErrNotFound, []error{ErrInvalidSignature}},
		{429, "", ErrRateLimited, nil},
		{401, `{"title":"Unauthorized","type":"https://httpstatus.es/401","status":401,"detail":"Token expired"}`, ErrUnauthorized, []error{ErrInvalidSignature}},
	}
	for _, tc := range cases {
		e := apiErrorFrom(t, tc.code, tc.body)
		var err error = &RetryError{Attempts: 2, Err: e}
		if tc.is != nil {
			assert.ErrorIs(t, err, tc.is, "%d %s", tc.code, tc.body)
		}
		for _, n := range tc.not {
			assert.NotErrorIs(t, err, n, "%d %s", tc.code, tc.body)
		}
	}
}

func TestAPIErrorTruncatesBody(t *testing.T) {
	t.Parallel()
	e := apiErrorFrom(t, 500, strings.Repeat("x", 10000))
	require.Len(t, e.Body, maxErrorBody)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := newFakeClock().Now()
	cases := map[string]time.Duration{
		"":    0,
		"0":   0,
		"-5":  0,
		"12":  12 * time.Second,
		" 2 ": 2 * time.Second,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"soon":           0,
		"99999999999999": 24 * time.Hour,
	}
	for in, want := range cases {
		assert.Equal(t, want, parseRetryAfter(in, now), "parseRetryAfter(%q)", in)
	}
	e := apiErrorFrom(t, 429, "", "Retry-After", "5")
	assert.Equal(t, 5*time.Second, e.RetryAfter)
	assert.Contains(t, e.Error(), "429")
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(invalid("Content.FileName", "required for file messages"))
	require.EqualError(t, err, "amojo: invalid Content.FileName: required for file messages")
}

func FuzzDecodeErrorBody(f *testing.F) {
	f.Add(403, []byte(""))
	f.Add(400, []byte(`{"error_code":1,"error_description":"x"}`))
	f.Add(400, []byte(`{"validation-errors":[{"request_id":"0","errors":[{"code":"c","path":"p","detail":"d"}]}]}`))
	f.Add(400, []byte(`{"validation-errors":{"x":1},"code":[1],"error":{"a":"b"}}`))
	f.Add(429, []byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		resp := &http.Response{StatusCode: code, Header: http.Header{"Retry-After": {string(body)}}}
		e := newAPIError("GET", "/p", resp, body, time.Unix(0, 0))
		msg := e.Error()
		if !strings.HasPrefix(msg, "amojo: GET /p: ") {
			t.Fatalf("message %q", msg)
		}
		if len(e.Body) > maxErrorBody || e.RetryAfter < 0 {
			t.Fatalf("body %d bytes, retry-after %v", len(e.Body), e.RetryAfter)
		}
	})
}
