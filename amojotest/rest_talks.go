package amojotest

import (
	"bytes"
	"fmt"
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

// Talk is a conversation episode of a chat. The fake opens one when a chat
// without an open talk gets a message, either way.
type Talk struct {
	ID        int    `json:"talk_id"`
	AccountID string `json:"account_id"`
	ChatID    string `json:"chat_id"`
	ContactID int    `json:"contact_id"` // the chat's linked contact; 0 while it has none
	LeadID    int    `json:"lead_id,omitempty"`
	Origin    string `json:"origin"`
	InWork    bool   `json:"is_in_work"`
	// Closing: a close without force_close started the NPS bot, which
	// closes the talk when the client rates it (RateTalk).
	Closing   bool      `json:"closing,omitempty"`
	Rate      int       `json:"rate"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type talk struct {
	Talk
	chat *chat
}

// snapshot resolves a talk's contact now.
func (t *talk) snapshot(acc *account) Talk {
	out := t.Talk
	if out.ContactID == 0 {
		out.ContactID = acc.contactOf(t.chat)
	}
	return out
}

// openTalk returns the open talk of ch, opening one if there is none. Called
// with s.mu held.
func (s *Server) openTalk(ch *chat) *talk {
	st := &ch.scope.acc.crm
	for i := len(st.talks) - 1; i >= 0; i-- {
		if t := st.talks[i]; t.chat == ch && t.InWork {
			return t
		}
	}
	st.nextTalk++
	now := s.now().UTC().Truncate(time.Second)
	t := &talk{chat: ch, Talk: Talk{
		ID: 5000 + st.nextTalk, AccountID: ch.scope.acc.AmojoID, ChatID: ch.id,
		ContactID: ch.scope.acc.contactOf(ch), Origin: ch.scope.channel.Code, InWork: true,
		CreatedAt: now, UpdatedAt: now,
	}}
	st.talks = append(st.talks, t)
	return t
}

// Talks returns the talks of every account, oldest first.
func (s *Server) Talks() []Talk {
	return collect(s, func(acc *account) []Talk {
		return snapshots(acc.crm.talks, func(t *talk) Talk { return t.snapshot(acc) })
	})
}

// findTalk returns talk id of any account. Called with s.mu held.
func (s *Server) findTalk(id int) (*talk, error) {
	for _, acc := range s.accounts {
		for _, t := range acc.crm.talks {
			if t.ID == id {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("amojotest: no talk %d", id)
}

// LinkTalkToLead files talk talkID under the lead leadID, as when amoCRM
// creates or links a lead for the conversation: the talk then reports the
// lead as its entity, and the chat events recorded from then on are typed
// "lead", with the contact in linked_talk_contact_id.
func (s *Server) LinkTalkToLead(talkID, leadID int) error {
	if leadID <= 0 {
		return fmt.Errorf("amojotest: lead id %d", leadID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTalk(talkID)
	if err != nil {
		return err
	}
	t.LeadID = leadID
	return nil
}

// SetNPSBot turns the NPS bot of every account on or off (off by default).
// With it on, closing a talk without force_close starts the bot instead: the
// talk stays in work, marked Closing, until RateTalk.
func (s *Server) SetNPSBot(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.npsBot = on
}

// RateTalk finishes the NPS bot of a closing talk: the client rated it rate
// (1 to 10), and the talk closes.
func (s *Server) RateTalk(talkID, rate int) error {
	if rate < 1 || rate > 10 {
		return fmt.Errorf("amojotest: rate %d, want 1..10", rate)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTalk(talkID)
	if err != nil {
		return err
	}
	if !t.Closing {
		return fmt.Errorf("amojotest: talk %d has no NPS bot running", talkID)
	}
	t.Rate, t.Closing, t.InWork = rate, false, false
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	return nil
}
