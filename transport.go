package amojo

import (
	"net"
	"net/http"
	"time"
)

// defaultIdleConnsPerHost is how many idle connections per host the default
// transport keeps: more than the concurrency of the SDK's own batch work (8
// to 32 calls at once), so that concurrent calls reuse their connections
// instead of dialling, and against amoCRM paying a TLS handshake, again and
// again. net/http's default keeps 2.
const defaultIdleConnsPerHost = 64

// newDefaultTransport returns the transport of a client made without
// WithHTTPClient: net/http's default settings (proxy from the environment,
// HTTP/2 when the server offers it, the same dial, handshake and idle
// timeouts) with an idle pool sized by defaultIdleConnsPerHost.
func newDefaultTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * defaultIdleConnsPerHost,
		MaxIdleConnsPerHost:   defaultIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// sendingClient returns the http.Client the request path sends with: a copy
// of hc, so the caller's client is never changed, that
//   - never follows a redirect: following one would send the signed request
//     (replayable at amojo for 15 minutes) or the Bearer token wherever the
//     server points, even over plain HTTP, and take the answer of that other
//     server for amoCRM's; a 3xx comes back as an *APIError instead;
//   - never sends cookies: amoCRM refuses session cookies on the API;
//   - bounds every attempt, so no call can hang forever.
func sendingClient(hc *http.Client) *http.Client {
	c := *hc
	c.Jar = nil
	c.CheckRedirect = refuseRedirect
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return &c
}

// refuseRedirect makes an http.Client return a redirect response as it is.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
