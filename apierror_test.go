package amojo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertOneCleanLine fails if msg has a control or bidirectional character,
// or is longer than limit bytes.
func assertOneCleanLine(t *testing.T, msg string, limit int) {
	t.Helper()
	for _, r := range msg {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			t.Errorf("message has %U: %q", r, msg)
			return
		}
	}
	assert.LessOrEqual(t, len(msg), limit, "message length")
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"Контакт не найден", "Контакт не найден"},
		{"line 1\nline 2\r\nline\t3", "line 1 line 2  line 3"},
		{"\x1b[31mred\x1b[0m and \x1b[2Jclear", "red and clear"},
		{"bell\x07 nul\x00 del\x7f esc\x1b alone", "bell nul del esc alone"},
		{"c1 \u0085next\u009b2J", "c1 next2J"},
		{"bidi \u202eevil\u202c \u2066x\u2069", "bidi evil x"},
		{"sep\u2028line\u2029para", "sep line para"},
		{"bad \xff utf-8", "bad \ufffd utf-8"},
		{strings.Repeat("é", 300), strings.Repeat("é", 256) + "…"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, cleanText(tc.in, maxErrorText), "cleanText(%q)", tc.in)
	}
}

func TestAPIErrorMessageIsOneCleanBoundedLine(t *testing.T) {
	t.Parallel()
	dirty := "first\nFAKE LOG LINE level=ERROR\x1b[2J\x1b]0;title\x07\u202e" + strings.Repeat("x", 100_000)
	body, err := json.Marshal(map[string]any{
		"title":  "Bad Request\r\n",
		"detail": dirty,
		"validation-errors": []ItemErrors{
			{RequestID: "0\n1", Errors: []FieldError{{Code: "C\x1b[0m", Path: "p\tq", Detail: dirty}}},
		},
	})
	require.NoError(t, err)
	e := apiErrorFrom(t, 400, string(body))
	assert.Equal(t, dirty, e.Detail, "the decoded field keeps the server's text")
	msg := e.Error()
	assertOneCleanLine(t, msg, 3*maxErrorText+200)
	assert.True(t, strings.HasPrefix(msg, "amojo: POST /v2/origin/custom/s/chats: 400 Bad Request  : first FAKE LOG LINE level=ERROR"), msg)
	assert.Contains(t, msg, "; item 0 1: p q: first")
	assert.Contains(t, msg, "(C)")

	redirect := apiErrorFrom(t, 307, "", "Location", "https://elsewhere.example/\x1b[2Jx")
	assertOneCleanLine(t, redirect.Error(), 300)
	assert.Contains(t, redirect.Error(), "redirect to https://elsewhere.example/x not followed")
}

// TestEchoedCredentialsAreRedacted has a server repeat the request's
// Authorization and X-Signature headers in its error answer.
func TestEchoedCredentialsAreRedacted(t *testing.T) {
	t.Parallel()
	echo := func(header string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			got := r.Header.Get(header)
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Location", "https://elsewhere.example/?seen="+got)
			w.WriteHeader(http.StatusBadRequest)
			// Once as it is, once JSON-escaped.
			escaped := strings.ReplaceAll(got, "e", `\u0065`)
			fmt.Fprintf(w, `{"title":"Bad Request","detail":"you sent %s: %s","validation-errors":[{"request_id":"0","errors":[{"code":"X","path":"%s","detail":"%s"}]}]}`, header, got, escaped, escaped)
		}
	}
	check := func(t *testing.T, err error, secret string) {
		t.Helper()
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", ae), string(ae.Body), ae.Detail, ae.Location, fmt.Sprint(ae.ValidationErrors)} {
			assert.NotContains(t, out, secret)
		}
		assert.Contains(t, ae.Detail, "[redacted]")
		assert.Contains(t, string(ae.Body), "[redacted]")
	}
	t.Run("Bearer token", func(t *testing.T) {
		t.Parallel()
		srv := newScriptServer(t, echo("Authorization"))
		crm, err := NewCRMClient(srv.URL, StaticToken(restToken))
		require.NoError(t, err)
		_, err = crm.Account(t.Context())
		check(t, err, restToken)
	})
	t.Run("signature", func(t *testing.T) {
		t.Parallel()
		srv := newScriptServer(t, echo("X-Signature"))
		c, _, _ := newTestClient(t, srv.URL)
		_, err := postPing(t.Context(), c, nil)
		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		check(t, err, reqs[0].Header.Get("X-Signature"))
	})
}

