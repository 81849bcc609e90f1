package amojo

import "net/http"

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
