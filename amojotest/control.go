package amojotest

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"
)

// ControlPrefix is the path under which WithControlAPI serves the control
// API. amoCRM has nothing there, so it cannot shadow an API path.
const ControlPrefix = "/amojotest/"

// WithControlAPI serves a small JSON API under ControlPrefix that drives the
// fake from outside Go, as cmd/amojofake does: the manager helpers, fault
// injection, and read access to what the fake stores. Its requests are not
// recorded and need no credentials: it is a test tool, with no authentication,
// for a fake on loopback. Off by default.
//
// A write (any method but GET and HEAD) needs Content-Type application/json
// (415 otherwise) and is refused (403) when a browser says it comes from
// another site (Sec-Fetch-Site, Origin; see http.CrossOriginProtection): a web
// page open on the same machine cannot post to it, as it could post a form or
// text/plain without asking the server first.
//
//	POST /amojotest/connect           {"channel_id","account_id"} → {"scope_id"}
//	POST /amojotest/start-chat        {"scope_id","phone","name"} → {"chat_id","participant_id"}
//	POST /amojotest/manager-reply     {"scope_id","chat_id","user_id","type","text","media","file_name","file_size"}
//	POST /amojotest/manager-typing    {"scope_id","chat_id","user_id"}
//	POST /amojotest/manager-reaction  {"scope_id","chat_id","message_id","user_id","emoji"}
//	     the three answer {"message_id","url","status_code","error"}
//	POST /amojotest/fail-next         {"route","n","status","retry_after"}
//	POST /amojotest/drop-next         {"route","n"}
//	POST /amojotest/drop-next-response {"route","n"}
//	POST /amojotest/reset-faults
//	GET  /amojotest/chats?scope_id=…  → [Chat…]
//	GET  /amojotest/contacts          → [Contact…]
//	GET  /amojotest/links             → [Link…]
//	GET  /amojotest/webhooks          → [{"kind","scope_id","url","status_code","error","message_id","body"}…]
//	…/amojotest/oauth/…               OAuth codes and tokens: see WithOAuthClient
//
// Errors are {"error":"…"} with status 400, or 403 and 415 as above.
func WithControlAPI() Option {
	return func(cfg *config) { cfg.control = true }
}

// controlRequest is the union of the control API's request fields.
type controlRequest struct {
	ChannelID  string `json:"channel_id"`
	AccountID  string `json:"account_id"`
	ScopeID    string `json:"scope_id"`
	ChatID     string `json:"chat_id"`
	MessageID  string `json:"message_id"`
	UserID     string `json:"user_id"`
	Phone      string `json:"phone"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Text       string `json:"text"`
	Media      string `json:"media"`
	FileName   string `json:"file_name"`
	FileSize   int64  `json:"file_size"`
	Emoji      string `json:"emoji"`
	Route      string `json:"route"`
	N          int    `json:"n"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retry_after"`
}

// webhookJSON is a WebhookResult for the control API.
type webhookJSON struct {
	Kind       string          `json:"kind,omitempty"`
	ScopeID    string          `json:"scope_id,omitempty"`
	URL        string          `json:"url,omitempty"`
	StatusCode int             `json:"status_code"`
	Error      string          `json:"error,omitempty"`
	MessageID  string          `json:"message_id,omitempty"`
	Time       time.Time       `json:"time"`
	Body       json.RawMessage `json:"body,omitempty"`
}

func toWebhookJSON(r WebhookResult) webhookJSON {
	w := webhookJSON{Kind: r.Kind, ScopeID: r.ScopeID, URL: r.URL, StatusCode: r.StatusCode, MessageID: r.MessageID, Time: r.Time}
	if r.Err != nil {
		w.Error = r.Err.Error()
	}
	if json.Valid(r.Body) {
		w.Body = r.Body
	}
	return w
}

// serveControl answers a control API request.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, body []byte) {
	fail := func(msg string) {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": msg})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := http.NewCrossOriginProtection().Check(r); err != nil {
			writeJSON(w, http.StatusForbidden, "application/json", map[string]string{"error": "cross-origin request refused"})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, "application/json", map[string]string{"error": "Content-Type must be application/json"})
			return
		}
	}
	var in controlRequest
	if r.Method == http.MethodPost && len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			fail("invalid JSON: " + err.Error())
			return
		}
	}
	ok := func(v any) { writeJSON(w, http.StatusOK, "application/json", v) }
	hook := func(res WebhookResult, err error) {
		if res.Kind == "" && err != nil {
			fail(err.Error())
			return
		}
		ok(toWebhookJSON(res))
	}
	action := r.Method + " " + strings.TrimPrefix(r.URL.Path, ControlPrefix)
	switch action {
	case "POST connect":
		scope, err := s.Connect(in.ChannelID, in.AccountID)
		if err != nil {
			fail(err.Error())
			return
		}
		ok(map[string]string{"scope_id": scope})
	case "POST start-chat":
		chatID, partID, err := s.StartChat(in.ScopeID, in.Phone, in.Name)
		if err != nil {
			fail(err.Error())
			return
		}
		ok(map[string]string{"chat_id": chatID, "participant_id": partID})
	case "POST manager-reply":
		hook(s.ManagerReply(r.Context(), in.ScopeID, in.ChatID, ManagerMessage{
			UserID: in.UserID, Type: in.Type, Text: in.Text, Media: in.Media, FileName: in.FileName, FileSize: in.FileSize,
		}))
	case "POST manager-typing":
		hook(s.ManagerTyping(r.Context(), in.ScopeID, in.ChatID, in.UserID))
	case "POST manager-reaction":
		hook(s.ManagerReaction(r.Context(), in.ScopeID, in.ChatID, in.MessageID, in.UserID, in.Emoji))
	case "POST fail-next":
		if in.N <= 0 || in.Status < 400 || in.Status > 599 {
			fail("n must be positive and status 400..599")
			return
		}
		s.FailNext(Route(in.Route), in.N, in.Status, in.RetryAfter)
		ok(struct{}{})
	case "POST drop-next":
		if in.N <= 0 {
			fail("n must be positive")
			return
		}
		s.DropNext(Route(in.Route), in.N)
		ok(struct{}{})
	case "POST drop-next-response":
		if in.N <= 0 {
			fail("n must be positive")
			return
		}
		s.DropNextResponse(Route(in.Route), in.N)
		ok(struct{}{})
	case "POST reset-faults":
		s.ResetFaults()
		ok(struct{}{})
	case "GET chats":
		ok(nonNil(s.Chats(r.URL.Query().Get("scope_id"))))
	case "GET contacts":
		ok(nonNil(s.Contacts()))
	case "GET links":
		ok(nonNil(s.Links()))
	case "GET webhooks":
		out := []webhookJSON{}
		for _, res := range s.Webhooks() {
			out = append(out, toWebhookJSON(res))
		}
		ok(out)
	default:
		if s.serveOAuthControl(w, r, action, body) {
			return
		}
		writeJSON(w, http.StatusNotFound, "application/json", map[string]string{"error": "no such control action: " + action})
	}
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
