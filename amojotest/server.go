// Package amojotest is an in-memory fake of amoCRM for tests: the chats API
// ("amojo", paths /v2/origin/custom/…) and the REST v4 calls a chat
// integration needs (paths /api/v4/…), served on one loopback address, in the
// manner of net/http/httptest.
//
// The fake is a specification in code: it checks every amojo request's
// Content-MD5, X-Signature and 15-minute Date window as amoCRM documents them,
// keeps connections, chats, participants and messages per scope, answers with
// the documented shapes and status codes, requires the Bearer token on REST
// calls and enforces amoCRM's 7 requests per second there. A test helper makes
// a CRM user reply, type or react, which sends the signed v2 webhook to the
// channel's webhook URL. Faults (failures with Retry-After, dropped
// connections, latency) can be injected per route, and every request is
// recorded for assertions.
//
// Tests outside Go run the same server as a program, cmd/amojofake, and drive
// it through the JSON control API of WithControlAPI.
//
// The fake also serves OAuth 2.0 as amoCRM does (the authorization page, the
// token endpoint with single-use codes and rotating single-use refresh
// tokens, the subdomain lookup), and its REST routes accept the access tokens
// it issued until they expire on its clock; see WithOAuthClient.
//
// A Server is safe for concurrent use, prints nothing unless given a logger,
// and leaves no goroutine behind after Close.
//
// Where amoCRM's documentation leaves the behaviour open, the fake picks one:
//
//   - A duplicate payload.msgid in a scope is answered 400 with error_code
//     ErrCodeDuplicateMsgID ("duplicate_msgid").
//   - A Date more than SignatureWindow in the future is refused like a stale
//     one; exactly 15 minutes either way is still accepted. Date may be
//     RFC 1123 with a numeric zone ("+0000", "+0300") or with "GMT".
//   - 403 answers have an empty text/plain body; amojo's other errors are
//     {"error_code":"…","error_description":"…"} (see the ErrCode constants).
//   - The query string is not signed; a GET must have no body (400).
//     Content-Type must be exactly application/json (400 otherwise).
//   - Delivery status is read from msgid + delivery_status; -1 needs an
//     error_code 901..905, and 905 an error text.
//   - timestamp is required, msec_timestamp defaults to timestamp×1000 and,
//     when sent, must fall in the same second.
//   - History: limit defaults to 50 and must be 1..50; chats of other scopes
//     answer 204 like unknown ones.
//   - GET /api/v4/contacts/chats accepts chat_id[]= and chat_id= (contact_id
//     likewise), needs at least one, and answers 204 when nothing matches.
//   - Webhooks count as delivered only when the receiver answers 200.
//   - A batch delete of sources or templates with an unknown id deletes
//     nothing (400 with the "errors" key); a source added without
//     external_id gets its id as external_id.
//   - A template's review_status is "review" while any review runs, else
//     rejected, paused, approved in that order; a reviewed WhatsApp template
//     cannot be edited (400); more than MaxChatTemplates answer 422.
//   - A message opens a talk when its chat has none open; chat events are
//     listed newest first.
package amojotest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// maxBody bounds a request body the fake reads.
const maxBody = 4 << 20

// Server is a fake amoCRM: amojo under URL and REST v4 under CRMURL.
type Server struct {
	// URL is the base URL of the chats API, such as "http://127.0.0.1:41234",
	// for amojo.WithBaseURL. It is empty until the server is started.
	URL string
	// CRMURL is the base URL of the REST v4 API, for amojo.NewCRMClient. It
	// is the same address as URL.
	CRMURL string

	cfg     config
	mux     *http.ServeMux
	ts      *httptest.Server
	closed  chan struct{}
	closeMu sync.Once
	// flight counts the requests being served, so Close can wait for them
	// (httptest does not wait for hijacked connections); shut refuses new
	// ones once Close began. Both are guarded by flightMu.
	flightMu sync.Mutex
	flight   sync.WaitGroup
	shut     bool
	hooks    *http.Client
	hookTr   *http.Transport
	wait     func(ctx context.Context, d time.Duration) bool
	newIDRaw func() string

	// logMu guards the request log alone, so a request is logged even while
	// another holds mu.
	logMu    sync.Mutex
	requests []*Request

	mu        sync.Mutex
	channels  map[string]*Channel
	accounts  map[string]*account
	tokens    map[string]*account
	scopes    map[string]*scope
	chats     map[string]*chat
	chatOrder []*chat
	faults    map[Route][]*fault
	latency   map[Route]time.Duration
	webhooks  []WebhookResult
	rate      float64
	burst     int
	oauth     *oauthState // codes and tokens of the OAuth endpoints (oauth.go)
	// npsBot and restRequests: see SetNPSBot and nextRequestID.
	npsBot       bool
	restRequests int
}

