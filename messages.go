package amojo

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Message is a message to send to amojo (event new_message). Build it with
// IncomingMessage, ManagerMessage or BotMessage, which set the direction, and
// add optional fields.
//
// MsgID is the integration's message id; amojo refuses a second message with
// the same MsgID in a scope, which makes retries safe. ConversationID is the
// integration's chat id (an unknown one creates a chat); ConversationRefID is
// amojo's chat id, needed when the client answers a chat the CRM started.
// Time is required and is sent with millisecond precision. Silent imports the
// message without creating a lead or notifying users; it is always sent.
type Message struct {
	MsgID             string
	ConversationID    string
	ConversationRefID string
	Time              time.Time

	// Sender is the author. An incoming message (Receiver nil) needs the
	// client's ID and Name; an outgoing one needs Sender.RefID (a CRM user's
	// amojo_id or the channel bot id).
	Sender   Participant
	Receiver *Participant

	Content Content

	Source       *Source
	ReplyTo      *EmbeddedMessage
	Forwards     *Forwards
	SharedPost   *SharedPost
	Post         *CommentPost
	CallbackData string
	Silent       bool
}

// IncomingMessage returns a message written by the client from to the
// account (no receiver).
func IncomingMessage(msgID, conversationID string, at time.Time, from Participant, content Content) Message {
	return Message{MsgID: msgID, ConversationID: conversationID, Time: at, Sender: from, Content: content}
}

// ManagerMessage returns a message written by a CRM user to the client to.
// manager.RefID must be the user's amojo_id (see CRMClient); manager.ID and
// Name are the integration's id and display name of that user.
func ManagerMessage(msgID, conversationID string, at time.Time, manager, to Participant, content Content) Message {
	return Message{MsgID: msgID, ConversationID: conversationID, Time: at, Sender: manager, Receiver: &to, Content: content}
}

// BotMessage returns a message that cannot be attributed to a CRM user, sent
// on behalf of the channel bot (botRefID is the bot id issued with the
// channel) to the client to.
func BotMessage(msgID, conversationID string, at time.Time, botRefID string, to Participant, content Content) Message {
	return Message{MsgID: msgID, ConversationID: conversationID, Time: at, Sender: Participant{RefID: botRefID}, Receiver: &to, Content: content}
}

// EmbeddedMessage is a quoted message in Message.ReplyTo or Forwards. Either
// identify a message amojo knows, by ID (amojo's id) or MsgID (the
// integration's), or describe it fully: Type, Time, Sender and the fields the
// type needs (Text for text, Location, Contact).
type EmbeddedMessage struct {
	ID    string
	MsgID string

	Type          MessageType
	Text          string
	FileName      string
	FileSize      int64
	MediaDuration time.Duration
	Location      *GeoPoint
	Contact       *ContactInfo
	Time          time.Time
	// Sender needs at least one of ID, RefID and Name.
	Sender *Participant
}

// Forwards carries a forwarded message (amojo accepts exactly one), which may
// come from any chat of the integration, named by ConversationID or
// ConversationRefID.
type Forwards struct {
	Messages          []EmbeddedMessage
	ConversationID    string
	ConversationRefID string
}

// SharedPost is a social-network post shared by the client. URL is required;
// PreviewPermalink is preferred over the temporary PreviewLink.
type SharedPost struct {
	URL              string
	PreviewLink      string
	PreviewPermalink string
	SiteName         string
}

// CommentPost is the publication a comment belongs to (message.post); a
// message with a Post is a comment. ID and URL are required.
type CommentPost struct {
	ID               string
	URL              string
	PreviewURL       string
	PreviewPermalink string
	Username         string
	Caption          string
}

// SentMessage is amojo's answer to SendMessage and EditMessage: the message
// was accepted and appears after asynchronous processing. MsgID is amojo's
// message id and RefID the integration's msgid; ConversationID, SenderID and
// ReceiverID are amojo ids (ReceiverID is empty for incoming messages). Older
// servers answer with MsgID only.
type SentMessage struct {
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	ReceiverID     string `json:"receiver_id"`
	MsgID          string `json:"msgid"`
	RefID          string `json:"ref_id"`
}

// MessageEdit changes a message already sent (event edit_message). Identify it
// by MsgID (the integration's id) and/or ID (amojo's id); with both, MsgID
// becomes the message's new integration id. ConversationID or
// ConversationRefID names the chat. Content is required: it is the new
// content, and in it the media URL, file name and size may be left empty to
// keep the file. DeliveryStatus optionally reports a delivery state with the
// edit; a status alone is reported with SetDeliveryStatus. Time, when set, is
// sent as the edit's timestamp. Edits never create leads or notifications.
type MessageEdit struct {
	MsgID             string
	ID                string
	ConversationID    string
	ConversationRefID string
	Time              time.Time
	Content           Content
	DeliveryStatus    *DeliveryStatus
}

