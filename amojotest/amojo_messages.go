package amojotest

import (
	"fmt"
	"net/http"
	"time"
)

// content is the message object of a request.
type content struct {
	typ, text, media, fileName, stickerID, callback, postID string
	fileSize, duration                                      int64
	location                                                *Location
	contact                                                 *ContactCard
	has                                                     map[string]bool
}

// messageType reports whether t is a message type of the chats API.
func messageType(t string) bool {
	switch t {
	case "text", "contact", "file", "video", "picture", "voice", "audio", "sticker", "location":
		return true
	}
	return false
}

func parseContent(o obj) (content, *apiError) {
	m := content{has: map[string]bool{}}
	var err *apiError
	for key, dst := range map[string]*string{
		"type": &m.typ, "text": &m.text, "media": &m.media, "file_name": &m.fileName,
		"sticker_id": &m.stickerID, "callback_data": &m.callback,
	} {
		if *dst, err = o.str(key); err != nil {
			return m, err
		}
		m.has[key] = o.has(key)
	}
	if m.typ != "" && !messageType(m.typ) {
		return m, badField(o.field("type"), "unknown type %q", m.typ)
	}
	if m.fileSize, m.has["file_size"], err = o.integer("file_size"); err != nil {
		return m, err
	}
	if m.fileSize < 0 {
		return m, badField(o.field("file_size"), "negative")
	}
	if m.duration, _, err = o.integer("media_duration"); err != nil {
		return m, err
	}
	if loc, ok, err := o.object("location"); err != nil {
		return m, err
	} else if ok {
		lon, okLon, err := loc.number("lon")
		if err != nil {
			return m, err
		}
		lat, okLat, err := loc.number("lat")
		if err != nil {
			return m, err
		}
		if !okLon || !okLat || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
			return m, badField(o.field("location"), "needs lon in [-180,180] and lat in [-90,90]")
		}
		m.location = &Location{Lon: lon, Lat: lat}
	}
	if ct, ok, err := o.object("contact"); err != nil {
		return m, err
	} else if ok {
		name, err := ct.str("name")
		if err != nil {
			return m, err
		}
		phone, err := ct.str("phone")
		if err != nil {
			return m, err
		}
		m.contact = &ContactCard{Name: name, Phone: phone}
	}
	if post, ok, err := o.object("post"); err != nil {
		return m, err
	} else if ok {
		if m.postID, err = post.reqStr("id"); err != nil {
			return m, err
		}
		if _, err = post.reqStr("url"); err != nil {
			return m, err
		}
	}
	if _, ok := o.m["delivery_status"]; ok {
		m.has["delivery_status"] = true
	}
	return m, nil
}

// check applies the per-type rules to the final content of a message.
func (m content) check(path string) *apiError {
	switch m.typ {
	case "":
		return badField(path+".type", "required")
	case "text":
		if m.text == "" {
			return badField(path+".text", "required for type text")
		}
	case "picture", "file", "video", "voice", "audio":
		if m.media == "" {
			return badField(path+".media", "required for type %s", m.typ)
		}
		if m.typ == "file" && m.fileName == "" {
			return badField(path+".file_name", "required for type file")
		}
	case "sticker":
		if m.media == "" && m.stickerID == "" {
			return badField(path+".media", "required for type sticker (or sticker_id)")
		}
	case "location":
		if m.location == nil {
			return badField(path+".location", "required for type location")
		}
	case "contact":
		if m.contact == nil || m.contact.Phone == "" || m.contact.Name == "" {
			return badField(path+".contact", "name and phone required for type contact")
		}
	}
	return nil
}

// store copies the content into a stored message.
func (m content) store(dst *Message) {
	dst.Type, dst.Text, dst.Media, dst.FileName, dst.FileSize = m.typ, m.text, m.media, m.fileName, m.fileSize
	dst.MediaDuration, dst.StickerID, dst.CallbackData, dst.PostID = m.duration, m.stickerID, m.callback, m.postID
	dst.Location, dst.Contact = m.location, m.contact
}

