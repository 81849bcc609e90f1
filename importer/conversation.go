package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/amojo-go/amojo"
)

// Direction says who wrote a message of an imported conversation.
type Direction string

// The directions of a ConversationMessage.
const (
	// FromClient is a message the conversation's client wrote to the account.
	FromClient Direction = "client"
	// FromManager is a message a CRM user wrote to the client; its Sender
	// needs RefID = the user's amojo_id (see amojo.CRMClient.Users).
	FromManager Direction = "manager"
	// FromBot is a message the channel bot wrote to the client; it is sent
	// with the bot id given by WithBotRefID (or the message's Sender.RefID).
	FromBot Direction = "bot"
)

// Conversation is a chat that already happened between a client and the
// account's managers, to be imported with an Importer.
//
// ID is the chat id on the integration's side (the conversation_id of the
// chats API). Client is the client taking part in it (ID and Name are
// required; it is the sender of the client's messages and the receiver of
// the others). Source optionally ties the chat to a lead source. Contact
// describes the amoCRM contact the chat is linked to; nil links none.
// Messages are imported in time order whatever their order here.
//
// A Conversation is read from JSON (see ReadConversation) in this shape:
//
//	{
//	  "conversation_id": "skc-8e3e7640",
//	  "client": {"id": "sk-1376265f", "name": "Example Client",
//	             "avatar": "https://example.com/users/avatar.png",
//	             "profile": {"phone": "79151112233", "email": "client@example.com"},
//	             "profile_link": "https://example.com/profile/client"},
//	  "source": {"external_id": "78001234567"},
//	  "contact": {"first_name": "Jack", "last_name": "Tester",
//	              "phones": ["79151112233"], "emails": ["client@example.com"]},
//	  "messages": [
//	    {"msgid": "m-1", "time": "2020-08-03T16:06:48Z", "from": "client",
//	     "message": {"type": "text", "text": "Hello"}},
//	    {"msgid": "m-2", "time": "2020-08-03T16:09:12Z", "from": "manager",
//	     "sender": {"id": "mgr-1", "ref_id": "d8d9f9c4-9611-4794-a136-a253a13e1bb5", "name": "Vasily"},
//	     "message": {"type": "picture", "media": "https://example.com/a.png",
//	                 "file_name": "a.png", "file_size": 1024, "text": "caption"}}
//	  ]
//	}
//
// "message" is the chats API's own message object; see DecodeContent for
// every kind. "time" is RFC 3339; "timestamp" (unix seconds) or
// "msec_timestamp" (unix milliseconds) may be given instead. "contact" may
// instead name an existing contact: {"id": 3102959}. A key not shown here
// (nor listed by DecodeContent) is an error, so a typo such as "mesages"
// is caught rather than ignored.
type Conversation struct {
	ID       string                `json:"conversation_id"`
	Client   amojo.Participant     `json:"client"`
	Source   *amojo.Source         `json:"source,omitempty"`
	Contact  *ContactSpec          `json:"contact,omitempty"`
	Messages []ConversationMessage `json:"messages"`
}

// ContactSpec is the amoCRM contact of an imported conversation. With ID set
// the chat is linked to that existing contact and nothing is created;
// otherwise a contact is created from the other fields (unless the chat is
// already linked to one, or a checkpoint remembers one) and the chat linked
// to it. Phones and Emails are stored as WORK phone and e-mail values.
type ContactSpec struct {
	ID                int64    `json:"id,omitempty"`
	Name              string   `json:"name,omitempty"`
	FirstName         string   `json:"first_name,omitempty"`
	LastName          string   `json:"last_name,omitempty"`
	Phones            []string `json:"phones,omitempty"`
	Emails            []string `json:"emails,omitempty"`
	ResponsibleUserID int64    `json:"responsible_user_id,omitempty"`
	Tags              []string `json:"tags,omitempty"`
}

