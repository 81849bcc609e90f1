package amojo

import (
	"net/http"
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