// Wire shapes.

type messageEvent[P messagePayload | editPayload] struct {
	EventType string `json:"event_type"`
	Payload   P      `json:"payload"`
}

type messagePayload struct {
	Timestamp         int64            `json:"timestamp"`
	MsecTimestamp     int64            `json:"msec_timestamp"`
	MsgID             string           `json:"msgid"`
	ConversationID    string           `json:"conversation_id,omitempty"`
	ConversationRefID string           `json:"conversation_ref_id,omitempty"`
	Source            *Source          `json:"source,omitempty"`
	Sender            wireParticipant  `json:"sender"`
	Receiver          *wireParticipant `json:"receiver,omitempty"`
	Message           wireMessage      `json:"message"`
	ReplyTo           *wireReplyTo     `json:"reply_to,omitempty"`
	Forwards          *wireForwards    `json:"forwards,omitempty"`
	Silent            bool             `json:"silent"`
}

type editPayload struct {
	Timestamp         int64       `json:"timestamp,omitempty"`
	MsecTimestamp     int64       `json:"msec_timestamp,omitempty"`
	MsgID             string      `json:"msgid,omitempty"`
	ID                string      `json:"id,omitempty"`
	ConversationID    string      `json:"conversation_id,omitempty"`
	ConversationRefID string      `json:"conversation_ref_id,omitempty"`
	Message           wireMessage `json:"message"`
}

type wireReplyTo struct {
	Message wireEmbedded `json:"message"`
}

type wireForwards struct {
	Messages          []wireEmbedded `json:"messages"`
	ConversationID    string         `json:"conversation_id,omitempty"`
	ConversationRefID string         `json:"conversation_ref_id,omitempty"`
}

type wireEmbedded struct {
	ID            string           `json:"id,omitempty"`
	MsgID         string           `json:"msgid,omitempty"`
	Type          MessageType      `json:"type,omitempty"`
	Text          string           `json:"text,omitempty"`
	FileName      string           `json:"file_name,omitempty"`
	FileSize      int64            `json:"file_size,omitempty"`
	MediaDuration int64            `json:"media_duration,omitempty"`
	Location      *GeoPoint        `json:"location,omitempty"`
	Contact       *ContactInfo     `json:"contact,omitempty"`
	Timestamp     int64            `json:"timestamp,omitempty"`
	MsecTimestamp int64            `json:"msec_timestamp,omitempty"`
	Sender        *wireParticipant `json:"sender,omitempty"`
}

type wireSharedPost struct {
	URL              string `json:"url"`
	PreviewLink      string `json:"preview_link,omitempty"`
	PreviewPermalink string `json:"preview_permalink,omitempty"`
	Type             string `json:"type"`
	SiteName         string `json:"site_name,omitempty"`
}

type wireCommentPost struct {
	ID               string `json:"id"`
	URL              string `json:"url"`
	PreviewURL       string `json:"preview_url,omitempty"`
	PreviewPermalink string `json:"preview_permalink,omitempty"`
	Username         string `json:"username,omitempty"`
	Caption          string `json:"caption,omitempty"`
}

type sentMessageBody struct {
	NewMessage SentMessage `json:"new_message"`
}

// Validation.

// Validate reports the first rule m breaks as a *ValidationError naming the
// field by its Go path, such as "Sender.ID" or "Content.FileName".
func (m Message) Validate() error {
	if isBlank(m.MsgID) {
		return invalid("MsgID", "required")
	}
	if isBlank(m.ConversationID) {
		// Required by new_message even when ConversationRefID names amojo's
		// chat ("write first"): both are sent so amoCRM links them.
		return invalid("ConversationID", "required")
	}
	if err := checkTime("Time", m.Time, true); err != nil {
		return err
	}
	if m.Receiver != nil {
		if isBlank(m.Sender.RefID) {
			return invalid("Sender.RefID", "required for an outgoing message (a CRM user's amojo_id or the bot id)")
		}
		if isBlank(m.Receiver.ID) && isBlank(m.Receiver.RefID) {
			return invalid("Receiver.ID", "required (or Receiver.RefID)")
		}
	} else {
		if isBlank(m.Sender.ID) {
			return invalid("Sender.ID", "required for an incoming message")
		}
		if isBlank(m.Sender.Name) {
			return invalid("Sender.Name", "required for an incoming message")
		}
	}
	if isNilContent(m.Content) {
		return invalid("Content", "required")
	}
	if err := m.Content.validate(false); err != nil {
		return within("Content", err)
	}
	if err := m.Source.Validate(); err != nil {
		return within("Source", err)
	}
	if m.ReplyTo != nil {
		if err := m.ReplyTo.validate(); err != nil {
			return within("ReplyTo", err)
		}
	}
	if m.Forwards != nil {
		if err := m.Forwards.validate(); err != nil {
			return within("Forwards", err)
		}
	}
	if m.SharedPost != nil {
		if err := m.SharedPost.validate(); err != nil {
			return within("SharedPost", err)
		}
	}
	if m.Post != nil {
		if err := m.Post.validate(); err != nil {
			return within("Post", err)
		}
	}
	return nil
}