// ConversationMessage is one message of a Conversation. MsgID is the
// message id on the integration's side; it must be unique in the scope, as
// amojo refuses a second message with the same id, which is what makes an
// import safe to repeat. Time is when it was written. From says who wrote it.
// Sender is required for FromManager (RefID = the CRM user's amojo_id, plus
// the integration's ID and Name of that user); it must be nil or the client
// for FromClient, and may override the bot id for FromBot. Content is any
// message kind of package amojo (Text, Picture, File, Video, Voice, Audio,
// Sticker, Location, SharedContact).
type ConversationMessage struct {
	MsgID   string
	Time    time.Time
	From    Direction
	Sender  *amojo.Participant
	Content amojo.Content
}

// wireConversationMessage is the JSON shape of a ConversationMessage.
type wireConversationMessage struct {
	MsgID         string             `json:"msgid"`
	Time          json.RawMessage    `json:"time,omitempty"` // RFC 3339, read by parseMessageTime
	Timestamp     int64              `json:"timestamp,omitempty"`
	MsecTimestamp int64              `json:"msec_timestamp,omitempty"`
	From          Direction          `json:"from"`
	Sender        *amojo.Participant `json:"sender,omitempty"`
	Message       json.RawMessage    `json:"message"`
}

// UnmarshalJSON reads a message in the shape documented on Conversation. A
// "message" object that is not a valid message kind is a *amojo.ValidationError
// naming the field, such as "Content.Text"; a "time" that is not RFC 3339 is
// one for "Time".
func (m *ConversationMessage) UnmarshalJSON(data []byte) error {
	var w wireConversationMessage
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*m = ConversationMessage{MsgID: w.MsgID, From: w.From, Sender: w.Sender}
	switch {
	case len(w.Time) > 0 && string(w.Time) != "null":
		t, err := parseMessageTime(w.Time)
		if err != nil {
			return err
		}
		m.Time = t
	case w.MsecTimestamp != 0:
		m.Time = time.UnixMilli(w.MsecTimestamp).UTC()
	case w.Timestamp != 0:
		m.Time = time.Unix(w.Timestamp, 0).UTC()
	}
	if len(w.Message) == 0 || string(w.Message) == "null" {
		return nil // Validate reports the missing content
	}
	c, err := DecodeContent(w.Message)
	if err != nil {
		return within("Content", err)
	}
	m.Content = c
	return nil
}

// timeExpected says what a message's time may be.
const timeExpected = `must be RFC 3339, e.g. 2020-08-03T16:06:48Z (or give "timestamp" in unix seconds or "msec_timestamp" in milliseconds instead)`

// parseMessageTime reads the "time" of a message: an RFC 3339 string.
func parseMessageTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, invalid("Time", timeExpected+", not "+jsonKind(raw))
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("Time", timeExpected+", not "+strconv.Quote(s))
	}
	return t, nil
}

// jsonKind names the kind of a JSON value ("a number", "an object", …).
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// MarshalJSON writes the message in the shape UnmarshalJSON reads, with the
// time in RFC 3339 (milliseconds kept).
func (m ConversationMessage) MarshalJSON() ([]byte, error) {
	w := wireConversationMessage{MsgID: m.MsgID, From: m.From, Sender: m.Sender}
	if !m.Time.IsZero() {
		t, err := m.Time.UTC().MarshalJSON()
		if err != nil {
			return nil, err
		}
		w.Time = t
	}
	if !isNilContent(m.Content) {
		raw, err := amojo.MarshalContent(m.Content)
		if err != nil {
			return nil, err
		}
		w.Message = raw
	}
	return json.Marshal(w)
}

