package amojo

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Errors reported by the webhook side. ErrInvalidSignature (errors.go) reports
// a webhook whose X-Signature does not match.
var (
	// ErrMalformedWebhook reports a webhook body that is not a JSON object.
	ErrMalformedWebhook = errors.New("amojo: malformed webhook body")
	// ErrWebhookTooLarge reports a webhook body over the handler's size limit.
	ErrWebhookTooLarge = errors.New("amojo: webhook body too large")
	// ErrWebhookQueueFull reports a webhook refused because the asynchronous
	// queue of a WebhookHandler was full. amoCRM sends each webhook once, so
	// the event passed along with this error is lost unless the error
	// handler keeps it.
	ErrWebhookQueueFull = errors.New("amojo: webhook queue full")
	// ErrWebhookTimeout reports a synchronous callback that did not return
	// within the handler's sync timeout; the handler answered without it.
	ErrWebhookTimeout = errors.New("amojo: webhook callback timed out")
	// ErrWebhookClosed reports an event refused or left unhandled because the
	// WebhookHandler was closed.
	ErrWebhookClosed = errors.New("amojo: webhook handler closed")
)

// WebhookSignatureHeader is the request header that carries a webhook's
// signature.
const WebhookSignatureHeader = "X-Signature"

// SignWebhook returns the X-Signature amoCRM sends with a webhook body: the
// lowercase hex HMAC-SHA1 of the raw body, keyed with the channel secret. It is
// meant for tests that feed signed webhooks to a handler.
func SignWebhook(secret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks that signature (the X-Signature header) is the
// HMAC-SHA1 of the raw webhook body keyed with the channel secret. It returns
// nil when it is, and an error matching ErrInvalidSignature when the signature
// is missing, malformed or does not match. An empty secret is a configuration
// error (a *ValidationError), never a pass.
//
// The comparison is constant-time and ignores the case of the hex digits. The
// raw body is checked first; if that fails and the body ends in one line
// break ("\n" or "\r\n"), the body without it is checked too, as some
// senders sign the body before the final newline. Only that one line break
// may be left out of the signature: a body signed as X passes as X, X+"\n"
// and X+"\r\n", and nothing else. VerifyWebhookBody tells which bytes
// were signed.
func VerifyWebhook(secret string, body []byte, signature string) error {
	return VerifyWebhookAny([]string{secret}, body, signature)
}

// VerifyWebhookAny is VerifyWebhook for several secrets at once, as during the
// rotation of a channel secret: the signature passes if it matches any of
// them. No secrets, or an empty one, is a configuration error.
func VerifyWebhookAny(secrets []string, body []byte, signature string) error {
	_, err := VerifyWebhookBody(secrets, body, signature)
	return err
}

// VerifyWebhookBody is VerifyWebhookAny that also returns the bytes the
// signature covers: body itself, or body without its final line break when
// only that passes (see VerifyWebhook). The result shares body's memory. Decode
// those bytes, not body, so that what is used is exactly what was signed;
// WebhookHandler does, and its events' Raw are those bytes.
func VerifyWebhookBody(secrets []string, body []byte, signature string) (signed []byte, err error) {
	if len(secrets) == 0 {
		return nil, invalid("secrets", "none given")
	}
	for i, s := range secrets {
		if s == "" {
			if len(secrets) == 1 {
				return nil, invalid("secret", "empty")
			}
			return nil, invalid(fmt.Sprintf("secrets[%d]", i), "empty")
		}
	}
	sig := strings.TrimSpace(signature)
	if sig == "" {
		return nil, fmt.Errorf("%w: missing", ErrInvalidSignature)
	}
	var want [sha1.Size]byte
	if len(sig) != 2*sha1.Size {
		return nil, fmt.Errorf("%w: not %d hex digits", ErrInvalidSignature, 2*sha1.Size)
	}
	if _, err := hex.Decode(want[:], []byte(sig)); err != nil {
		return nil, fmt.Errorf("%w: not %d hex digits", ErrInvalidSignature, 2*sha1.Size)
	}
	for _, s := range secrets {
		for _, signed := range signedCandidates(body) {
			if macEqual(s, signed, want[:]) {
				return signed, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: mismatch", ErrInvalidSignature)
}

// signedCandidates returns the bytes a signature of body may cover: body,
// then body without a final "\n", then without a final "\r\n".
func signedCandidates(body []byte) [][]byte {
	c := [][]byte{body}
	if t, ok := bytes.CutSuffix(body, []byte("\n")); ok {
		c = append(c, t)
		if t, ok := bytes.CutSuffix(t, []byte("\r")); ok {
			c = append(c, t)
		}
	}
	return c
}

func macEqual(secret string, body, want []byte) bool {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), want)
}

// EventKind tells which kind of webhook a WebhookEvent is.
type EventKind string

// The kinds of webhook amoCRM sends.
const (
	// EventMessage: a CRM user, bot or Salesbot sent a message to the client
	// (WebhookEvent.Message is set).
	EventMessage EventKind = "message"
	// EventComment: a manager answered a comment under a post
	// (WebhookEvent.Message is set, with Message.Post).
	EventComment EventKind = "comment"
	// EventTyping: a manager is typing (WebhookEvent.Typing is set).
	EventTyping EventKind = "typing"
	// EventReaction: a manager reacted to a message or removed the reaction
	// (WebhookEvent.Reaction is set).
	EventReaction EventKind = "reaction"
	// EventUnknown: a JSON object of another shape; only WebhookEvent.Raw,
	// AccountID and Time tell what it is.
	EventUnknown EventKind = "unknown"
)

// WebhookEvent is one webhook from amoCRM, decoded. Exactly one of Message,
// Typing and Reaction is set, as Kind says, except for EventUnknown which
// sets none.
type WebhookEvent struct {
	Kind      EventKind
	AccountID string    // the account's amojo id ("account_id")
	Time      time.Time // when amoCRM generated the webhook ("time"), UTC
	// ScopeID is the scope id of the connection the webhook is for: the last
	// segment of the webhook URL's path, which amoCRM fills with it.
	// WebhookHandler sets it only after checking that its account part is the
	// signed AccountID (the path itself is not signed), and leaves it empty
	// for a webhook that names no account; ParseWebhook leaves it empty.
	ScopeID  string
	Message  *OutgoingMessage // EventMessage and EventComment
	Typing   *TypingEvent     // EventTyping
	Reaction *ReactionEvent   // EventReaction
	// Raw is a copy of the body ParseWebhook decoded, for fields this package
	// does not model and for EventUnknown. From WebhookHandler it is exactly
	// the bytes the signature covers (see VerifyWebhookBody).
	Raw json.RawMessage
}

// ConversationRef identifies a chat in a webhook: ID is amojo's chat id
// (conversation_ref_id when you send), ClientID your conversation_id. ClientID
// is empty for a chat a manager started from the CRM ("write first").
type ConversationRef struct {
	ID       string
	ClientID string
}

// WebhookSource is the source a chat belongs to ("source.external_id").
type WebhookSource struct {
	ExternalID string
}

// OutgoingMessage is a message a CRM user, bot or Salesbot sent to a client
// (webhook "message" object, v2). Deliver it to the client through your
// messenger and report the result with a delivery status for Message.ID.
type OutgoingMessage struct {
	// Receiver is the client: ID is amojo's participant id, ClientID yours;
	// Phone and Email are empty when no profile was given.
	Receiver ChatUser
	// Sender is the CRM user or bot: ID is amojo's id.
	Sender       ChatUser
	Conversation ConversationRef
	Source       *WebhookSource // nil when the chat has no source
	Time         time.Time      // the message time (msec_timestamp, else timestamp)
	// Message is the content: ID is amojo's message id; Type, Text, Media,
	// Thumbnail, FileName, FileSize, MediaDuration, MediaGroupID and so on as
	// sent. Parts of a message with several attachments arrive as separate
	// webhooks sharing MediaGroupID.
	Message  ReceivedMessage
	Tag      string             // not used for third-party integrations
	Markup   *Markup            // buttons or a WhatsApp list message
	Template *MessageTemplate   // set when sent from a template
	ReplyTo  *QuotedMessage     // the message this one answers
	Forwards *ForwardedMessages // forwarded messages quoted in this one
	Post     *PostRef           // set for a reply to a comment under a post
}

// WriteFirst reports whether the chat was started on the CRM side ("write
// first"), so it has no conversation id of yours yet: deliver by
// Receiver.Phone (and Source.ExternalID to pick the sending number), and when
// the client answers send its message with a new ConversationID of yours plus
// ConversationRefID = Conversation.ID, and sender ref_id = Receiver.ID.
func (m *OutgoingMessage) WriteFirst() bool {
	return m.Conversation.ClientID == ""
}

// Markup is the keyboard shown with a message: rows of inline Buttons, or a
// WhatsApp ListMessage (then Mode and Buttons are empty). Only one kind comes
// in a webhook.
type Markup struct {
	Mode        string // "inline"
	Buttons     [][]MarkupButton
	ListMessage *ListMessage
}

// MarkupButton is one inline button. A text button (URL empty) sends its Text
// back as a client message when pressed; a URL button opens URL.
type MarkupButton struct {
	Text string
	URL  string
}

// ListMessage is a WhatsApp List Message sent by Salesbot: a menu button that
// opens Sections of rows. When the client picks a row, send the client's
// message with that row's CallbackData.
type ListMessage struct {
	Header   string
	Body     string
	Footer   string
	Button   string
	Sections []ListSection
}

// ListSection is one section of a ListMessage.
type ListSection struct {
	Title string
	Rows  []ListRow
}

// ListRow is one choice in a ListSection.
type ListRow struct {
	CallbackData string
	Title        string
	Description  string
}

// MessageTemplate is the template a message was sent from: its amoCRM id, the
// external id given when it was created through the API, the original text
// with markers, and the marker values used.
type MessageTemplate struct {
	ID         int64
	ExternalID string
	Content    string
	Params     []TemplateParam
}

// TemplateParam is one marker of a template and the value put in its place.
type TemplateParam struct {
	Key   string
	Value string
}

// QuotedMessage is a message embedded in a webhook: the message a reply
// quotes, a forwarded message, or the message a reaction is about. The
// embedded ReceivedMessage carries ID (amojo's id), ClientID (your msgid, when
// the message has one) and the content; fields amoCRM leaves out are empty.
type QuotedMessage struct {
	ReceivedMessage
	Time     time.Time
	Sender   ChatUser
	Receiver ChatUser
}

// ForwardedMessages are the messages forwarded in an outgoing message, with
// the chat they come from when amoCRM says so.
type ForwardedMessages struct {
	Messages          []QuotedMessage
	ConversationRefID string // amojo's id of the chat they come from
	ConversationID    string // your id of the chat they come from
}

// PostRef identifies the post of a comment thread: ID is your post id.
type PostRef struct {
	ID string
}

// TypingEvent says a manager is typing in a chat until ExpiresAt (5 seconds
// after the start; amoCRM sends it at most once per 5 seconds).
type TypingEvent struct {
	User         ChatUser // the manager; ID is amojo's user id
	Conversation ConversationRef
	ExpiresAt    time.Time
	PostID       string // your post id, when the manager answers a comment
}

// ReactionEvent says a manager put (Type "react") or removed (Type "unreact")
// a reaction on a message.
type ReactionEvent struct {
	Type  string // "react" or "unreact"
	Emoji string // empty on "unreact"
	// MessageID is amojo's id of the message reacted to, from the
	// "message" object or the older top-level "msgid".
	MessageID string
	// MessageClientID is your msgid of that message, when it has one.
	MessageClientID string
	// Message is the message reacted to, when amoCRM describes it.
	Message      *QuotedMessage
	User         ChatUser // the manager; ID is amojo's user id
	Conversation ConversationRef
}

// Removed reports whether the reaction was taken back ("unreact").
func (r *ReactionEvent) Removed() bool { return r.Type == "unreact" }

// ParseWebhook decodes a webhook body. The body must be a JSON object;
// anything else is an error matching ErrMalformedWebhook. The kind is chosen
// as amoCRM documents: a "message" object makes a message (a comment reply
// when its content has a "post"), "action.typing" a typing event,
// "action.reaction" a reaction; any other object is EventUnknown. Decoding is
// lenient: missing or null fields are left empty, unknown fields are ignored,
// numbers may come as JSON numbers or numeric strings, and a field of an
// unexpected type is read as empty rather than failing the whole webhook.
// ParseWebhook does not check the signature: call VerifyWebhookBody first and
// decode the bytes it returns.
func ParseWebhook(body []byte) (*WebhookEvent, error) {
	trimmed := bytes.Trim(body, " \t\r\n") // JSON white space only
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformedWebhook)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedWebhook)
	}
	if !json.Valid(trimmed) {
		return nil, fmt.Errorf("%w: invalid JSON", ErrMalformedWebhook)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil || root == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedWebhook)
	}
	o := jsonObject(root)

	ev := &WebhookEvent{
		Kind:      EventUnknown,
		AccountID: o.str("account_id"),
		Time:      unixTime(o.int("time"), 0),
		Raw:       json.RawMessage(bytes.Clone(body)),
	}
	action := o.obj("action")
	if m, ok := o.object("message"); ok {
		ev.Message = parseOutgoing(m)
		ev.Kind = EventMessage
		if ev.Message.Post != nil {
			ev.Kind = EventComment
		}
	} else if t, ok := action.object("typing"); ok {
		ev.Kind = EventTyping
		ev.Typing = parseTyping(action, t)
	} else if r, ok := action.object("reaction"); ok {
		ev.Kind = EventReaction
		ev.Reaction = parseReaction(action, r)
	}
	return ev, nil
}