// account is the REST side of one Account.
type account struct {
	Account
	contacts      []*Contact
	nextContactID int
	links         map[string]*Link // by chat id
	nextLinkID    int
	limiter       *rate.Limiter
	crm           crmState // sources, chat templates, talks, events
}

// NewServer starts a fake amoCRM on a loopback port. Without options it has
// one channel (DefaultChannel), one account (DefaultAccount) and one token
// (DefaultToken). It panics if the options contradict each other or no port is
// free, as httptest.NewServer does. Call Close when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a fake that is not listening yet: call Start, or
// serve it with your own http.Server (it is an http.Handler), as cmd/amojofake
// does. Call Close when done either way.
func NewUnstartedServer(opts ...Option) *Server {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	s := &Server{
		cfg:      cfg,
		closed:   make(chan struct{}),
		channels: map[string]*Channel{},
		accounts: map[string]*account{},
		tokens:   map[string]*account{},
		scopes:   map[string]*scope{},
		chats:    map[string]*chat{},
		faults:   map[Route][]*fault{},
		latency:  map[Route]time.Duration{},
		rate:     cfg.rate,
		burst:    cfg.burst,
		newIDRaw: cfg.newID,
		oauth:    newOAuthState(),
	}
	if s.newIDRaw == nil {
		s.newIDRaw = func() string { return uuid.NewString() }
	}
	s.wait = s.sleep
	s.hookTr = &http.Transport{DisableKeepAlives: true}
	s.hooks = &http.Client{Transport: s.hookTr, Timeout: WebhookTimeout}
	for i := range cfg.channels {
		c := cfg.channels[i]
		s.channels[c.ID] = &c
	}
	for i, a := range cfg.accounts {
		acc := &account{Account: a, links: map[string]*Link{}, nextContactID: 40401635, nextLinkID: 26219}
		acc.Users = append([]User(nil), a.Users...)
		acc.limiter = s.newLimiter()
		s.accounts[a.AmojoID] = acc
		if a.Token != "" {
			s.tokens[a.Token] = acc
		}
		if i == 0 {
			for _, t := range cfg.tokens {
				s.tokens[t] = acc
			}
		}
	}
	if len(s.tokens) == 0 {
		s.tokens[DefaultToken] = s.accounts[cfg.accounts[0].AmojoID]
	}
	s.routes()
	return s
}

// The timeouts of the server Start runs, which cmd/amojofake uses too. They
// cut off a client that is slow to send its request, that does not read its
// answer, or that keeps a connection idle; the fake's own delays (SetLatency,
// a webhook sent by the control API) are not cut. The idle timeout is longer
// than net/http's client default (90 s), so such a client closes an idle
// connection before the server does and never reuses one being closed.
const (
	ReadHeaderTimeout = 10 * time.Second             // to read a request's headers
	ReadTimeout       = 30 * time.Second             // to read a whole request, body included
	WriteTimeout      = ReadTimeout + 30*time.Second // from the end of the headers to the end of the answer
	IdleTimeout       = 2 * time.Minute              // between requests on a kept-alive connection
)

// Start starts the server on a loopback port and sets URL and CRMURL. The
// server has the timeouts above.
func (s *Server) Start() {
	if s.ts != nil {
		panic("amojotest: Server already started")
	}
	s.ts = httptest.NewUnstartedServer(s)
	setTimeouts(s.ts.Config)
	s.ts.Start()
	s.URL = s.ts.URL
	s.CRMURL = s.ts.URL
}

// setTimeouts gives hs the server's timeouts.
func setTimeouts(hs *http.Server) {
	hs.ReadHeaderTimeout = ReadHeaderTimeout
	hs.ReadTimeout = ReadTimeout
	hs.WriteTimeout = WriteTimeout
	hs.IdleTimeout = IdleTimeout
}

// Close stops the server, waits for requests in flight, and closes the idle
// connections of the clients it handed out. It may be called more than once.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closed) })
	s.flightMu.Lock()
	s.shut = true
	s.flightMu.Unlock()
	if s.ts != nil {
		s.ts.Close()
	}
	s.flight.Wait()
	s.hookTr.CloseIdleConnections()
}

// HTTPClient returns an *http.Client for the server. Close closes its idle
// connections, so tests leave no goroutine behind.
func (s *Server) HTTPClient() *http.Client {
	if s.ts == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return s.ts.Client()
}

// Client returns a chats API client for the first channel, wired to the
// server (base URL, HTTP client, clock). opts are applied after those and may
// override them. It panics if the server was not started or the SDK refuses
// the options: both are mistakes in the calling test.
func (s *Server) Client(opts ...amojo.Option) *amojo.Client {
	ch := s.Channel()
	base := []amojo.Option{amojo.WithBaseURL(s.baseURL()), amojo.WithHTTPClient(s.HTTPClient()), amojo.WithClock(s.cfg.now)}
	c, err := amojo.NewClient(ch.ID, ch.Secret, append(base, opts...)...)
	if err != nil {
		panic(fmt.Sprintf("amojotest: Client: %v", err))
	}
	return c
}

