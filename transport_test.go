package amojo

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countServer is an httptest server that counts the requests it gets.
type countServer struct {
	*httptest.Server
	n atomic.Int64
}

func newCountServer(t *testing.T, tls bool, h http.HandlerFunc) *countServer {
	t.Helper()
	s := &countServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// redirectTo answers every request with code and a Location at target, with
// the same path.
func redirectTo(code int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target+r.URL.Path)
		w.WriteHeader(code)
	}
}

func TestRedirectsAreNeverFollowed(t *testing.T) {
	t.Parallel()
	calls := map[string]func(t *testing.T, base string, hc *http.Client) (path string, err error){
		"signed DELETE disconnect": func(t *testing.T, base string, hc *http.Client) (string, error) {
			c, err := NewClient("channel-1", testSecret, WithBaseURL(base), WithHTTPClient(hc))
			require.NoError(t, err)
			return "/v2/origin/custom/channel-1/disconnect", c.Disconnect(t.Context(), "account-1")
		},
		"signed POST message": func(t *testing.T, base string, hc *http.Client) (string, error) {
			c, err := NewClient("channel-1", testSecret, WithBaseURL(base), WithHTTPClient(hc))
			require.NoError(t, err)
			from := Participant{ID: "client-1", Name: "Client"}
			_, err = c.SendMessage(t.Context(), "scope-1", IncomingMessage("m-1", "conv-1", time.Unix(1, 0), from, Text{Text: "hi"}))
			return "/v2/origin/custom/scope-1", err
		},
		"Bearer GET account": func(t *testing.T, base string, hc *http.Client) (string, error) {
			c, err := NewCRMClient(base, StaticToken(restToken), WithHTTPClient(hc))
			require.NoError(t, err)
			_, err = c.Account(t.Context())
			return "/api/v4/account", err
		},
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		for name, call := range calls {
			for _, from := range []string{"http", "https"} {
				t.Run(fmt.Sprintf("%d %s from %s", code, name, from), func(t *testing.T) {
					t.Parallel()
					// Another port of the same host, over plain HTTP.
					target := newCountServer(t, false, func(w http.ResponseWriter, _ *http.Request) {
						_, _ = io.WriteString(w, `{"id":1,"amojo_id":"from-the-other-server"}`)
					})
					origin := newCountServer(t, from == "https", redirectTo(code, target.URL))
					hc := origin.Client()
					// The caller's client would follow anything; it is not used.
					follow := func(*http.Request, []*http.Request) error { return nil }
					hc.CheckRedirect = follow
					jar, err := cookiejar.New(nil)
					require.NoError(t, err)
					hc.Jar = jar

					path, err := call(t, origin.URL, hc)

					assert.Zero(t, target.n.Load(), "the redirect was followed")
					assert.EqualValues(t, 1, origin.n.Load(), "a redirect is not retried")
					var ae *APIError
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, code, ae.StatusCode)
					assert.Equal(t, target.URL+path, ae.Location)
					assert.Contains(t, err.Error(), "redirect to "+target.URL+path+" not followed")
					assert.NotContains(t, err.Error(), restToken)
					// The caller's client is left as it was.
					assert.Equal(t, fmt.Sprintf("%p", follow), fmt.Sprintf("%p", hc.CheckRedirect))
					assert.Same(t, jar, hc.Jar)
					assert.Zero(t, hc.Timeout)
				})
			}
		}
	}
}