func parseOutgoing(o jsonObject) *OutgoingMessage {
	content := o.obj("message")
	m := &OutgoingMessage{
		Receiver:     parseUser(o.obj("receiver")),
		Sender:       parseUser(o.obj("sender")),
		Conversation: parseConversation(o.obj("conversation")),
		Time:         unixTime(o.int("timestamp"), o.int("msec_timestamp")),
		Message:      parseContent(content),
		Tag:          content.str("tag"),
		Markup:       parseMarkup(content.obj("markup")),
		Template:     parseTemplate(content),
		Forwards:     parseForwards(content),
	}
	if s, ok := o.object("source"); ok {
		m.Source = &WebhookSource{ExternalID: s.str("external_id")}
	}
	if r, ok := content.object("reply_to"); ok {
		// amoCRM wraps the quoted message in "message"; Kommo's reference
		// puts its fields directly under reply_to.
		q, ok := r.object("message")
		if !ok {
			q = r
		}
		quoted := parseQuoted(q)
		m.ReplyTo = &quoted
	}
	if p, ok := content.object("post"); ok {
		m.Post = &PostRef{ID: p.str("id")}
	}
	return m
}

func parseTyping(action, t jsonObject) *TypingEvent {
	user, ok := t.object("user")
	if !ok {
		user = action.obj("user") // the layout of amoCRM's parameter table
	}
	conv, ok := t.object("conversation")
	if !ok {
		conv = action.obj("conversation")
	}
	postID := t.str("post_id")
	if postID == "" {
		postID = action.str("post_id")
	}
	return &TypingEvent{
		User:         parseUser(user),
		Conversation: parseConversation(conv),
		ExpiresAt:    unixTime(t.int("expired_at"), 0),
		PostID:       postID,
	}
}

