package amojotest

import (
	"errors"
	"maps"
	"slices"
	"time"
)

// Participant is a chat participant as the fake stores it: ID is the amojo id
// the fake issued (or the CRM user's or bot's amojo id), ClientID the
// integration's own id (empty for CRM users and the bot).
type Participant struct {
	ID          string `json:"id"`
	ClientID    string `json:"client_id,omitempty"`
	Name        string `json:"name"`
	Avatar      string `json:"avatar,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
	ProfileLink string `json:"profile_link,omitempty"`
}

// Location is a shared position.
type Location struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// ContactCard is a shared contact.
type ContactCard struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Message is a stored chat message.
type Message struct {
	ID            string       `json:"id"`                  // amojo id, issued by the fake
	ClientID      string       `json:"client_id,omitempty"` // the integration's msgid; empty for messages written in the CRM
	Time          time.Time    `json:"time"`
	Sender        Participant  `json:"sender"`
	Receiver      *Participant `json:"receiver,omitempty"` // nil for incoming messages
	Type          string       `json:"type"`
	Text          string       `json:"text,omitempty"`
	Media         string       `json:"media,omitempty"`
	Thumbnail     string       `json:"thumbnail,omitempty"`
	FileName      string       `json:"file_name,omitempty"`
	FileSize      int64        `json:"file_size,omitempty"`
	MediaDuration int64        `json:"media_duration,omitempty"`
	StickerID     string       `json:"sticker_id,omitempty"`
	Location      *Location    `json:"location,omitempty"`
	Contact       *ContactCard `json:"contact,omitempty"`
	CallbackData  string       `json:"callback_data,omitempty"`
	ReplyToID     string       `json:"reply_to_id,omitempty"` // amojo id of the quoted message, when it names one
	PostID        string       `json:"post_id,omitempty"`     // the commented post, for comments
	Silent        bool         `json:"silent,omitempty"`
	Edited        bool         `json:"edited,omitempty"`
	// DeliveryStatus is the last status the integration reported: 0 (sent),
	// 1 (delivered), 2 (read) or -1 (error, with the code and text).
	DeliveryStatus    int    `json:"delivery_status,omitempty"`
	DeliveryErrorCode int    `json:"delivery_error_code,omitempty"`
	DeliveryError     string `json:"delivery_error,omitempty"`
	// Reactions maps the reacting participant (client id, or amojo id for
	// CRM users) to the emoji.
	Reactions map[string]string `json:"reactions,omitempty"`
}

// Chat is a stored chat with its messages, oldest first.
type Chat struct {
	ID               string       `json:"id"`                        // amojo chat id (REST chat_id)
	ConversationID   string       `json:"conversation_id,omitempty"` // the integration's conversation_id; empty for a chat started in the CRM
	ScopeID          string       `json:"scope_id"`
	SourceExternalID string       `json:"source_external_id,omitempty"`
	Client           *Participant `json:"client,omitempty"` // the external participant, when known
	Messages         []Message    `json:"messages,omitempty"`
	// Typing counts the typing notifications received for the chat.
	Typing int `json:"typing,omitempty"`
}

// Connection is the state of one channel in one account.
type Connection struct {
	ScopeID            string `json:"scope_id"`
	ChannelID          string `json:"channel_id,omitempty"`
	AccountID          string `json:"account_id,omitempty"`
	Title              string `json:"title,omitempty"`
	HookAPIVersion     string `json:"hook_api_version,omitempty"`
	TimeWindowDisabled bool   `json:"time_window_disabled,omitempty"`
	Connected          bool   `json:"connected"`
}

// Contact is a contact created through REST v4.
type Contact struct {
	ID                int          `json:"id"`
	AccountID         string       `json:"account_id,omitempty"` // amojo id of the account
	Name              string       `json:"name"`
	FirstName         string       `json:"first_name,omitempty"`
	LastName          string       `json:"last_name,omitempty"`
	ResponsibleUserID int          `json:"responsible_user_id,omitempty"`
	Phones            []FieldValue `json:"phones,omitempty"`
	Emails            []FieldValue `json:"emails,omitempty"`
	Tags              []string     `json:"tags,omitempty"`
	CreatedAt         time.Time    `json:"created_at"`
}

// FieldValue is one value of a multitext field such as PHONE or EMAIL.
type FieldValue struct {
	Value    string `json:"value"`
	EnumCode string `json:"enum_code,omitempty"`
}

// Link is a chat↔contact link created through REST v4.
type Link struct {
	ID        int    `json:"id"`
	ChatID    string `json:"chat_id"`
	ContactID int    `json:"contact_id"`
}

// participant is the fake's record of a Participant.
type participant struct {
	Participant
	crm bool // a CRM user or the bot
}

type message struct {
	Message
	sender, receiver *participant
	chat             *chat
	msec             int64
	seq              int
}

type chat struct {
	id, conversationID string
	scope              *scope
	source             string
	client             *participant
	messages           []*message
	typing             int
}

type scope struct {
	id                 string
	channel            *Channel
	acc                *account
	connected          bool
	title, hookVersion string
	timeWindowDisabled bool
	chatsByConv        map[string]*chat
	msgByClientID      map[string]*message
	msgByID            map[string]*message
	clients            map[string]*participant // by client id
	byRef              map[string]*participant // by amojo id
	seq                int
}

func newScope(id string, ch *Channel, acc *account) *scope {
	return &scope{
		id: id, channel: ch, acc: acc,
		chatsByConv:   map[string]*chat{},
		msgByClientID: map[string]*message{},
		msgByID:       map[string]*message{},
		clients:       map[string]*participant{},
		byRef:         map[string]*participant{},
	}
}

// crmParticipant returns the participant for a CRM user or the channel bot
// with amojo id ref, or nil when ref is neither.
func (sc *scope) crmParticipant(ref string) *participant {
	if p, ok := sc.byRef[ref]; ok && p.crm {
		return p
	}
	var name string
	switch {
	case ref == "":
		return nil
	case ref == sc.channel.Bot.ID:
		name = sc.channel.Bot.Name
	default:
		found := false
		for _, u := range sc.acc.Users {
			if u.AmojoID == ref {
				name, found = u.Name, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	if _, taken := sc.byRef[ref]; taken {
		return nil
	}
	p := &participant{Participant: Participant{ID: ref, Name: name}, crm: true}
	sc.byRef[ref] = p
	return p
}

func (m *message) snapshot() Message {
	out := m.Message
	out.Sender = m.sender.Participant
	if m.receiver != nil {
		r := m.receiver.Participant
		out.Receiver = &r
	}
	out.Reactions = maps.Clone(m.Reactions)
	if m.Location != nil {
		l := *m.Location
		out.Location = &l
	}
	if m.Contact != nil {
		c := *m.Contact
		out.Contact = &c
	}
	return out
}

// ordered returns the chat's messages oldest first: by msec_timestamp, then
// by arrival.
func (c *chat) ordered() []*message {
	ms := slices.Clone(c.messages)
	slices.SortStableFunc(ms, func(a, b *message) int {
		if a.msec != b.msec {
			if a.msec < b.msec {
				return -1
			}
			return 1
		}
		return a.seq - b.seq
	})
	return ms
}

func (c *chat) snapshot() Chat {
	out := Chat{ID: c.id, ConversationID: c.conversationID, ScopeID: c.scope.id, SourceExternalID: c.source, Typing: c.typing}
	if c.client != nil {
		p := c.client.Participant
		out.Client = &p
	}
	for _, m := range c.ordered() {
		out.Messages = append(out.Messages, m.snapshot())
	}
	return out
}

// Chats returns the chats of scopeID in the order they were created.
func (s *Server) Chats(scopeID string) []Chat {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Chat
	for _, c := range s.chatOrder {
		if c.scope.id == scopeID {
			out = append(out, c.snapshot())
		}
	}
	return out
}

// Chat returns the chat with amojo id chatID.
func (s *Server) Chat(chatID string) (Chat, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok {
		return Chat{}, false
	}
	return c.snapshot(), true
}

// ChatByConversation returns the chat of scopeID with the integration's
// conversation id conversationID.
func (s *Server) ChatByConversation(scopeID, conversationID string) (Chat, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[scopeID]
	if !ok {
		return Chat{}, false
	}
	c, ok := sc.chatsByConv[conversationID]
	if !ok {
		return Chat{}, false
	}
	return c.snapshot(), true
}

// Connection returns the state of scope scopeID; ok is false when the scope
// was never connected.
func (s *Server) Connection(scopeID string) (Connection, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[scopeID]
	if !ok {
		return Connection{}, false
	}
	return Connection{
		ScopeID: sc.id, ChannelID: sc.channel.ID, AccountID: sc.acc.AmojoID, Title: sc.title,
		HookAPIVersion: sc.hookVersion, TimeWindowDisabled: sc.timeWindowDisabled, Connected: sc.connected,
	}, true
}

// Contacts returns every contact created through REST v4, in creation order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Contact
	for _, a := range s.cfg.accounts {
		for _, c := range s.accounts[a.AmojoID].contacts {
			cc := *c
			cc.Phones = slices.Clone(c.Phones)
			cc.Emails = slices.Clone(c.Emails)
			cc.Tags = slices.Clone(c.Tags)
			out = append(out, cc)
		}
	}
	return out
}

// Links returns every chat↔contact link, ordered by id.
func (s *Server) Links() []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Link
	for _, a := range s.accounts {
		for _, l := range a.links {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b Link) int { return a.ID - b.ID })
	return out
}

// Connect connects channelID to the account accountID with webhooks of
// version v2, as a successful connect request would, and returns the scope id.
// Tests that are not about connecting use it to get a working scope.
func (s *Server) Connect(channelID, accountID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.connectLocked(channelID, accountID, "", "v2", false)
	if err != nil {
		return "", errors.New("amojotest: connect: " + err.desc)
	}
	return sc.id, nil
}