// CRMClient returns a REST v4 client for the first account, wired to the
// server with the first account's token. opts are applied after the wiring.
// It panics if the server was not started or the SDK refuses the options.
func (s *Server) CRMClient(opts ...amojo.Option) *amojo.CRMClient {
	base := []amojo.Option{amojo.WithHTTPClient(s.HTTPClient()), amojo.WithClock(s.cfg.now)}
	c, err := amojo.NewCRMClient(s.crmBaseURL(), amojo.StaticToken(s.Token()), append(base, opts...)...)
	if err != nil {
		panic(fmt.Sprintf("amojotest: CRMClient: %v", err))
	}
	return c
}

func (s *Server) baseURL() string {
	if s.URL == "" {
		panic("amojotest: Client called before Start")
	}
	return s.URL
}

func (s *Server) crmBaseURL() string {
	if s.CRMURL == "" {
		panic("amojotest: CRMClient called before Start")
	}
	return s.CRMURL
}

// Channel returns the first registered channel.
func (s *Server) Channel() Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.channels[s.cfg.channels[0].ID]
}

// Account returns the first registered account.
func (s *Server) Account() Account {
	a := s.cfg.accounts[0]
	a.Users = append([]User(nil), a.Users...)
	return a
}

// Token returns a Bearer token of the first account.
func (s *Server) Token() string {
	if len(s.cfg.tokens) > 0 {
		return s.cfg.tokens[0]
	}
	if t := s.cfg.accounts[0].Token; t != "" {
		return t
	}
	return DefaultToken
}

// ScopeID returns the scope id of the first channel in the first account:
// the two ids joined by "_". The scope works once connected.
func (s *Server) ScopeID() string {
	return s.cfg.channels[0].ID + "_" + s.cfg.accounts[0].AmojoID
}

// SetWebhookURL sets the webhook URL of channel channelID, where manager
// replies, typing and reactions are sent; ":scope_id" in it is replaced by
// the scope id.
func (s *Server) SetWebhookURL(channelID, webhookURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[channelID]
	if !ok {
		return fmt.Errorf("amojotest: unknown channel %q", channelID)
	}
	c.WebhookURL = webhookURL
	return nil
}

// SetRateLimit changes the REST v4 rate limit of every account to perSecond
// requests per second with bursts of burst; a perSecond of 0 turns it off.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.burst = perSecond, burst
	for _, a := range s.accounts {
		a.limiter = s.newLimiter()
	}
}

// newLimiter is called with s.mu held or before the server is shared.
func (s *Server) newLimiter() *rate.Limiter {
	if s.rate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(s.rate), s.burst)
}

func (s *Server) now() time.Time { return s.cfg.now() }

func (s *Server) newID() string { return s.newIDRaw() }

// sleep waits d unless the request is cancelled or the server closes.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

// exchange is what the server learns about one request while serving it. rec
// is the request's entry in the log, written under s.logMu.
type exchange struct {
	s    *Server
	rec  *Request
	body []byte
}

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	if x == nil {
		x = &exchange{}
	}
	return x
}

// update changes the request's log entry.
func (x *exchange) update(f func(rec *Request)) {
	if x.rec == nil {
		return
	}
	x.s.logMu.Lock()
	defer x.s.logMu.Unlock()
	f(x.rec)
}

// setRoute names the route that serves the request.
func (x *exchange) setRoute(route Route) {
	x.update(func(rec *Request) { rec.Route = route })
}

// answer logs the status of the answer, before any byte of it is sent.
func (x *exchange) answer(status int) {
	x.update(func(rec *Request) {
		if rec.StatusCode == 0 && !rec.Dropped {
			rec.StatusCode = status
		}
	})
}

// drop logs the request as dropped (lost: the status of the answer kept from
// the client, if any) and then closes the connection, so the log shows the
// drop before the client can see it.
func (x *exchange) drop(w http.ResponseWriter, lost int) {
	x.update(func(rec *Request) { rec.Dropped, rec.StatusCode = true, lost })
	dropConn(w)
}

// finish completes the log entry when the handler is done: a handler that
// wrote nothing answered 200; one that panicked (aborted) answered nothing, as
// net/http closes the connection. It then logs the request.
func (x *exchange) finish(r *http.Request, aborted bool) {
	var rec Request
	x.update(func(e *Request) {
		switch {
		case aborted:
			e.Dropped = true
		case e.StatusCode == 0 && !e.Dropped:
			e.StatusCode = http.StatusOK
		}
		rec = *e
	})
	if l := x.s.cfg.logger; l != nil {
		l.LogAttrs(r.Context(), slog.LevelDebug, "amojotest request",
			slog.String("method", rec.Method), slog.String("path", rec.Path),
			slog.String("route", string(rec.Route)), slog.Int("status", rec.StatusCode), slog.Bool("dropped", rec.Dropped))
	}
}

