package amojotest

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Request is one request the server received, as recorded for assertions.
type Request struct {
	Route      Route       // "" when no route matched (or none yet)
	Method     string      // e.g. "POST"
	Path       string      // escaped path as sent, without the query
	RawQuery   string      // query as sent
	Query      url.Values  // RawQuery parsed
	Header     http.Header // a copy of the request headers
	Body       []byte      // the body as received
	StatusCode int         // status answered; for a dropped connection the status of the lost answer, if any; 0 while being served
	Dropped    bool        // the connection was closed without an answer
	Time       time.Time   // arrival, by the server's clock
}

// Requests returns a copy of every request received so far, oldest first,
// the control API's aside. A request is there from the moment its body is
// read, with StatusCode 0 while it is being served (during a latency, say),
// and its outcome is there before the client sees it: whatever the fault
// (FailNext, DropNext, DropNextResponse, a latency cut short, a handler that
// panics), a client that got an answer or lost its connection finds the
// request in the log.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Query = maps.Clone(r.Query)
	for k, v := range r.Query {
		r.Query[k] = slices.Clone(v)
	}
	r.Body = slices.Clone(r.Body)
	return r
}

// RequestsTo returns the recorded requests of route, oldest first.
func (s *Server) RequestsTo(route Route) []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Route == route {
			out = append(out, r.clone())
		}
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.requests = nil
}
