package amojotest

import (
	"net/http"
)

func (s *Server) handleTyping(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	ch, _, _, err := s.findChat(c.scope, o, false)
	if err != nil {
		return 0, nil, err
	}
	so, ok, err := o.object("sender")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField("sender", "required")
	}
	if _, err := parsePart(so); err != nil {
		return 0, nil, err
	}
	if d, _, err := o.integer("duration_ms"); err != nil {
		return 0, nil, err
	} else if d < 0 {
		return 0, nil, badField("duration_ms", "negative")
	}
	ch.typing++
	return http.StatusNoContent, nil, nil
}

func (s *Server) handleReact(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	typ, err := o.reqStr("type")
	if err != nil {
		return 0, nil, err
	}
	emoji, err := o.str("emoji")
	if err != nil {
		return 0, nil, err
	}
	switch {
	case typ != "react" && typ != "unreact":
		return 0, nil, badField("type", "must be react or unreact")
	case typ == "react" && emoji == "":
		return 0, nil, badField("emoji", "required for react")
	}
	uo, ok, err := o.object("user")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField("user", "required")
	}
	user, err := parsePart(uo)
	if err != nil {
		return 0, nil, err
	}
	id, err := o.str("id")
	if err != nil {
		return 0, nil, err
	}
	msgid, err := o.str("msgid")
	if err != nil {
		return 0, nil, err
	}
	if id == "" && msgid == "" {
		return 0, nil, badField("id", "id or msgid required")
	}
	ch, _, _, err := s.findChat(c.scope, o, false)
	if err != nil {
		return 0, nil, err
	}
	m := c.scope.msgByID[id]
	if id == "" {
		m = c.scope.msgByClientID[msgid]
	}
	if m == nil || m.chat != ch {
		return 0, nil, notFound("message not found")
	}
	who := user.id
	if user.refID != "" {
		who = user.refID
	}
	if typ == "unreact" {
		delete(m.Reactions, who)
	} else {
		if m.Reactions == nil {
			m.Reactions = map[string]string{}
		}
		m.Reactions[who] = emoji
	}
	return http.StatusOK, struct{}{}, nil
}

func (s *Server) handleDeliveryStatus(c amojoCall) (int, any, *apiError) {
	urlID := c.r.PathValue("msgid")
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	msgid, err := o.str("msgid")
	if err != nil {
		return 0, nil, err
	}
	if msgid != "" && msgid != urlID {
		return 0, nil, badField("msgid", "differs from the message id in the path")
	}
	status, okStatus, err := o.integer("delivery_status")
	if err != nil {
		return 0, nil, err
	}
	code, okCode, err := o.integer("error_code")
	if err != nil {
		return 0, nil, err
	}
	text, err := o.str("error")
	if err != nil {
		return 0, nil, err
	}
	if err := checkDelivery(o, status, okStatus, code, okCode, text, "delivery_status"); err != nil {
		return 0, nil, err
	}
	m := c.scope.msgByID[urlID]
	if m == nil {
		return 0, nil, notFound("message not found")
	}
	if status != -1 {
		code, text = 0, ""
	}
	m.DeliveryStatus, m.DeliveryErrorCode, m.DeliveryError = int(status), int(code), text
	return http.StatusOK, struct{}{}, nil
}