// statusWriter logs the status of the answer before it goes out.
type statusWriter struct {
	http.ResponseWriter
	x      *exchange
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.x.answer(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for DropNext).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP serves both APIs: amojo under /v2/origin/custom/ and REST v4
// under /api/v4/.
//
// A request is logged (see Requests) as soon as its body is read, and its
// outcome before the client can see it: the status before the answer is
// sent, a drop before the connection is closed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.flightMu.Lock()
	if s.shut {
		s.flightMu.Unlock()
		http.Error(w, "amojotest: server closed", http.StatusServiceUnavailable)
		return
	}
	s.flight.Add(1)
	s.flightMu.Unlock()
	defer s.flight.Done()

	start := s.now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	read := err == nil && len(body) <= maxBody
	if read && s.cfg.control && strings.HasPrefix(r.URL.Path, ControlPrefix) {
		s.serveControl(w, r, body)
		return
	}
	if !read {
		body = nil
	}
	x := s.arrive(r, start, body)
	sw := &statusWriter{ResponseWriter: w, x: x}
	returned := false
	defer func() { x.finish(r, !returned) }()
	switch {
	case err != nil:
		http.Error(sw, "cannot read body", http.StatusBadRequest)
	case !read:
		http.Error(sw, "body too large", http.StatusRequestEntityTooLarge)
	default:
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mux.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
	}
	returned = true
}

// arrive logs a request that is being served; body is nil unless it was
// read whole.
func (s *Server) arrive(r *http.Request, start time.Time, body []byte) *exchange {
	path, rawQuery := splitRequestURI(r)
	q, _ := url.ParseQuery(rawQuery)
	rec := &Request{
		Method:   r.Method,
		Path:     path,
		RawQuery: rawQuery,
		Query:    q,
		Header:   r.Header.Clone(),
		Body:     body,
		Time:     start,
	}
	s.logMu.Lock()
	s.requests = append(s.requests, rec)
	s.logMu.Unlock()
	return &exchange{s: s, rec: rec, body: body}
}

// splitRequestURI returns the path exactly as the client sent it (escaped) and
// the raw query.
func splitRequestURI(r *http.Request) (path, rawQuery string) {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		return r.URL.EscapedPath(), r.URL.RawQuery
	}
	for i := 0; i < len(uri); i++ {
		if uri[i] == '?' {
			return uri[:i], uri[i+1:]
		}
	}
	return uri, ""
}

// routes mounts every endpoint.
func (s *Server) routes() {
	m := http.NewServeMux()
	const p = "/v2/origin/custom/"
	m.Handle("POST "+p+"{channel}/connect", s.amojoRoute(RouteConnect, false, s.handleConnect))
	m.Handle("DELETE "+p+"{channel}/disconnect", s.amojoRoute(RouteDisconnect, false, s.handleDisconnect))
	m.Handle("POST "+p+"{scope}/chats", s.amojoRoute(RouteCreateChat, true, s.handleCreateChat))
	m.Handle("POST "+p+"{scope}", s.amojoRoute(RouteMessage, true, s.handleMessage))
	m.Handle("POST "+p+"{scope}/typing", s.amojoRoute(RouteTyping, true, s.handleTyping))
	m.Handle("POST "+p+"{scope}/react", s.amojoRoute(RouteReact, true, s.handleReact))
	m.Handle("POST "+p+"{scope}/{msgid}/delivery_status", s.amojoRoute(RouteDeliveryStatus, true, s.handleDeliveryStatus))
	m.Handle("GET "+p+"{scope}/chats/{chat}/history", s.amojoRoute(RouteHistory, true, s.handleHistory))

	m.Handle("GET /api/v4/account", s.restRoute(RouteAccount, s.handleAccount))
	m.Handle("GET /api/v4/users", s.restRoute(RouteUsers, s.handleUsers))
	m.Handle("POST /api/v4/contacts", s.restRoute(RouteContacts, s.handleContacts))
	m.Handle("GET /api/v4/contacts", s.restRoute(RouteFindContacts, s.handleFindContacts))
	m.Handle("POST /api/v4/contacts/chats", s.restRoute(RouteLinkChats, s.handleLinkChats))
	m.Handle("GET /api/v4/contacts/chats", s.restRoute(RouteListLinks, s.handleListLinks))
	s.oauthRoutes(m)
	s.crmRoutes(m)
	s.mux = m
}
