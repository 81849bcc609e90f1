package amojotest

import (
	"fmt"
	"net/http"
)

// partIn is a participant object of a request.
type partIn struct {
	path                                         string
	id, refID, name, avatar, phone, email, plink string
	hasName, hasAvatar, hasPhone, hasEmail       bool
}

func parsePart(o obj) (partIn, *apiError) {
	p := partIn{path: o.path}
	var err *apiError
	if p.id, err = o.str("id"); err != nil {
		return p, err
	}
	if p.refID, err = o.str("ref_id"); err != nil {
		return p, err
	}
	if p.name, err = o.str("name"); err != nil {
		return p, err
	}
	if p.avatar, err = o.str("avatar"); err != nil {
		return p, err
	}
	if p.plink, err = o.str("profile_link"); err != nil {
		return p, err
	}
	p.hasName, p.hasAvatar = o.has("name"), o.has("avatar")
	prof, ok, err := o.object("profile")
	if err != nil {
		return p, err
	}
	if ok {
		if p.phone, err = prof.str("phone"); err != nil {
			return p, err
		}
		if p.email, err = prof.str("email"); err != nil {
			return p, err
		}
		p.hasPhone, p.hasEmail = prof.has("phone"), prof.has("email")
	}
	if p.id == "" && p.refID == "" {
		return p, badField(o.field("id"), "required")
	}
	return p, nil
}

// resolveClient finds the external participant p names in sc without
// changing anything; create is true when a new one must be made.
func resolveClient(sc *scope, p partIn) (found *participant, create bool, err *apiError) {
	if p.refID != "" {
		q, ok := sc.byRef[p.refID]
		if !ok || q.crm {
			return nil, false, badField(p.path+".ref_id", "unknown participant %q", p.refID)
		}
		if p.id != "" && q.ClientID != "" && q.ClientID != p.id {
			return nil, false, &apiError{status: http.StatusBadRequest, code: ErrCodeConflict,
				desc: fmt.Sprintf("%s.ref_id: participant already has another id", p.path)}
		}
		if p.id != "" && q.ClientID == "" {
			if other, ok := sc.clients[p.id]; ok && other != q {
				return nil, false, &apiError{status: http.StatusBadRequest, code: ErrCodeConflict,
					desc: fmt.Sprintf("%s.id: belongs to another participant", p.path)}
			}
		}
		return q, false, nil
	}
	if q, ok := sc.clients[p.id]; ok {
		return q, false, nil
	}
	if p.name == "" {
		return nil, false, badField(p.path+".name", "required for a new participant")
	}
	return nil, true, nil
}

// applyClient creates or updates the external participant described by p.
func (s *Server) applyClient(sc *scope, found *participant, p partIn) *participant {
	q := found
	if q == nil {
		q = &participant{Participant: Participant{ID: s.newID(), ClientID: p.id}}
		sc.byRef[q.ID] = q
		sc.clients[p.id] = q
	}
	if q.ClientID == "" && p.id != "" {
		q.ClientID = p.id
		sc.clients[p.id] = q
	}
	if p.hasName && p.name != "" {
		q.Name = p.name
	}
	if p.hasAvatar {
		q.Avatar = p.avatar
	}
	if p.hasPhone {
		q.Phone = p.phone
	}
	if p.hasEmail {
		q.Email = p.email
	}
	if p.plink != "" {
		q.ProfileLink = p.plink
	}
	return q
}

func parseSource(o obj) (string, *apiError) {
	src, ok, err := o.object("source")
	if err != nil || !ok {
		return "", err
	}
	ext, err := src.str("external_id")
	if err != nil {
		return "", err
	}
	if len(ext) > 40 {
		return "", badField(src.field("external_id"), "longer than 40 characters")
	}
	for i := 0; i < len(ext); i++ {
		if ext[i] < ' ' || ext[i] > '~' {
			return "", badField(src.field("external_id"), "must be printable ASCII")
		}
	}
	return ext, nil
}

// userJSON is a participant in create-chat answers and history.
func userJSON(p *participant, withAvatar bool) map[string]any {
	m := map[string]any{"id": p.ID}
	if p.ClientID != "" {
		m["client_id"] = p.ClientID
	}
	if p.Name != "" {
		m["name"] = p.Name
	}
	if withAvatar || p.Avatar != "" {
		m["avatar"] = p.Avatar
	}
	if p.Phone != "" {
		m["phone"] = p.Phone
	}
	if p.Email != "" {
		m["email"] = p.Email
	}
	return m
}

func (s *Server) newChat(sc *scope, conv, source string) *chat {
	ch := &chat{id: s.newID(), conversationID: conv, scope: sc, source: source}
	s.chats[ch.id] = ch
	s.chatOrder = append(s.chatOrder, ch)
	if conv != "" {
		sc.chatsByConv[conv] = ch
	}
	return ch
}

func (s *Server) handleCreateChat(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	conv, err := o.reqStr("conversation_id")
	if err != nil {
		return 0, nil, err
	}
	source, err := parseSource(o)
	if err != nil {
		return 0, nil, err
	}
	uo, ok, err := o.object("user")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField("user", "required")
	}
	pin, err := parsePart(uo)
	if err != nil {
		return 0, nil, err
	}
	sc := c.scope
	if existing, ok := sc.chatsByConv[conv]; ok {
		resp := map[string]any{"id": existing.id}
		if existing.client != nil {
			resp["user"] = userJSON(existing.client, true)
		}
		return http.StatusOK, resp, nil
	}
	found, _, err := resolveClient(sc, pin)
	if err != nil {
		return 0, nil, err
	}
	ch := s.newChat(sc, conv, source)
	ch.client = s.applyClient(sc, found, pin)
	return http.StatusOK, map[string]any{"id": ch.id, "user": userJSON(ch.client, true)}, nil
}
