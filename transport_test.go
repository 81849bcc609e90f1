package amojo

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
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

// countingListener counts the connections a server accepts: the dials of
// its clients.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// newDialCountServer starts a server answering with h and counting the
// connections made to it.
func newDialCountServer(tb testing.TB, h http.Handler) (*httptest.Server, *countingListener) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	ln := &countingListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv, ln
}

// dialsForMessages sends messages text messages from senders goroutines
// through one Client with the default transport and returns how many
// connections they dialled.
func dialsForMessages(tb testing.TB, senders, messages int) int64 {
	tb.Helper()
	srv, ln := newDialCountServer(tb, newMessageAnswer())
	c, err := NewClient("344a5002-f8ca-454d-af3d-396180102ac7", testSecret, WithBaseURL(srv.URL))
	require.NoError(tb, err)
	defer c.CloseIdleConnections()
	from := Participant{ID: "client-1", Name: "Client"}
	msg := IncomingMessage("msg-1", "conv-1", time.Unix(1_600_000_000, 0), from, Text{Text: "Hello"})
	var next atomic.Int64
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for next.Add(1) <= int64(messages) {
				if _, err := c.SendMessage(tb.Context(), benchScope, msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	require.NoError(tb, <-errs)
	return ln.accepted.Load()
}

// TestDefaultTransportKeepsAConnectionPerSender sends bursts of senders
// messages that the server holds until all of them have arrived, so each
// needs a connection of its own: the first burst dials senders connections,
// and the bursts after it find them all idle instead of dialling again.
func TestDefaultTransportKeepsAConnectionPerSender(t *testing.T) {
	t.Parallel()
	for _, senders := range []int{8, 32} {
		t.Run(fmt.Sprint(senders, " senders"), func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{})
			var release atomic.Pointer[chan struct{}]
			answer := newMessageAnswer()
			srv, ln := newDialCountServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-*release.Load()
				answer(w, r)
			}))
			c, err := NewClient("344a5002-f8ca-454d-af3d-396180102ac7", testSecret, WithBaseURL(srv.URL))
			require.NoError(t, err)
			t.Cleanup(c.CloseIdleConnections)
			from := Participant{ID: "client-1", Name: "Client"}
			msg := IncomingMessage("msg-1", "conv-1", time.Unix(1_600_000_000, 0), from, Text{Text: "Hello"})
			burst := func() error {
				rel := make(chan struct{})
				release.Store(&rel)
				var once sync.Once
				open := func() { once.Do(func() { close(rel) }) }
				defer open() // even on an early return, so no handler is left waiting
				errs := make(chan error, senders)
				for range senders {
					go func() {
						_, err := c.SendMessage(t.Context(), benchScope, msg)
						errs <- err
					}()
				}
				for range senders {
					select {
					case <-arrived:
					case err := <-errs:
						return err
					}
				}
				open()
				for range senders {
					if err := <-errs; err != nil {
						return err
					}
				}
				return nil
			}
			for i := 1; i <= 3; i++ {
				require.NoError(t, burst())
				assert.EqualValues(t, senders, ln.accepted.Load(), "connections dialled after burst %d of %d messages", i, senders)
			}
		})
	}
}

// BenchmarkDefaultTransportDials reports the connections dialled per 2 000
// messages sent by 8 and by 32 goroutines through the default transport:
//
//	go test -run '^$' -bench DefaultTransportDials -benchtime 1x .
func BenchmarkDefaultTransportDials(b *testing.B) {
	for _, senders := range []int{8, 32} {
		b.Run(fmt.Sprint(senders, " senders"), func(b *testing.B) {
			var dials int64
			for b.Loop() {
				dials += dialsForMessages(b, senders, 2000)
			}
			b.ReportMetric(float64(dials)/float64(b.N), "dials/2000msgs")
		})
	}
}

func TestCloseIdleConnections(t *testing.T) {
	t.Parallel()
	srv, ln := newDialCountServer(t, status(200, `{"id":1,"amojo_id":"a"}`))
	chats, err := NewClient("ch", testSecret, WithBaseURL(srv.URL))
	require.NoError(t, err)
	crm, err := NewCRMClient(srv.URL, StaticToken("t"))
	require.NoError(t, err)
	calls := map[string]struct {
		call  func() error
		close func()
	}{
		"Client":    {func() error { return chats.Typing(t.Context(), "s", TypingRequest{ConversationID: "c", SenderID: "u"}) }, chats.CloseIdleConnections},
		"CRMClient": {func() error { _, err := crm.Account(t.Context()); return err }, crm.CloseIdleConnections},
	}
	for _, name := range []string{"Client", "CRMClient"} {
		c := calls[name]
		before := ln.accepted.Load()
		require.NoError(t, c.call())
		require.NoError(t, c.call())
		assert.Equal(t, before+1, ln.accepted.Load(), "%s: the second call reuses the connection", name)
		c.close()
		require.NoError(t, c.call())
		assert.Equal(t, before+2, ln.accepted.Load(), "%s: a call after CloseIdleConnections dials again", name)
	}
}

func TestDefaultTransportSpeaksHTTP2(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := newDefaultTransport()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", string(body))
	assert.Equal(t, defaultIdleConnsPerHost, tr.MaxIdleConnsPerHost)
	assert.NotNil(t, tr.Proxy, "the proxy is taken from the environment")
}

// TestDefaultHTTPClientIsPrivate checks that clients made without
// WithHTTPClient share neither net/http's default transport nor each other's.
func TestDefaultHTTPClientIsPrivate(t *testing.T) {
	t.Parallel()
	a, err := NewClient("ch", "s")
	require.NoError(t, err)
	b, err := NewCRMClient("https://example.amocrm.example", StaticToken("t"))
	require.NoError(t, err)
	ta, tb := a.r.hc.Transport, b.r.hc.Transport
	require.NotNil(t, ta)
	assert.NotSame(t, http.DefaultTransport, ta)
	assert.NotSame(t, ta, tb)
	assert.Equal(t, DefaultTimeout, a.r.hc.Timeout)
	if !errors.Is(refuseRedirect(nil, nil), http.ErrUseLastResponse) {
		t.Error("redirects are followed")
	}
}