func parseReaction(action, r jsonObject) *ReactionEvent {
	user, ok := r.object("user")
	if !ok {
		user = action.obj("user")
	}
	ev := &ReactionEvent{
		Type:         r.str("type"),
		Emoji:        r.str("emoji"),
		User:         parseUser(user),
		Conversation: parseConversation(r.obj("conversation")),
	}
	if m, ok := r.object("message"); ok {
		q := parseQuoted(m)
		ev.Message = &q
		ev.MessageID, ev.MessageClientID = q.ID, q.ClientID
	}
	if ev.MessageID == "" {
		ev.MessageID = r.str("msgid") // the older layout
	}
	return ev
}

func parseUser(o jsonObject) ChatUser {
	u := ChatUser{
		ID:       o.str("id"),
		ClientID: o.str("client_id"),
		Name:     o.str("name"),
		Avatar:   o.str("avatar"),
		Phone:    o.str("phone"),
		Email:    o.str("email"),
	}
	if p := o.obj("profile"); p != nil {
		if u.Phone == "" {
			u.Phone = p.str("phone")
		}
		if u.Email == "" {
			u.Email = p.str("email")
		}
	}
	return u
}

func parseConversation(o jsonObject) ConversationRef {
	return ConversationRef{ID: o.str("id"), ClientID: o.str("client_id")}
}

