package amojo

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

// maxExternalIDLen is the longest source external id amojo accepts in
// create-chat and messages.
const maxExternalIDLen = 40

// Source names the lead source a chat belongs to (the "source" object on the
// wire): the ExternalID of a LeadSource (see CRMClient.AddSources). With it,
// the first incoming message of a chat creates its incoming lead in the
// pipeline tied to that source.
//
// ExternalID is checked by the rule of LeadSource.ExternalID, printable ASCII
// and spaces, but with the chats API's limit of 40 characters rather than the
// sources API's 36: amoCRM's own default source carries the widget code, which
// may be longer than 36, and a value amoCRM itself returned must never be
// refused. Create sources with ids of at most 36 characters (AddSources
// enforces it) and both APIs accept them.
type Source struct {
	ExternalID string `json:"external_id"`
}

// Validate checks ExternalID by the chats API's rule (printable ASCII and
// spaces, at most 40 characters), as CreateChat and SendMessage do before
// sending; a nil Source, or one without ExternalID, is valid (it sends no
// source). A problem is a *ValidationError for "ExternalID".
func (s *Source) Validate() error {
	if s == nil || s.ExternalID == "" {
		return nil
	}
	return checkASCII("ExternalID", s.ExternalID, maxExternalIDLen)
}

// wire returns s, or nil when it carries nothing, so no empty object is sent.
func (s *Source) wire() *Source {
	if s == nil || s.ExternalID == "" {
		return nil
	}
	return s
}

// Profile is the contact data of a chat participant. amoCRM uses it for
// duplicate control and copies it into the contact it creates with a lead.
type Profile struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Participant is a chat participant as the integration describes it in
// requests: ID is the integration's own id, RefID amojo's id (for a CRM user
// its amojo_id, for the channel bot the bot id). Avatar must be a publicly
// downloadable URL. Empty fields, and a Profile without data, are not sent.
type Participant struct {
	ID          string   `json:"id,omitempty"`
	RefID       string   `json:"ref_id,omitempty"`
	Name        string   `json:"name,omitempty"`
	Avatar      string   `json:"avatar,omitempty"`
	Profile     *Profile `json:"profile,omitempty"`
	ProfileLink string   `json:"profile_link,omitempty"`
}

// MarshalJSON writes the participant without empty fields; a Profile with
// neither phone nor email is left out rather than sent as {}.
func (p Participant) MarshalJSON() ([]byte, error) {
	return json.Marshal(p.wire())
}

// wireParticipant is Participant as sent: the same fields without the
// MarshalJSON method, so request bodies encode it directly.
type wireParticipant Participant

// wire returns p ready to encode, with a Profile without data left out.
func (p Participant) wire() wireParticipant {
	if p.Profile != nil && p.Profile.Phone == "" && p.Profile.Email == "" {
		p.Profile = nil
	}
	return wireParticipant(p)
}

// wirePtr is wire for an optional participant.
func (p *Participant) wirePtr() *wireParticipant {
	if p == nil {
		return nil
	}
	w := p.wire()
	return &w
}

// ParticipantRef identifies a participant by the integration's id (ID) or by
// amojo's id (RefID); give at least one.
type ParticipantRef struct {
	ID    string `json:"id,omitempty"`
	RefID string `json:"ref_id,omitempty"`
}

func (p ParticipantRef) validate() error {
	if p.ID == "" && p.RefID == "" {
		return invalid("ID", "required (or RefID)")
	}
	return nil
}

// CreateChatRequest describes a chat to create. ConversationID is the
// integration's chat id. User is the client taking part in the chat: it
// needs ID and Name, unless RefID names a participant amojo already knows.
type CreateChatRequest struct {
	ConversationID string
	Source         *Source
	User           Participant
}

// Validate reports the first rule req breaks as a *ValidationError.
func (req CreateChatRequest) Validate() error {
	if isBlank(req.ConversationID) {
		return invalid("ConversationID", "required")
	}
	if err := req.Source.Validate(); err != nil {
		return within("Source", err)
	}
	if req.User.RefID == "" {
		if isBlank(req.User.ID) {
			return invalid("User.ID", "required unless User.RefID is given")
		}
		if isBlank(req.User.Name) {
			return invalid("User.Name", "required unless User.RefID is given")
		}
	}
	return nil
}

// Chat is a chat as amojo created it: ID is amojo's chat id (the
// conversation_ref_id of messages and the chat_id of REST v4 links), User the
// participant with amojo's id in ID and the integration's in ClientID.
type Chat struct {
	ID   string   `json:"id"`
	User ChatUser `json:"user"`
}

type createChatBody struct {
	ConversationID string          `json:"conversation_id"`
	Source         *Source         `json:"source,omitempty"`
	User           wireParticipant `json:"user"`
}

// CreateChat creates a chat in the account of scopeID, or returns the existing
// one with the same ConversationID. Use it when a chat must exist before any
// message, for example to link it to a known contact; a chat without messages
// is not shown in amoCRM.
func (c *Client) CreateChat(ctx context.Context, scopeID string, req CreateChatRequest) (*Chat, error) {
	if err := checkID("scopeID", scopeID); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var chat Chat
	_, err := c.r.do(ctx, request{
		method: "POST",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID) + "/chats",
		in: createChatBody{
			ConversationID: req.ConversationID,
			Source:         req.Source.wire(),
			User:           req.User.wire(),
		},
		out: &chat,
	})
	if err != nil {
		return nil, err
	}
	if chat.ID == "" {
		return nil, errors.New("amojo: create chat: response has no chat id")
	}
	return &chat, nil
}

// isBlank reports an empty or all-whitespace string.
func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// within puts prefix in front of the field of a *ValidationError, so a rule
// checked on a nested value names the whole Go path ("Content.FileName").
func within(prefix string, err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	field := prefix
	if ve.Field != "" {
		field += "." + ve.Field
	}
	return &ValidationError{Field: field, Reason: ve.Reason}
}
