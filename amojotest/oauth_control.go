package amojotest

import (
	"encoding/json"
	"net/http"
)

// serveOAuthControl answers the control actions of the OAuth endpoints
// (listed at WithOAuthClient); it reports false for any other action.
func (s *Server) serveOAuthControl(w http.ResponseWriter, r *http.Request, action string, body []byte) bool {
	var in struct {
		ClientID string `json:"client_id"`
		Host     string `json:"host"`
	}
	fail := func(msg string) {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": msg})
	}
	ok := func(v any) { writeJSON(w, http.StatusOK, "application/json", v) }
	switch action {
	case "POST oauth/code", "POST oauth/move-account":
		if len(body) > 0 && json.Unmarshal(body, &in) != nil {
			fail("invalid JSON")
			return true
		}
	}
	switch action {
	case "POST oauth/code":
		code, err := s.AuthorizationCode(in.ClientID)
		if err != nil {
			fail(err.Error())
			return true
		}
		ok(map[string]string{"code": code, "referer": requestBase(r)})
	case "POST oauth/expire-access-tokens":
		ok(map[string]int{"expired": s.ExpireAccessTokens()})
	case "POST oauth/revoke-tokens":
		ok(map[string]int{"revoked": s.RevokeTokens()})
	case "POST oauth/move-account":
		if in.Host == "" {
			fail("host is required")
			return true
		}
		s.MoveAccount(in.Host)
		ok(struct{}{})
	case "GET oauth/stats":
		st := s.OAuthStats()
		ok(map[string]any{"exchanges": st.Exchanges, "refreshes": st.Refreshes, "reused": st.Reused, "refused": st.Refused, "refresh_token": st.RefreshToken})
	default:
		return false
	}
	return true
}