func parseContent(o jsonObject) ReceivedMessage {
	m := ReceivedMessage{
		ID:            o.str("id"),
		ClientID:      firstNonEmpty(o.str("client_id"), o.str("msgid")),
		Type:          MessageType(o.str("type")),
		Text:          o.str("text"),
		Media:         o.str("media"),
		Thumbnail:     o.str("thumbnail"),
		FileName:      o.str("file_name"),
		FileSize:      o.int("file_size"),
		MediaDuration: int(clampInt32(o.int("media_duration"))),
		MediaGroupID:  o.str("media_group_id"),
		StickerID:     o.str("sticker_id"),
		CallbackData:  o.str("callback_data"),
	}
	if l, ok := o.object("location"); ok {
		m.Location = &GeoPoint{Lon: l.float("lon"), Lat: l.float("lat")}
	}
	if c, ok := o.object("contact"); ok {
		m.Contact = &ContactInfo{Name: c.str("name"), Phone: c.str("phone")}
	}
	return m
}

func parseQuoted(o jsonObject) QuotedMessage {
	return QuotedMessage{
		ReceivedMessage: parseContent(o),
		Time:            unixTime(o.int("timestamp"), o.int("msec_timestamp")),
		Sender:          parseUser(o.obj("sender")),
		Receiver:        parseUser(o.obj("receiver")),
	}
}

