package amojo

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNonJSONSuccessIsADecodeError checks the calls that decode nothing: a
// 2xx whose body is not JSON (a captive portal's page) did not come from
// amoCRM.
func TestNonJSONSuccessIsADecodeError(t *testing.T) {
	t.Parallel()
	calls := map[string]func(c *Client) error{
		"SetDeliveryStatus": func(c *Client) error {
			return c.SetDeliveryStatus(t.Context(), "scope", "msg", DeliveryStatus{Status: DeliveryRead})
		},
		"Typing": func(c *Client) error {
			return c.Typing(t.Context(), "scope", TypingRequest{ConversationID: "c", SenderID: "s"})
		},
		"Disconnect": func(c *Client) error { return c.Disconnect(t.Context(), "account") },
	}
	portal := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html><body>Please log in to the Wi-Fi</body></html>"))
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptServer(t, portal)
			c, _, _ := newTestClient(t, srv.URL)
			err := call(c)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, http.StatusOK, de.StatusCode)
			assert.Contains(t, err.Error(), "decode 200 response: body is not JSON (text/html)")
			assert.Len(t, srv.Requests(), 1, "a decode error is not retried")

			// An empty body and JSON are still success.
			for _, ok := range []http.HandlerFunc{status(200, ""), status(200, "{}"), status(200, " {\"ok\":true}\n"), status(204, "")} {
				srv := newScriptServer(t, ok)
				c, _, _ := newTestClient(t, srv.URL)
				assert.NoError(t, call(c))
			}
		})
	}
}

// TestClientSideErrorsAreNotRetried checks that a request net/http cannot
// send fails after one attempt that never reaches the server.
func TestClientSideErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for name, tok := range map[string]string{
		"NUL":       "token\x00with-a-nul-byte",
		"escape":    "token\x1b[2J-clears-the-screen",
		"DEL":       "token\x7f",
		"backspace": "token\bx",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newScriptServer(t, status(200, `{"id":1}`))
			var asked atomic.Int64
			tokens := TokenFunc(func(context.Context) (string, error) {
				asked.Add(1)
				return tok, nil
			})
			sl := &sleepRecorder{}
			crm, err := NewCRMClient(srv.URL, tokens, withTestSleep(sl.sleep))
			require.NoError(t, err)
			_, err = crm.Account(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "header Authorization has a control character")
			assert.NotContains(t, err.Error(), tok)
			var re *RetryError
			assert.False(t, errors.As(err, &re), "err = %v: retried", err)
			var ne *networkError
			assert.False(t, errors.As(err, &ne), "err = %v: classed as a network error", err)
			assert.EqualValues(t, 1, asked.Load(), "attempts")
			assert.Empty(t, sl.Delays(), "back-off waits")
			assert.Empty(t, srv.Requests(), "requests that reached the server")
		})
	}
}

func TestUserAgentWithControlCharactersIsRefused(t *testing.T) {
	t.Parallel()
	for _, ua := range []string{"agent\x00", "agent\x1b[31m", "agent\x7f", "a\nb"} {
		_, err := NewClient("ch", "secret", WithUserAgent(ua))
		wantValidation(t, err, "UserAgent")
	}
	_, err := NewClient("ch", "secret", WithUserAgent("agent/1 (tab\tok; ünïcode ok)"))
	assert.NoError(t, err)
}