func (s *Server) handleMessage(c amojoCall) (int, any, *apiError) {
	o, err := parseObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	event, err := o.reqStr("event_type")
	if err != nil {
		return 0, nil, err
	}
	payload, ok, err := o.object("payload")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField("payload", "required")
	}
	switch event {
	case "new_message":
		return s.newMessage(c.scope, payload)
	case "edit_message":
		return s.editMessage(c.scope, payload)
	}
	return 0, nil, badField("event_type", "must be new_message or edit_message")
}

// stamps reads timestamp and msec_timestamp; timestamp is required, the
// milliseconds default to it.
func stamps(p obj) (int64, *apiError) {
	sec, okSec, err := p.integer("timestamp")
	if err != nil {
		return 0, err
	}
	msec, okMsec, err := p.integer("msec_timestamp")
	if err != nil {
		return 0, err
	}
	if !okSec || sec <= 0 {
		return 0, badField(p.field("timestamp"), "required")
	}
	if !okMsec {
		return sec * 1000, nil
	}
	if msec/1000 != sec {
		return 0, badField(p.field("msec_timestamp"), "does not match timestamp")
	}
	return msec, nil
}

// findChat resolves conversation_id and conversation_ref_id of p. create is
// true when no chat exists yet and one must be made for conversation_id.
func (s *Server) findChat(sc *scope, p obj, mayCreate bool) (ch *chat, conv string, create bool, err *apiError) {
	conv, err = p.str("conversation_id")
	if err != nil {
		return nil, "", false, err
	}
	ref, err := p.str("conversation_ref_id")
	if err != nil {
		return nil, "", false, err
	}
	byConv := sc.chatsByConv[conv]
	if ref == "" {
		if conv == "" {
			return nil, "", false, badField(p.field("conversation_id"), "required")
		}
		if byConv == nil {
			if mayCreate {
				return nil, conv, true, nil
			}
			return nil, conv, false, notFound("chat not found")
		}
		return byConv, conv, false, nil
	}
	byRef, ok := s.chats[ref]
	if !ok || byRef.scope != sc {
		if mayCreate {
			return nil, "", false, badField(p.field("conversation_ref_id"), "unknown chat %q", ref)
		}
		return nil, "", false, notFound("chat not found")
	}
	if conv != "" && ((byConv != nil && byConv != byRef) || (byRef.conversationID != "" && byRef.conversationID != conv)) {
		return nil, "", false, &apiError{status: http.StatusBadRequest, code: ErrCodeConflict,
			desc: p.field("conversation_ref_id") + ": chat is bound to another conversation_id"}
	}
	return byRef, conv, false, nil
}