// TestLargeErrorBodyIsDecodedWhole has LinkChats refused for 50 chat ids,
// a problem+json answer longer than the 4 KiB the error keeps raw.
func TestLargeErrorBodyIsDecodedWhole(t *testing.T) {
	t.Parallel()
	links := make([]ChatLink, 50)
	items := make([]ItemErrors, 50)
	for i := range links {
		links[i] = ChatLink{ChatID: fmt.Sprintf("6cbab3d5-c4f4-4a37-9d1c-%012d", i), ContactID: int64(1000 + i)}
		items[i] = ItemErrors{RequestID: fmt.Sprint(i), Errors: []FieldError{{Code: "NotFound", Path: "chat_id", Detail: "Chat " + links[i].ChatID + " not found"}}}
	}
	body, err := json.Marshal(map[string]any{
		"title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400,
		"detail": "Request validation failed", "validation-errors": items,
	})
	require.NoError(t, err)
	require.Greater(t, len(body), maxErrorBody)

	crm, srv := restSetup(t)
	srv.handle("POST", "/api/v4/contacts/chats", restReply(http.StatusBadRequest, body))
	_, err = crm.LinkChats(t.Context(), links)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Bad Request", ae.Title)
	assert.Equal(t, "Request validation failed", ae.Detail)
	assert.Equal(t, items, ae.ValidationErrors)
	assert.Equal(t, body[:maxErrorBody], ae.Body, "the raw body keeps its first 4 KiB")
	msg := ae.Error()
	assert.True(t, strings.HasPrefix(msg, "amojo: POST /crm/api/v4/contacts/chats: 400 Bad Request: Request validation failed; item 0: chat_id: Chat "), msg)
	for _, l := range links {
		assert.Contains(t, msg, l.ChatID)
	}
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Len(t, be.Failed, 50)
}

func TestErrorMessageListsValidationErrorsUpToALimit(t *testing.T) {
	t.Parallel()
	items := make([]ItemErrors, 250)
	for i := range items {
		items[i] = ItemErrors{RequestID: fmt.Sprint(i), Errors: []FieldError{{Code: "InvalidType", Path: "custom_fields_values.0.values.0.value", Detail: "This value should be of type string"}}}
	}
	body, err := json.Marshal(map[string]any{"title": "Bad Request", "detail": "Request validation failed", "validation-errors": items})
	require.NoError(t, err)
	e := apiErrorFrom(t, 400, string(body))
	require.Len(t, e.ValidationErrors, 250)
	msg := e.Error()
	assertOneCleanLine(t, msg, maxErrorMessage+4*maxErrorText)
	assert.Contains(t, msg, "; item 0: custom_fields_values.0.values.0.value: This value should be of type string (InvalidType)")
	assert.Regexp(t, `; and \d+ more$`, msg)
}

func FuzzAPIErrorText(f *testing.F) {
	f.Add(400, []byte(`{"title":"Bad\nRequest","detail":"x\x1b[31my","validation-errors":[{"request_id":"0","errors":[{"path":"p","detail":"d\u202e"}]}]}`), "\x1b]0;t\x07")
	f.Add(307, []byte(`{"message":"token fuzz-secret-token here"}`), "https://x.example/\r\nInjected: 1")
	f.Add(500, []byte("\xff\xfe<html>\x00"), "")
	const secret = "fuzz-secret-token"
	f.Fuzz(func(t *testing.T, code int, body []byte, location string) {
		resp := &http.Response{StatusCode: code, Header: http.Header{"Location": {location}}}
		e := newAPIError("GET", "/p", resp, body, time.Unix(0, 0), secret)
		msg := e.Error()
		if !strings.HasPrefix(msg, "amojo: GET /p: ") {
			t.Fatalf("message %q", msg)
		}
		for _, r := range msg {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("message has %U: %q", r, msg)
			}
		}
		if len(msg) > maxErrorMessage+6*maxErrorText+100 {
			t.Fatalf("message of %d bytes", len(msg))
		}
		if strings.Contains(msg, secret) || bytes.Contains(e.Body, []byte(secret)) || len(e.Body) > maxErrorBody {
			t.Fatalf("secret or long body: %q, %q", msg, e.Body)
		}
		if c := cleanText(location, 64); len(c) > 64+len("…") || !utf8.ValidString(c) {
			t.Fatalf("cleanText(%q) = %q", location, c)
		}
	})
}