// DecodeContent turns a message object in the chats API's wire shape into
// its Content kind:
//
//	{"type":"text","text":"…"}                                        Text
//	{"type":"picture","media":URL,"file_name":…,"file_size":N,"text":caption} Picture
//	{"type":"file", same fields}                                      File
//	{"type":"video", same fields,"media_duration":seconds}            Video
//	{"type":"voice","media":URL,"media_duration":seconds}             Voice
//	{"type":"audio","media":URL,"file_name"?,"file_size"?,"media_duration"?,"text"?} Audio
//	{"type":"sticker","media":URL,"sticker_id"?}                      Sticker
//	{"type":"location","location":{"lon":…,"lat":…},"text"?}          Location
//	{"type":"contact","contact":{"name":…,"phone":…},"text"?}         SharedContact
//
// Other fields amojo reports in history (id, client_id, thumbnail, …) are
// ignored. An unknown type or a missing required field is a
// *amojo.ValidationError naming the field.
func DecodeContent(raw []byte) (amojo.Content, error) {
	var w struct {
		Type          amojo.MessageType  `json:"type"`
		Text          string             `json:"text"`
		Media         string             `json:"media"`
		FileName      string             `json:"file_name"`
		FileSize      int64              `json:"file_size"`
		MediaDuration float64            `json:"media_duration"`
		StickerID     string             `json:"sticker_id"`
		Location      *amojo.GeoPoint    `json:"location"`
		Contact       *amojo.ContactInfo `json:"contact"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, typeProblem(te)
		}
		return nil, invalid("", "not a message object: "+jsonProblem(err))
	}
	if !(w.MediaDuration >= 0 && w.MediaDuration < 1e9) {
		return nil, invalid("Duration", "must be a number of seconds, at least 0")
	}
	dur := time.Duration(w.MediaDuration * float64(time.Second))
	var c amojo.Content
	switch w.Type {
	case amojo.TypeText:
		c = amojo.Text{Text: w.Text}
	case amojo.TypePicture:
		c = amojo.Picture{URL: w.Media, FileName: w.FileName, FileSize: w.FileSize, Caption: w.Text}
	case amojo.TypeFile:
		c = amojo.File{URL: w.Media, FileName: w.FileName, FileSize: w.FileSize, Caption: w.Text}
	case amojo.TypeVideo:
		c = amojo.Video{URL: w.Media, FileName: w.FileName, FileSize: w.FileSize, Duration: dur, Caption: w.Text}
	case amojo.TypeVoice:
		c = amojo.Voice{URL: w.Media, Duration: dur}
	case amojo.TypeAudio:
		c = amojo.Audio{URL: w.Media, FileName: w.FileName, FileSize: w.FileSize, Duration: dur, Caption: w.Text}
	case amojo.TypeSticker:
		c = amojo.Sticker{URL: w.Media, StickerID: w.StickerID}
	case amojo.TypeLocation:
		if w.Location == nil {
			return nil, invalid("Location", "required for a location message")
		}
		c = amojo.Location{Point: *w.Location, Text: w.Text}
	case amojo.TypeContact:
		if w.Contact == nil {
			return nil, invalid("Card", "required for a contact message")
		}
		c = amojo.SharedContact{Card: *w.Contact, Text: w.Text}
	case "":
		return nil, invalid("Type", "required")
	default:
		return nil, invalid("Type", "unknown message type "+strconv.Quote(string(w.Type)))
	}
	if err := amojo.ValidateContent(c); err != nil {
		return nil, err
	}
	return c, nil
}

// jsonProblem shortens a JSON decoding error to its cause.
func jsonProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// ConversationError reports a problem with one conversation: invalid input,
// or a step of its import that failed. It names the conversation, and the
// message when one is concerned; Line is the line of a JSON Lines input (0
// when unknown; in a single document, the line of a key the format does not
// have) and Index the conversation's position in a batch (-1 when
// unknown). Err is the cause: a *amojo.ValidationError, an *amojo.APIError,
// an *amojo.BatchError, a context error… errors.As and errors.Is see
// through to it.
type ConversationError struct {
	ConversationID string
	MsgID          string
	Line           int
	Index          int
	Step           string // "read", "validate", "connect", "create chat", "create contact", "link", "history", "send", "verify", "checkpoint"
	Err            error
}

// Error returns one line such as
// `amojo: conversation "c-1" (line 4), message "m-9": invalid Messages[2].Content.Text: required`.
func (e *ConversationError) Error() string {
	var b strings.Builder
	b.WriteString("amojo: ")
	if e.ConversationID != "" {
		b.WriteString("conversation ")
		b.WriteString(strconv.Quote(e.ConversationID))
	} else {
		b.WriteString("conversation")
		if e.Index >= 0 {
			fmt.Fprintf(&b, " #%d", e.Index+1)
		}
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.MsgID != "" {
		b.WriteString(", message ")
		b.WriteString(strconv.Quote(e.MsgID))
	}
	b.WriteString(": ")
	if e.Step != "" && e.Step != "validate" && e.Step != "read" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	msg := "<nil>"
	if e.Err != nil {
		msg = strings.TrimPrefix(e.Err.Error(), "amojo: ")
	}
	b.WriteString(strings.ReplaceAll(msg, "\n", "; "))
	return b.String()
}

// Unwrap returns the cause.
func (e *ConversationError) Unwrap() error { return e.Err }

// Validate checks the conversation before anything is sent: the ids, the
// client, the source, the contact and every message (an msgid, a time, a
// direction, a sender where needed, valid content), and that no msgid repeats.
// A problem is a *ConversationError naming the conversation and message,
// wrapping a *amojo.ValidationError whose Field is the Go path, such as
// "Messages[2].Content.Text".
func (c *Conversation) Validate() error {
	if c == nil {
		return &ConversationError{Index: -1, Step: "validate", Err: invalid("Conversation", "nil")}
	}
	msgID, err := c.validate()
	if err != nil {
		return &ConversationError{ConversationID: c.ID, MsgID: msgID, Index: -1, Step: "validate", Err: err}
	}
	return nil
}

func (c *Conversation) validate() (msgID string, err error) {
	if isBlank(c.ID) {
		return "", invalid("ID", "required")
	}
	if isBlank(c.Client.ID) {
		return "", invalid("Client.ID", "required")
	}
	if isBlank(c.Client.Name) {
		return "", invalid("Client.Name", "required")
	}
	if err := c.Source.Validate(); err != nil {
		return "", within("Source", err)
	}
	if c.Contact != nil {
		if err := c.Contact.validate(); err != nil {
			return "", within("Contact", err)
		}
	}
	if len(c.Messages) == 0 {
		return "", invalid("Messages", "empty")
	}
	seen := make(map[string]int, len(c.Messages))
	for i := range c.Messages {
		m := &c.Messages[i]
		field := fmt.Sprintf("Messages[%d]", i)
		if prev, dup := seen[m.MsgID]; dup && m.MsgID != "" {
			return m.MsgID, invalid(field+".MsgID", fmt.Sprintf("duplicate of Messages[%d]", prev))
		}
		seen[m.MsgID] = i
		if err := m.validate(c); err != nil {
			return m.MsgID, within(field, err)
		}
	}
	return "", nil
}

func (s *ContactSpec) validate() error {
	if s.ID < 0 {
		return invalid("ID", "negative")
	}
	if s.ID > 0 {
		return nil
	}
	if s.ResponsibleUserID < 0 {
		return invalid("ResponsibleUserID", "negative")
	}
	for i, v := range s.Phones {
		if err := checkText(fmt.Sprintf("Phones[%d]", i), v); err != nil {
			return err
		}
	}
	for i, v := range s.Emails {
		if err := checkText(fmt.Sprintf("Emails[%d]", i), v); err != nil {
			return err
		}
	}
	for i, v := range s.Tags {
		if err := checkText(fmt.Sprintf("Tags[%d]", i), v); err != nil {
			return err
		}
	}
	return nil
}

func (m *ConversationMessage) validate(c *Conversation) error {
	switch m.From {
	case FromClient:
		if m.Sender != nil && m.Sender.ID != c.Client.ID {
			return invalid("Sender", "must be empty or the conversation's client for a client message")
		}
	case FromManager:
		if m.Sender == nil || isBlank(m.Sender.RefID) {
			return invalid("Sender.RefID", "required for a manager message (the CRM user's amojo_id)")
		}
	case FromBot:
	case "":
		return invalid("From", `required: "client", "manager" or "bot"`)
	default:
		return invalid("From", `must be "client", "manager" or "bot", not `+strconv.Quote(string(m.From)))
	}
	if isNilContent(m.Content) {
		return invalid("Content", "required (the \"message\" object)")
	}
	// The rest is the chats API's own rule for the message this one becomes
	// (the bot's id is checked by the importer, which knows it).
	return m.message(c, "bot").Validate()
}

// message builds the chats API message for m in conversation c; botRefID is
// the channel bot's id for FromBot.
func (m *ConversationMessage) message(c *Conversation, botRefID string) amojo.Message {
	switch m.From {
	case FromManager:
		return amojo.ManagerMessage(m.MsgID, c.ID, m.Time, *m.Sender, c.Client, m.Content)
	case FromBot:
		if m.Sender != nil && !isBlank(m.Sender.RefID) {
			return amojo.ManagerMessage(m.MsgID, c.ID, m.Time, *m.Sender, c.Client, m.Content)
		}
		return amojo.BotMessage(m.MsgID, c.ID, m.Time, botRefID, c.Client, m.Content)
	default:
		return amojo.IncomingMessage(m.MsgID, c.ID, m.Time, c.Client, m.Content)
	}
}

// MaxConversationLine is the longest line ReadConversations accepts.
const MaxConversationLine = 16 << 20

// ReadConversation reads one conversation in the JSON shape documented on
// Conversation and validates it. A malformed document, a key the format
// does not have or a broken rule is a *ConversationError naming the
// conversation (when its id could be read) and the message; its
// *amojo.ValidationError names the JSON path the document uses, such as
// "messages[2].message.file_name" (Conversation.Validate, for a
// conversation built in Go, names the Go path "Messages[2].Content.FileName").
func ReadConversation(r io.Reader) (*Conversation, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConversationLine+1))
	if err != nil {
		return nil, &ConversationError{Index: -1, Step: "read", Err: fmt.Errorf("amojo: read conversation: %w", err)}
	}
	if len(data) > MaxConversationLine {
		return nil, &ConversationError{Index: -1, Step: "read", Err: errors.New("amojo: conversation larger than 16 MiB")}
	}
	return decodeConversationLine(data, 0)
}

// decodeConversationLine decodes and validates one conversation; line is its line
// number in a JSON Lines input (0 for a single document).
func decodeConversationLine(data []byte, line int) (*Conversation, error) {
	fail := func(id, msgID string, err error) (*Conversation, error) {
		return nil, &ConversationError{ConversationID: id, MsgID: msgID, Line: line, Index: -1, Step: "read", Err: err}
	}
	if ke := checkKeys(data); ke != nil {
		if line == 0 {
			line = ke.line
		}
		return fail(peekString(data, "conversation_id"), "", invalid(ke.path, "unknown key (the keys here are "+ke.known+")"))
	}
	var w struct {
		ID       string            `json:"conversation_id"`
		Client   amojo.Participant `json:"client"`
		Source   *amojo.Source     `json:"source"`
		Contact  *ContactSpec      `json:"contact"`
		Messages []json.RawMessage `json:"messages"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return fail(peekString(data, "conversation_id"), "", withJSONPaths(decodeProblem(err)))
	}
	if dec.More() {
		return fail(w.ID, "", errors.New("amojo: invalid JSON: more than one value (use a JSON Lines file for many conversations)"))
	}
	c := &Conversation{ID: w.ID, Client: w.Client, Source: w.Source, Contact: w.Contact, Messages: make([]ConversationMessage, len(w.Messages))}
	for i, raw := range w.Messages {
		if err := json.Unmarshal(raw, &c.Messages[i]); err != nil {
			return fail(w.ID, peekString(raw, "msgid"), withJSONPaths(within(fmt.Sprintf("Messages[%d]", i), decodeProblem(err))))
		}
	}
	if err := c.Validate(); err != nil {
		var ce *ConversationError
		if errors.As(err, &ce) {
			ce.Line = line
			ce.Err = withJSONPaths(ce.Err)
		}
		return nil, err
	}
	return c, nil
}