func (s *Server) newMessage(sc *scope, p obj) (int, any, *apiError) {
	msec, err := stamps(p)
	if err != nil {
		return 0, nil, err
	}
	msgid, err := p.reqStr("msgid")
	if err != nil {
		return 0, nil, err
	}
	silent, err := p.boolean("silent")
	if err != nil {
		return 0, nil, err
	}
	source, err := parseSource(p)
	if err != nil {
		return 0, nil, err
	}
	so, ok, err := p.object("sender")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField(p.field("sender"), "required")
	}
	sender, err := parsePart(so)
	if err != nil {
		return 0, nil, err
	}
	ro, outgoing, err := p.object("receiver")
	if err != nil {
		return 0, nil, err
	}
	var receiver partIn
	if outgoing {
		if receiver, err = parsePart(ro); err != nil {
			return 0, nil, err
		}
	}
	mo, ok, err := p.object("message")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField(p.field("message"), "required")
	}
	body, err := parseContent(mo)
	if err != nil {
		return 0, nil, err
	}
	if body.has["delivery_status"] {
		return 0, nil, badField(mo.field("delivery_status"), "only allowed with edit_message")
	}
	if err := body.check(mo.path); err != nil {
		return 0, nil, err
	}
	if _, _, err := p.object("forwards"); err != nil {
		return 0, nil, err
	}

	// Everything below looks at the stored state; nothing changes until all
	// checks passed.
	if _, dup := sc.msgByClientID[msgid]; dup {
		return 0, nil, &apiError{status: http.StatusBadRequest, code: ErrCodeDuplicateMsgID,
			desc: fmt.Sprintf("payload.msgid: duplicate msgid %q in this scope", msgid)}
	}
	ch, conv, create, err := s.findChat(sc, p, true)
	if err != nil {
		return 0, nil, err
	}
	var crm *participant
	var client partIn
	if outgoing {
		if sender.refID == "" {
			return 0, nil, &apiError{status: http.StatusBadRequest, code: ErrCodeUnknownSender,
				desc: "payload.sender.ref_id: required for an outgoing message (a user's amojo_id or the channel bot id)"}
		}
		if crm = sc.crmParticipant(sender.refID); crm == nil {
			return 0, nil, &apiError{status: http.StatusBadRequest, code: ErrCodeUnknownSender,
				desc: fmt.Sprintf("payload.sender.ref_id: %q is neither a user of the account nor the channel bot", sender.refID)}
		}
		client = receiver
	} else {
		if sender.refID != "" && sc.crmParticipant(sender.refID) != nil {
			return 0, nil, badField("payload.receiver", "required when the sender is a CRM user or the bot")
		}
		client = sender
	}
	found, _, err := resolveClient(sc, client)
	if err != nil {
		return 0, nil, err
	}
	var replyTo string
	if rt, ok, err := p.object("reply_to"); err != nil {
		return 0, nil, err
	} else if ok {
		if replyTo, err = quoted(sc, ch, rt); err != nil {
			return 0, nil, err
		}
	}

	if create {
		ch = s.newChat(sc, conv, source)
	} else if ch.conversationID == "" && conv != "" {
		ch.conversationID = conv
		sc.chatsByConv[conv] = ch
	}
	if ch.source == "" {
		ch.source = source
	}
	cl := s.applyClient(sc, found, client)
	if ch.client == nil {
		ch.client = cl
	}
	sc.seq++
	m := &message{chat: ch, msec: msec, seq: sc.seq}
	m.ID, m.ClientID, m.Time, m.Silent, m.ReplyToID = s.newID(), msgid, time.UnixMilli(msec).UTC(), silent, replyTo
	body.store(&m.Message)
	if outgoing {
		m.sender, m.receiver = crm, cl
	} else {
		m.sender = cl
	}
	ch.messages = append(ch.messages, m)
	sc.msgByClientID[msgid] = m
	sc.msgByID[m.ID] = m
	s.recordMessage(m)
	return http.StatusOK, newMessageJSON(m), nil
}

// quoted checks reply_to.message: an id or msgid of a message of the same
// chat, or a full description of the quoted message.
func quoted(sc *scope, ch *chat, rt obj) (string, *apiError) {
	qm, ok, err := rt.object("message")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", badField(rt.field("message"), "required")
	}
	id, err := qm.str("id")
	if err != nil {
		return "", err
	}
	msgid, err := qm.str("msgid")
	if err != nil {
		return "", err
	}
	var m *message
	switch {
	case id != "":
		m = sc.msgByID[id]
	case msgid != "":
		m = sc.msgByClientID[msgid]
	default:
		if t, _ := qm.str("type"); t == "" {
			return "", badField(qm.field("id"), "id, msgid or a full message required")
		}
		return "", nil
	}
	if m == nil || ch == nil || m.chat != ch {
		return "", badField(qm.path, "quoted message not found in this chat")
	}
	return m.ID, nil
}

func newMessageJSON(m *message) map[string]any {
	nm := map[string]any{
		"conversation_id": m.chat.id,
		"sender_id":       m.sender.ID,
		"msgid":           m.ID,
		"ref_id":          m.ClientID,
	}
	if m.receiver != nil {
		nm["receiver_id"] = m.receiver.ID
	}
	return map[string]any{"new_message": nm}
}

