package amojotest

import (
	"log/slog"
	"net/http"
	"strings"
)

// amojoCall is a verified amojo request.
type amojoCall struct {
	r       *http.Request
	channel *Channel
	scope   *scope // nil for connect and disconnect
	body    []byte
}

// amojoHandler handles a verified request with s.mu held and returns the
// status and the JSON to answer (nil: empty body).
type amojoHandler func(c amojoCall) (int, any, *apiError)

// amojoRoute wraps h with fault injection, the channel lookup, the signature
// check and, for scoped routes, the connection check.
func (s *Server) amojoRoute(route Route, scoped bool, h amojoHandler) http.Handler {
	return s.faulty(route, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		var channelID, scopeID string
		if scoped {
			scopeID = r.PathValue("scope")
			if i := strings.LastIndexByte(scopeID, '_'); i > 0 {
				channelID = scopeID[:i]
			}
		} else {
			channelID = r.PathValue("channel")
		}
		s.mu.Lock()
		ch, ok := s.channels[channelID]
		var secret string
		if ok {
			secret = ch.Secret
		}
		s.mu.Unlock()
		if !ok {
			code := ErrCodeNotFound
			if scoped {
				code = ErrCodeNotConnected
			}
			writeAmojoError(w, http.StatusNotFound, code, "channel not found")
			return
		}
		path, _ := splitRequestURI(r)
		if err := verify(secret, r, path, x.body, s.now()); err != nil {
			if l := s.cfg.logger; l != nil {
				l.LogAttrs(r.Context(), slog.LevelDebug, "amojotest: refused signature",
					slog.String("path", path), slog.String("reason", err.Error()))
			}
			writeEmpty(w, http.StatusForbidden)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			writeAmojoError(w, http.StatusBadRequest, ErrCodeContentType, "Content-Type must be application/json")
			return
		}
		if r.Method == http.MethodGet && len(x.body) > 0 {
			writeAmojoError(w, http.StatusBadRequest, ErrCodeInvalidJSON, "GET must not have a body")
			return
		}
		s.mu.Lock()
		c := amojoCall{r: r, channel: ch, body: x.body}
		if scoped {
			sc, ok := s.scopes[scopeID]
			if !ok || !sc.connected {
				s.mu.Unlock()
				writeAmojoError(w, http.StatusNotFound, ErrCodeNotConnected, "scope not found or not connected")
				return
			}
			c.scope = sc
		}
		status, resp, aerr := func() (int, any, *apiError) {
			defer s.mu.Unlock() // held by no handler that panics
			return h(c)
		}()
		switch {
		case aerr != nil:
			writeAmojoError(w, aerr.status, aerr.code, aerr.desc)
		case resp == nil:
			writeEmpty(w, status)
		default:
			writeJSON(w, status, "application/json", resp)
		}
	}))
}

// connectLocked connects (or reconnects) a channel to an account.
func (s *Server) connectLocked(channelID, accountID, title, hook string, noWindow bool) (*scope, *apiError) {
	ch, ok := s.channels[channelID]
	if !ok {
		return nil, notFound("channel not found")
	}
	acc, ok := s.accounts[accountID]
	if !ok {
		return nil, badField("account_id", "unknown account")
	}
	if title == "" {
		title = ch.Title
	}
	id := channelID + "_" + accountID
	sc, ok := s.scopes[id]
	if !ok {
		sc = newScope(id, ch, acc)
		s.scopes[id] = sc
	}
	sc.connected, sc.title, sc.hookVersion, sc.timeWindowDisabled = true, title, hook, noWindow
	return sc, nil
}

func (s *Server) handleConnect(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	accountID, err := o.reqStr("account_id")
	if err != nil {
		return 0, nil, err
	}
	title, err := o.str("title")
	if err != nil {
		return 0, nil, err
	}
	hook, err := o.str("hook_api_version")
	if err != nil {
		return 0, nil, err
	}
	switch hook {
	case "":
		hook = "v1"
	case "v1", "v2":
	default:
		return 0, nil, badField("hook_api_version", "must be v1 or v2")
	}
	noWindow, err := o.boolean("is_time_window_disabled")
	if err != nil {
		return 0, nil, err
	}
	sc, cerr := s.connectLocked(c.channel.ID, accountID, title, hook, noWindow)
	if cerr != nil {
		return 0, nil, cerr
	}
	return http.StatusOK, map[string]any{
		"account_id":              accountID,
		"scope_id":                sc.id,
		"title":                   sc.title,
		"hook_api_version":        sc.hookVersion,
		"is_time_window_disabled": sc.timeWindowDisabled,
	}, nil
}

func (s *Server) handleDisconnect(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	accountID, err := o.reqStr("account_id")
	if err != nil {
		return 0, nil, err
	}
	if _, ok := s.accounts[accountID]; !ok {
		return 0, nil, badField("account_id", "unknown account")
	}
	if sc, ok := s.scopes[c.channel.ID+"_"+accountID]; ok {
		sc.connected = false
	}
	return http.StatusOK, nil, nil
}
