package amojo

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
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
			if e.Code != tc.code || e.Message != tc.msg || e.Detail != tc.detail {
				t.Errorf("decoded %+v", e)
			}
			if e.Error() != tc.text {
				t.Errorf("Error() = %q\nwant      %q", e.Error(), tc.text)
			}
			if string(e.Body) != tc.body {
				t.Errorf("Body = %q", e.Body)
			}
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
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%d %s: not %v", tc.code, tc.body, tc.is)
		}
		for _, n := range tc.not {
			if errors.Is(err, n) {
				t.Errorf("%d %s: matches %v", tc.code, tc.body, n)
			}
		}
	}
}

func TestAPIErrorTruncatesBody(t *testing.T) {
	t.Parallel()
	e := apiErrorFrom(t, 500, strings.Repeat("x", 10000))
	if len(e.Body) != maxErrorBody {
		t.Fatalf("len(Body) = %d", len(e.Body))
	}
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
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	e := apiErrorFrom(t, 429, "", "Retry-After", "5")
	if e.RetryAfter != 5*time.Second || !strings.Contains(e.Error(), "429") {
		t.Errorf("429: %+v %q", e, e.Error())
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(invalid("Content.FileName", "required for file messages"))
	if err.Error() != "amojo: invalid Content.FileName: required for file messages" {
		t.Fatal(err.Error())
	}
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