func (s *Server) editMessage(sc *scope, p obj) (int, any, *apiError) {
	ch, _, _, err := s.findChat(sc, p, false)
	if err != nil {
		return 0, nil, err
	}
	id, err := p.str("id")
	if err != nil {
		return 0, nil, err
	}
	msgid, err := p.str("msgid")
	if err != nil {
		return 0, nil, err
	}
	var m *message
	switch {
	case id != "":
		m = sc.msgByID[id]
	case msgid != "":
		m = sc.msgByClientID[msgid]
	default:
		return 0, nil, badField(p.field("msgid"), "msgid or id required")
	}
	if m == nil || m.chat != ch {
		return 0, nil, notFound("message not found")
	}
	if id != "" && msgid != "" && msgid != m.ClientID {
		if _, taken := sc.msgByClientID[msgid]; taken {
			return 0, nil, &apiError{status: http.StatusBadRequest, code: ErrCodeDuplicateMsgID,
				desc: fmt.Sprintf("payload.msgid: duplicate msgid %q in this scope", msgid)}
		}
	}
	mo, ok, err := p.object("message")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, badField(p.field("message"), "required")
	}
	in, err := parseContent(mo)
	if err != nil {
		return 0, nil, err
	}
	next := content{
		typ: m.Type, text: m.Text, media: m.Media, fileName: m.FileName, fileSize: m.FileSize,
		duration: m.MediaDuration, stickerID: m.StickerID, callback: m.CallbackData, postID: m.PostID,
		location: m.Location, contact: m.Contact,
	}
	if in.typ != "" {
		next.typ = in.typ
	}
	if in.has["text"] {
		next.text = in.text
	}
	if in.has["media"] {
		next.media = in.media
	}
	if in.has["file_name"] {
		next.fileName = in.fileName
	}
	if in.has["file_size"] {
		next.fileSize = in.fileSize
	}
	if in.location != nil {
		next.location = in.location
	}
	if in.contact != nil {
		next.contact = in.contact
	}
	if err := next.check(mo.path); err != nil {
		return 0, nil, err
	}
	var status, code int64
	var errText string
	var setStatus bool
	if ds, ok, err := mo.object("delivery_status"); err != nil {
		return 0, nil, err
	} else if ok {
		var okCode bool
		if status, setStatus, err = ds.integer("status_code"); err != nil {
			return 0, nil, err
		}
		if code, okCode, err = ds.integer("error_code"); err != nil {
			return 0, nil, err
		}
		if errText, err = ds.str("error"); err != nil {
			return 0, nil, err
		}
		if err := checkDelivery(ds, status, setStatus, code, okCode, errText, "status_code"); err != nil {
			return 0, nil, err
		}
	}
	if _, err := stamps(p); err != nil && p.has("timestamp") {
		return 0, nil, err
	}

	if id != "" && msgid != "" && msgid != m.ClientID {
		delete(sc.msgByClientID, m.ClientID)
		m.ClientID = msgid
		sc.msgByClientID[msgid] = m
	}
	next.store(&m.Message)
	m.Edited = true
	if setStatus {
		if status != -1 {
			code, errText = 0, ""
		}
		m.DeliveryStatus, m.DeliveryErrorCode, m.DeliveryError = int(status), int(code), errText
	}
	return http.StatusOK, newMessageJSON(m), nil
}

// checkDelivery applies the delivery status rules: 1 delivered, 2 read, -1
// error with error_code 901..905, and 905 needs the error text.
func checkDelivery(o obj, status int64, okStatus bool, code int64, okCode bool, text, statusKey string) *apiError {
	if !okStatus {
		return badField(o.field(statusKey), "required")
	}
	switch status {
	case 1, 2:
		// error_code and error are ignored: amoCRM's own step-by-step
		// request sends them with status 2.
	case -1:
		if !okCode || code < 901 || code > 905 {
			return badField(o.field("error_code"), "must be 901..905 with status -1")
		}
		if code == 905 && text == "" {
			return badField(o.field("error"), "required with error_code 905")
		}
	default:
		return badField(o.field(statusKey), "must be 1, 2 or -1")
	}
	return nil
}