func parseForwards(content jsonObject) *ForwardedMessages {
	f, ok := content.object("forwards")
	if !ok {
		return nil
	}
	fw := &ForwardedMessages{
		ConversationRefID: f.str("conversation_ref_id"),
		ConversationID:    f.str("conversation_id"),
	}
	for _, item := range f.list("messages") {
		if m, ok := item.(map[string]any); ok {
			fw.Messages = append(fw.Messages, parseQuoted(m))
		}
	}
	return fw
}

func parseMarkup(o jsonObject) *Markup {
	if o == nil {
		return nil
	}
	mk := &Markup{Mode: o.str("mode")}
	for _, row := range o.list("buttons") {
		items, ok := row.([]any)
		if !ok {
			continue
		}
		buttons := make([]MarkupButton, 0, len(items))
		for _, item := range items {
			if b, ok := item.(map[string]any); ok {
				bo := jsonObject(b)
				buttons = append(buttons, MarkupButton{Text: bo.str("text"), URL: bo.str("url")})
			}
		}
		mk.Buttons = append(mk.Buttons, buttons)
	}
	if lm, ok := o.object("list_message"); ok {
		l := &ListMessage{
			Header: lm.str("header"),
			Body:   lm.str("body"),
			Footer: lm.str("footer"),
			Button: lm.str("button"),
		}
		for _, item := range lm.list("sections") {
			so, ok := item.(map[string]any)
			if !ok {
				continue
			}
			s := ListSection{Title: jsonObject(so).str("title")}
			for _, r := range jsonObject(so).list("rows") {
				if ro, ok := r.(map[string]any); ok {
					row := jsonObject(ro)
					s.Rows = append(s.Rows, ListRow{
						CallbackData: row.str("callback_data"),
						Title:        row.str("title"),
						Description:  row.str("description"),
					})
				}
			}
			l.Sections = append(l.Sections, s)
		}
		mk.ListMessage = l
	}
	if mk.Mode == "" && len(mk.Buttons) == 0 && mk.ListMessage == nil {
		return nil
	}
	return mk
}

func parseTemplate(content jsonObject) *MessageTemplate {
	t, ok := content.object("template")
	if !ok {
		return nil
	}
	tpl := &MessageTemplate{
		ID:         t.int("id"),
		ExternalID: t.str("external_id"),
		Content:    t.str("content"),
	}
	for _, item := range t.list("params") {
		if p, ok := item.(map[string]any); ok {
			po := jsonObject(p)
			tpl.Params = append(tpl.Params, TemplateParam{Key: po.str("key"), Value: po.str("value")})
		}
	}
	return tpl
}

// jsonObject is a JSON object decoded with UseNumber. Its accessors never
// panic: a missing key, null, or a value of another type reads as empty.
type jsonObject map[string]any

// object returns the object at key and whether there is one.
func (o jsonObject) object(key string) (jsonObject, bool) {
	m, ok := o[key].(map[string]any)
	return m, ok
}

// obj returns the object at key, or nil (which reads as empty).
func (o jsonObject) obj(key string) jsonObject {
	m, _ := o[key].(map[string]any)
	return m
}

func (o jsonObject) list(key string) []any {
	a, _ := o[key].([]any)
	return a
}

// str reads a string; a number is read as its decimal text.
func (o jsonObject) str(key string) string {
	switch v := o[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// numeric returns the text of a value given as a JSON number or a string.
func (o jsonObject) numeric(key string) (string, bool) {
	switch v := o[key].(type) {
	case json.Number:
		return v.String(), true
	case string:
		return strings.TrimSpace(v), true
	}
	return "", false
}

// int reads an integer given as a JSON number or a numeric string. Fractions
// are truncated; values that are not numbers or do not fit read as 0.
func (o jsonObject) int(key string) int64 {
	s, ok := o.numeric(key)
	if !ok {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0
	}
	return int64(f)
}

// float reads a number given as a JSON number or a numeric string; anything
// else, NaN and infinities read as 0.
func (o jsonObject) float(key string) float64 {
	s, ok := o.numeric(key)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func clampInt32(n int64) int64 {
	return min(max(n, math.MinInt32), math.MaxInt32)
}