func (e *EmbeddedMessage) validate() error {
	if e.FileSize < 0 {
		return invalid("FileSize", "negative")
	}
	if e.MediaDuration < 0 {
		return invalid("MediaDuration", "negative")
	}
	if e.Location != nil {
		if err := (Location{Point: *e.Location}).validate(false); err != nil {
			return within("Location", err)
		}
	}
	if err := checkTime("Time", e.Time, false); err != nil {
		return err
	}
	if e.ID != "" || e.MsgID != "" {
		return nil // a reference needs nothing else
	}
	if e.Type == "" {
		return invalid("ID", "required (or MsgID, or a full description with Type)")
	}
	if !knownType(e.Type) {
		return invalid("Type", "unknown message type "+strconv.Quote(string(e.Type)))
	}
	switch e.Type {
	case TypeText:
		if isBlank(e.Text) {
			return invalid("Text", "required for a text message")
		}
	case TypeLocation:
		if e.Location == nil {
			return invalid("Location", "required for a location message")
		}
	case TypeContact:
		if e.Contact == nil {
			return invalid("Contact", "required for a contact message")
		}
		if err := (SharedContact{Card: *e.Contact}).validate(false); err != nil {
			return within("Contact", err)
		}
	}
	if e.Time.IsZero() {
		return invalid("Time", "required")
	}
	if e.Sender == nil || (isBlank(e.Sender.ID) && isBlank(e.Sender.RefID) && isBlank(e.Sender.Name)) {
		return invalid("Sender", "required (ID, RefID or Name)")
	}
	return nil
}

func (f *Forwards) validate() error {
	switch len(f.Messages) {
	case 0:
		return invalid("Messages", "required (one message)")
	case 1:
	default:
		return invalid("Messages", "at most one message can be forwarded")
	}
	if err := f.Messages[0].validate(); err != nil {
		return within("Messages[0]", err)
	}
	return nil
}

func (p *SharedPost) validate() error {
	if err := checkMediaURL("URL", p.URL, false); err != nil {
		return err
	}
	if err := checkMediaURL("PreviewLink", p.PreviewLink, true); err != nil {
		return err
	}
	return checkMediaURL("PreviewPermalink", p.PreviewPermalink, true)
}

func (p *CommentPost) validate() error {
	if isBlank(p.ID) {
		return invalid("ID", "required")
	}
	if err := checkMediaURL("URL", p.URL, false); err != nil {
		return err
	}
	if err := checkMediaURL("PreviewURL", p.PreviewURL, true); err != nil {
		return err
	}
	return checkMediaURL("PreviewPermalink", p.PreviewPermalink, true)
}

// Validate reports the first rule e breaks as a *ValidationError.
func (e MessageEdit) Validate() error {
	if isBlank(e.MsgID) && isBlank(e.ID) {
		return invalid("MsgID", "required (or ID)")
	}
	if isBlank(e.ConversationID) && isBlank(e.ConversationRefID) {
		return invalid("ConversationID", "required (or ConversationRefID)")
	}
	if err := checkTime("Time", e.Time, false); err != nil {
		return err
	}
	if isNilContent(e.Content) {
		return invalid("Content", "required")
	}
	if err := e.Content.validate(true); err != nil {
		return within("Content", err)
	}
	if e.DeliveryStatus != nil {
		if err := e.DeliveryStatus.Validate(); err != nil {
			return within("DeliveryStatus", err)
		}
	}
	return nil
}

func checkTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return invalid(field, "required")
		}
		return nil
	}
	if t.UnixMilli() <= 0 {
		return invalid(field, "before 1970")
	}
	return nil
}

