package amojotest

import (
	"fmt"
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

	RouteListSources        Route = "list_sources"         // GET /api/v4/sources
	RouteGetSource          Route = "get_source"           // GET /api/v4/sources/{id}
	RouteAddSources         Route = "add_sources"          // POST /api/v4/sources
	RouteUpdateSources      Route = "update_sources"       // PATCH /api/v4/sources
	RouteUpdateSource       Route = "update_source"        // PATCH /api/v4/sources/{id}
	RouteDeleteSources      Route = "delete_sources"       // DELETE /api/v4/sources
	RouteDeleteSource       Route = "delete_source"        // DELETE /api/v4/sources/{id}
	RouteListTemplates      Route = "list_templates"       // GET /api/v4/chats/templates
	RouteGetTemplate        Route = "get_template"         // GET /api/v4/chats/templates/{id}
	RouteAddTemplates       Route = "add_templates"        // POST /api/v4/chats/templates
	RouteUpdateTemplates    Route = "update_templates"     // PATCH /api/v4/chats/templates
	RouteUpdateTemplate     Route = "update_template"      // PATCH /api/v4/chats/templates/{id}
	RouteDeleteTemplates    Route = "delete_templates"     // DELETE /api/v4/chats/templates
	RouteDeleteTemplate     Route = "delete_template"      // DELETE /api/v4/chats/templates/{id}
	RouteTemplateReview     Route = "template_review"      // POST /api/v4/chats/templates/{id}/review
	RouteTemplateReviewSave Route = "template_review_save" // POST /api/v4/chats/templates/{id}/review/{review_id}
	RouteGetTalk            Route = "get_talk"             // GET /api/v4/talks/{id}
	RouteCloseTalk          Route = "close_talk"           // POST /api/v4/talks/{id}/close
	RouteEvents             Route = "events"               // GET /api/v4/events
	RouteEvent              Route = "event"                // GET /api/v4/events/{id}

	// AllRoutes applies SetLatency to every route.
	AllRoutes Route = ""
)

// fault is one queued misbehaviour of a route.
type fault struct {
	left       int
	drop       bool
	dropAfter  bool
	status     int
	retryAfter string
}

// FailNext makes the next n requests of route fail with status before anything
// else is checked (as a proxy or an overloaded server would). A non-empty
// retryAfter is sent as the Retry-After header, e.g. "2" or an HTTP date.
// status must be a valid HTTP status (100 to 599); FailNext panics otherwise,
// as httptest does on misuse. Failures queued by FailNext, DropNext and DropNextResponse are used in
// the order queued.
func (s *Server) FailNext(route Route, n int, status int, retryAfter string) {
	if status < 100 || status > 599 {
		panic(fmt.Sprintf("amojotest: FailNext with invalid HTTP status %d", status))
	}
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

// DropNextResponse makes the server handle the next n requests of route
// normally (what they store stays stored) and then close the connection
// instead of answering, as when an answer is lost on the way: a client that
// retries sends the same request a second time.
func (s *Server) DropNextResponse(route Route, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], &fault{left: n, dropAfter: true})
}

// SetLatency delays every later request of route by d before it is handled
// (AllRoutes: every route without a latency of its own). A zero d removes the
// delay. The wait ends early when the request is cancelled or the server
// closes; the server's WriteTimeout does not cut it.
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

// faulty wraps the handler of route with its latency and queued faults. rest
// says which error body an injected failure gets. The request's log entry
// shows a drop before the connection is closed (see exchange.drop).
func (s *Server) faulty(route Route, rest bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		x.setRoute(route)
		d, f := s.takeFault(route)
		if d > 0 {
			// An injected delay is the fake's doing, not a slow client: the
			// server's write timeout must not cut it.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
			if !s.wait(r.Context(), d) {
				x.drop(w, 0)
				return
			}
		}
		switch {
		case f == nil:
			h.ServeHTTP(w, r)
		case f.drop:
			x.drop(w, 0)
		case f.dropAfter:
			lost := &lostResponse{header: http.Header{}}
			h.ServeHTTP(lost, r)
			x.drop(w, lost.status)
		default:
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
		}
	})
}

// lostResponse takes an answer that is never sent.
type lostResponse struct {
	header http.Header
	status int
}

func (l *lostResponse) Header() http.Header { return l.header }

func (l *lostResponse) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	return len(b), nil
}

func (l *lostResponse) WriteHeader(code int) {
	if l.status == 0 {
		l.status = code
	}
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