// decodeProblem describes a JSON decoding error, keeping a *amojo.ValidationError
// from a message's content and naming the message it belongs to.
func decodeProblem(err error) error {
	var ve *amojo.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return typeProblem(te)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("amojo: invalid JSON at byte %d: %s", se.Offset, jsonProblem(err))
	}
	if errors.Is(err, io.EOF) {
		return errors.New("amojo: empty document")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("amojo: invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("amojo: invalid JSON: %s", jsonProblem(err))
}

// typeProblem describes a JSON value of the wrong type, naming its key.
func typeProblem(te *json.UnmarshalTypeError) error {
	given := te.Value
	switch given {
	case "object", "array":
		given = "an " + given
	case "bool":
		given = "true or false"
	default:
		given = "a " + given
	}
	return invalid(te.Field, "must be "+jsonType(te.Type.String())+", not "+given)
}

// jsonType names a Go type in JSON words.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "uint"):
		return "a number"
	case goType == "string", strings.HasSuffix(goType, "Direction"), strings.HasSuffix(goType, "MessageType"):
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time string"
	}
	return "an object"
}

// peekString returns the string member key of a JSON object that failed to
// decode, when it can still be read, so the error can name its conversation
// or message.
func peekString(data []byte, key string) string {
	var p map[string]json.RawMessage
	if json.Unmarshal(data, &p) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(p[key], &s) != nil {
		return ""
	}
	return s
}