func knownType(t MessageType) bool {
	switch t {
	case TypeText, TypePicture, TypeFile, TypeVideo, TypeVoice, TypeAudio, TypeSticker, TypeLocation, TypeContact:
		return true
	}
	return false
}

// Conversion to the wire.

func (m Message) payload() messagePayload {
	msg := m.Content.wire()
	msg.CallbackData = m.CallbackData
	if p := m.SharedPost; p != nil {
		msg.SharedPost = &wireSharedPost{URL: p.URL, PreviewLink: p.PreviewLink, PreviewPermalink: p.PreviewPermalink, Type: "post", SiteName: p.SiteName}
	}
	if p := m.Post; p != nil {
		msg.Post = &wireCommentPost{ID: p.ID, URL: p.URL, PreviewURL: p.PreviewURL, PreviewPermalink: p.PreviewPermalink, Username: p.Username, Caption: p.Caption}
	}
	pl := messagePayload{
		Timestamp:         m.Time.Unix(),
		MsecTimestamp:     m.Time.UnixMilli(),
		MsgID:             m.MsgID,
		ConversationID:    m.ConversationID,
		ConversationRefID: m.ConversationRefID,
		Source:            m.Source.wire(),
		Sender:            m.Sender.wire(),
		Receiver:          m.Receiver.wirePtr(),
		Message:           msg,
		Silent:            m.Silent,
	}
	if m.ReplyTo != nil {
		pl.ReplyTo = &wireReplyTo{Message: m.ReplyTo.wire()}
	}
	if f := m.Forwards; f != nil {
		wf := &wireForwards{ConversationID: f.ConversationID, ConversationRefID: f.ConversationRefID}
		for _, e := range f.Messages {
			wf.Messages = append(wf.Messages, e.wire())
		}
		pl.Forwards = wf
	}
	return pl
}

func (e EmbeddedMessage) wire() wireEmbedded {
	w := wireEmbedded{
		ID:            e.ID,
		MsgID:         e.MsgID,
		Type:          e.Type,
		Text:          e.Text,
		FileName:      e.FileName,
		FileSize:      e.FileSize,
		MediaDuration: seconds(e.MediaDuration),
		Location:      e.Location,
		Contact:       e.Contact,
		Sender:        e.Sender.wirePtr(),
	}
	if !e.Time.IsZero() {
		w.Timestamp, w.MsecTimestamp = e.Time.Unix(), e.Time.UnixMilli()
	}
	return w
}

func (e MessageEdit) payload() editPayload {
	pl := editPayload{
		MsgID:             e.MsgID,
		ID:                e.ID,
		ConversationID:    e.ConversationID,
		ConversationRefID: e.ConversationRefID,
		Message:           e.Content.wire(),
	}
	if !e.Time.IsZero() {
		pl.Timestamp, pl.MsecTimestamp = e.Time.Unix(), e.Time.UnixMilli()
	}
	pl.Message.DeliveryStatus = e.DeliveryStatus.wireEdit()
	return pl
}

// Endpoints.

// SendMessage sends or imports m into the account of scopeID. amojo accepts
// it for asynchronous processing; the answer carries amojo's ids. m is
// validated first (see Message.Validate) and nothing is sent when it is
// invalid.
//
// A failed attempt is retried with the same msgid, which amoCRM uses to
// refuse a second copy. So when an answer is lost after amoCRM stored the
// message, the retry is refused (a 400 *APIError) although the message is
// there: look for its msgid in History (message.client_id) before treating
// such an error as a failure.
func (c *Client) SendMessage(ctx context.Context, scopeID string, m Message) (*SentMessage, error) {
	if err := checkID("scopeID", scopeID); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return c.postMessageEvent(ctx, scopeID, messageEvent[messagePayload]{EventType: "new_message", Payload: m.payload()})
}

// EditMessage replaces the content of a message sent before (see
// MessageEdit). The answer has the same shape as SendMessage's.
func (c *Client) EditMessage(ctx context.Context, scopeID string, e MessageEdit) (*SentMessage, error) {
	if err := checkID("scopeID", scopeID); err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return c.postMessageEvent(ctx, scopeID, messageEvent[editPayload]{EventType: "edit_message", Payload: e.payload()})
}

func (c *Client) postMessageEvent(ctx context.Context, scopeID string, ev any) (*SentMessage, error) {
	var out sentMessageBody
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID),
		in:     ev,
		out:    &out,
	})
	if err != nil {
		return nil, err
	}
	return &out.NewMessage, nil
}
