package amojotest

import (
	"bytes"
	"net/http"
	"time"
)

func talkJSON(acc *account, t *talk) map[string]any {
	snap := t.snapshot(acc)
	var entityID, entityType any
	leads := []map[string]any{}
	if snap.LeadID != 0 {
		entityID, entityType = snap.LeadID, "lead"
		leads = append(leads, map[string]any{"id": snap.LeadID})
	}
	contacts := []map[string]any{}
	if snap.ContactID != 0 {
		contacts = append(contacts, map[string]any{"id": snap.ContactID})
	}
	return map[string]any{
		"talk_id": snap.ID, "created_at": snap.CreatedAt.Unix(), "updated_at": snap.UpdatedAt.Unix(),
		"rate": snap.Rate, "contact_id": snap.ContactID, "chat_id": snap.ChatID,
		"entity_id": entityID, "entity_type": entityType, "is_in_work": snap.InWork, "is_read": false,
		"origin": snap.Origin, "missed_at": nil, "account_id": acc.ID,
		"_embedded": map[string]any{"contacts": contacts, "leads": leads, "customers": []any{}},
	}
}

// accountTalk finds talk {id} of acc. Called with s.mu held.
func accountTalk(r *http.Request, acc *account) *talk {
	id, _ := pathID(r)
	for _, t := range acc.crm.talks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (s *Server) handleGetTalk(r *http.Request, _ string, acc *account, _ []byte) restResult {
	t := accountTalk(r, acc)
	if t == nil {
		return problem(http.StatusNotFound, "talk not found")
	}
	return restResult{status: http.StatusOK, body: talkJSON(acc, t)}
}

// handleCloseTalk closes a talk: 202 without a body; 422 when the talk is
// closed or its NPS bot is running. Without force_close and with the NPS bot
// on (SetNPSBot), the bot starts and the talk stays in work until RateTalk.
func (s *Server) handleCloseTalk(r *http.Request, _ string, acc *account, body []byte) restResult {
	t := accountTalk(r, acc)
	if t == nil {
		return problem(http.StatusNotFound, "talk not found")
	}
	force := false
	if len(bytes.TrimSpace(body)) > 0 {
		c := &itemChecker{}
		if m := c.object(body, ""); m != nil {
			force, _ = c.boolean(m, "force_close", "force_close")
		}
		if len(c.errs) > 0 {
			return restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: []itemErrors{{RequestID: "0", Errors: c.errs}}}
		}
	}
	if !t.InWork || t.Closing {
		return problem(http.StatusUnprocessableEntity, "the talk is already closed or being closed")
	}
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	if s.npsBot && !force {
		t.Closing = true
	} else {
		t.InWork = false
	}
	return restResult{status: http.StatusAccepted}
}