// ReadConversations streams conversations from a JSON Lines input: one
// conversation per line, in the shape documented on Conversation; blank lines
// are skipped. Lines are read one at a time (at most MaxConversationLine
// bytes each), so memory does not grow with the input. A line that does not
// decode or validate yields a *ConversationError with its line number and
// reading goes on with the next line (errors name JSON paths, as with
// ReadConversation); a read error of r (or an overlong line)
// is yielded once and ends the sequence. Breaking out of the loop stops
// reading.
func ReadConversations(r io.Reader) iter.Seq2[*Conversation, error] {
	return func(yield func(*Conversation, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var buf []byte
		for line := 1; ; line++ {
			data, _, err := readLine(br, &buf)
			if len(bytes.TrimSpace(data)) > 0 {
				c, perr := decodeConversationLine(data, line)
				if !yield(c, perr) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, &ConversationError{Line: line, Index: -1, Step: "read", Err: err})
				return
			}
			if cap(buf) > 1<<20 {
				buf = nil // do not keep one huge line's buffer for the rest of the input
			}
		}
	}
}

// readLine reads one line into *buf, reusing it, and returns it without
// its end and the number of bytes it took in the input, its end included.
func readLine(br *bufio.Reader, buf *[]byte) ([]byte, int, error) {
	b := (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > MaxConversationLine+1 {
			*buf = nil
			return nil, len(b), errors.New("amojo: line longer than 16 MiB")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		*buf = b
		if err != nil && err != io.EOF {
			return nil, len(b), fmt.Errorf("amojo: read conversations: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), len(b), err
	}
}

// ConversationsOf returns the conversations of cs as a sequence for
// Importer.ImportAll.
func ConversationsOf(cs []*Conversation) iter.Seq2[*Conversation, error] {
	return func(yield func(*Conversation, error) bool) {
		for _, c := range cs {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// isNilContent reports a nil interface or a nil pointer to a content kind.
func isNilContent(c amojo.Content) bool {
	if c == nil {
		return true
	}
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
