package amojotest

import (
	"net/http"
	"strconv"
	"time"
)

// Route names an endpoint of the fake, for fault injection and the request
// log.
type Route string

// The routes of the fake.
const (
	RouteConnect        Route = "connect"         // POST /v2/origin/custom/{channel_id}/connect
	RouteDisconnect     Route = "disconnect"      // DELETE /v2/origin/custom/{channel_id}/disconnect
	RouteCreateChat     Route = "create_chat"     // POST /v2/origin/custom/{scope_id}/chats
	RouteMessage        Route = "message"         // POST /v2/origin/custom/{scope_id} (new_message, edit_message)
	RouteTyping         Route = "typing"          // POST /v2/origin/custom/{scope_id}/typing
	RouteReact          Route = "react"           // POST /v2/origin/custom/{scope_id}/react
	RouteDeliveryStatus Route = "delivery_status" // POST /v2/origin/custom/{scope_id}/{msgid}/delivery_status
	RouteHistory        Route = "history"         // GET /v2/origin/custom/{scope_id}/chats/{chat_id}/history
	RouteAccount        Route = "account"         // GET /api/v4/account
	RouteUsers          Route = "users"           // GET /api/v4/users
	RouteContacts       Route = "contacts"        // POST /api/v4/contacts
	RouteLinkChats      Route = "link_chats"      // POST /api/v4/contacts/chats
	RouteListLinks      Route = "list_links"      // GET /api/v4/contacts/chats

	// AllRoutes applies SetLatency to every route.
	AllRoutes Route = ""
)

// fault is one queued misbehaviour of a route.
type fault struct {
	left       int
	drop       bool
	status     int
	retryAfter string
}

// FailNext makes the next n requests of route fail with status before anything
// else is checked (as a proxy or an overloaded server would). A non-empty
// retryAfter is sent as the Retry-After header, e.g. "2" or an HTTP date.
// Failures queued by FailNext and DropNext are used in the order queued.
func (s *Server) FailNext(route Route, n int, status int, retryAfter string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &fault{left: n, status: status, retryAfter: retryAfter})
}

// DropNext makes the server close the connection of the next n requests of
// route after reading the request, without answering: the client sees a
// network error.
func (s *Server) DropNext(route Route, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &fault{left: n, drop: true})
}

// SetLatency delays every later request of route by d before it is handled
// (AllRoutes: every route without a latency of its own). A zero d removes the
// delay. The wait ends early when the request is cancelled or the server
// closes.
func (s *Server) SetLatency(route Route, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, route)
		return
	}
	s.latency[route] = d
}

// ResetFaults removes every queued failure and latency.
func (s *Server) ResetFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	clear(s.latency)
}

// takeFault returns the latency for route and consumes its next fault.
func (s *Server) takeFault(route Route) (time.Duration, *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.latency[route]
	if !ok {
		d = s.latency[AllRoutes]
	}
	q := s.faults[route]
	if len(q) == 0 {
		return d, nil
	}
	f := *q[0]
	q[0].left--
	if q[0].left <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.faults, route)
	} else {
		s.faults[route] = q
	}
	return d, &f
}

// injectFaults runs the latency and fault of route; it reports whether the
// request was answered (or dropped) and must not be handled.
func (s *Server) injectFaults(w http.ResponseWriter, r *http.Request, route Route, rest bool) bool {
	d, f := s.takeFault(route)
	if d > 0 && !s.wait(r.Context(), d) {
		exchangeOf(r).dropped = true
		dropConn(w)
		return true
	}
	if f == nil {
		return false
	}
	if f.drop {
		exchangeOf(r).dropped = true
		dropConn(w)
		return true
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	switch {
	case rest:
		writeProblem(w, f.status, "injected failure", nil)
	case f.status == http.StatusForbidden || f.status == http.StatusNoContent:
		writeEmpty(w, f.status)
	default:
		writeAmojoError(w, f.status, ErrCodeInjected, "injected failure "+strconv.Itoa(f.status))
	}
	return true
}

// dropConn closes the client's connection without an answer.
func dropConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
