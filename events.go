package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MaxEventsLimit is the largest page of GET /api/v4/events.
const MaxEventsLimit = 100

// MaxEventFilterIDs is the most ids one events filter (contacts, users) may
// name.
const MaxEventFilterIDs = 10

// ChatEventType is the type of a chat event in amoCRM's event log.
type ChatEventType string

// The chat event types.
const (
	// EventIncomingChat: a client's message arrived.
	EventIncomingChat ChatEventType = "incoming_chat_message"
	// EventOutgoingChat: a manager or a bot sent a message to a client.
	EventOutgoingChat ChatEventType = "outgoing_chat_message"
	// EventDirectMessage: a message of amoCRM's internal chat between users;
	// channels have nothing to do with it.
	EventDirectMessage ChatEventType = "entity_direct_message"
)

// ChatEvent is a chat message event of amoCRM's event log. It holds no text,
// chat or sender: only MessageID, the message's id, which is (as far as
// amoCRM's documentation goes, and as amojotest has it) the amojo message id
// of webhooks and history (OutgoingMessage.Message.ID, HistoryMessage
// Message.ID).
//
// EntityType and EntityID are what amoCRM reports: "lead" or "customer" when
// a talk is linked (LinkedTalkContactID then names the contact), "contact"
// otherwise. ContactID is the contact resolved from them: EntityID for a
// "contact" event, LinkedTalkContactID for the others; 0 when amoCRM named
// none.
type ChatEvent struct {
	ID                  string // a string, not a number
	Type                ChatEventType
	MessageID           string
	ContactID           int64
	EntityID            int64
	EntityType          string
	LinkedTalkContactID int64
	CreatedBy           int64 // the user; 0 for clients and robots
	CreatedAt           time.Time
	AccountID           int64
}

// ChatEventFilter selects chat events. Types defaults to EventIncomingChat
// and EventOutgoingChat; only the three chat types may be named. Since and
// Until bound created_at (filter[created_at][from] and [to], unix seconds,
// as amoCRM filters them); ContactIDs and CreatedBy take at most
// MaxEventFilterIDs ids each. Page starts at 1 (0 means 1); Limit is at most
// MaxEventsLimit (0 means that).
//
// Chat events are always asked with filter[entity][]=contact, as amoCRM
// requires for the chat types (events of a linked lead or customer come back
// typed so, but are found only by the contact filter); ContactIDs become
// filter[entity_id][].
type ChatEventFilter struct {
	Types      []ChatEventType
	Since      time.Time
	Until      time.Time
	ContactIDs []int64
	CreatedBy  []int64
	Page       int
	Limit      int
}

// ChatEventPage is one page of chat events; Next says whether another page
// follows.
type ChatEventPage struct {
	Events []ChatEvent
	Page   int
	Next   bool
}

func (f ChatEventFilter) query() (url.Values, error) {
	if err := checkPage(f.Page, f.Limit, MaxEventsLimit); err != nil {
		return nil, within("ChatEventFilter", err)
	}
	types := f.Types
	if len(types) == 0 {
		types = []ChatEventType{EventIncomingChat, EventOutgoingChat}
	}
	q := url.Values{}
	for i, t := range types {
		switch t {
		case EventIncomingChat, EventOutgoingChat, EventDirectMessage:
		default:
			return nil, invalid(fmt.Sprintf("ChatEventFilter.Types[%d]", i), fmt.Sprintf("%q is not a chat event type", t))
		}
		if !slices.Contains(q["filter[type][]"], string(t)) {
			q.Add("filter[type][]", string(t))
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, invalid("ChatEventFilter.Until", "before Since")
	}
	if !f.Since.IsZero() {
		q.Set("filter[created_at][from]", strconv.FormatInt(f.Since.Unix(), 10))
	}
	if !f.Until.IsZero() {
		q.Set("filter[created_at][to]", strconv.FormatInt(f.Until.Unix(), 10))
	}
	if err := addIDs(q, "filter[entity_id][]", "ChatEventFilter.ContactIDs", f.ContactIDs); err != nil {
		return nil, err
	}
	if len(f.ContactIDs) > 0 || slices.Contains(types, EventIncomingChat) || slices.Contains(types, EventOutgoingChat) {
		q.Set("filter[entity][]", "contact")
	}
	if err := addIDs(q, "filter[created_by][]", "ChatEventFilter.CreatedBy", f.CreatedBy); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = MaxEventsLimit
	}
	q.Set("page", strconv.Itoa(max(f.Page, 1)))
	q.Set("limit", strconv.Itoa(limit))
	return q, nil
}

// addIDs adds at most MaxEventFilterIDs positive ids under key.
func addIDs(q url.Values, key, field string, ids []int64) error {
	if len(ids) > MaxEventFilterIDs {
		return invalid(field, fmt.Sprintf("%d ids, more than %d", len(ids), MaxEventFilterIDs))
	}
	for i, id := range ids {
		if id <= 0 {
			return invalid(fmt.Sprintf("%s[%d]", field, i), "must be positive")
		}
		q.Add(key, strconv.FormatInt(id, 10))
	}
	return nil
}

// eventBody is the wire shape of an event.
type eventBody struct {
	ID                  flexString      `json:"id"`
	Type                string          `json:"type"`
	EntityID            int64           `json:"entity_id"`
	EntityType          string          `json:"entity_type"`
	LinkedTalkContactID int64           `json:"linked_talk_contact_id"`
	CreatedBy           int64           `json:"created_by"`
	CreatedAt           int64           `json:"created_at"`
	ValueAfter          json.RawMessage `json:"value_after"`
	AccountID           int64           `json:"account_id"`
	Embedded            struct {
		Entity struct {
			ID int64 `json:"id"`
		} `json:"entity"`
	} `json:"_embedded"`
}

// messageID reads value_after[…].message.id; other shapes give "".
func (b *eventBody) messageID() string {
	var items []struct {
		Message struct {
			ID flexString `json:"id"`
		} `json:"message"`
	}
	raw := bytes.TrimSpace(b.ValueAfter)
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return ""
	}
	for _, it := range items {
		if it.Message.ID != "" {
			return string(it.Message.ID)
		}
	}
	return ""
}

func (b *eventBody) event() ChatEvent {
	e := ChatEvent{
		ID:                  string(b.ID),
		Type:                ChatEventType(b.Type),
		MessageID:           b.messageID(),
		EntityID:            b.EntityID,
		EntityType:          b.EntityType,
		LinkedTalkContactID: b.LinkedTalkContactID,
		CreatedBy:           b.CreatedBy,
		CreatedAt:           unixTime(b.CreatedAt, 0),
		AccountID:           b.AccountID,
	}
	if e.EntityID == 0 {
		e.EntityID = b.Embedded.Entity.ID
	}
	// amoCRM files chat events under the talk's lead or customer when one
	// is linked, with the contact beside it; a contact event (also what a
	// deleted lead leaves) names the contact itself.
	if e.EntityType == "contact" {
		e.ContactID = e.EntityID
	} else {
		e.ContactID = e.LinkedTalkContactID
	}
	return e
}

const eventsPath = "/api/v4/events"

// ChatEvents returns one page of chat events. Nothing found gives an empty
// page and no error (amoCRM answers 204).
func (c *CRMClient) ChatEvents(ctx context.Context, f ChatEventFilter) (*ChatEventPage, error) {
	q, err := f.query()
	if err != nil {
		return nil, err
	}
	bodies, next, err := getPage[eventBody](ctx, c, eventsPath, q, "events")
	if err != nil {
		return nil, err
	}
	out := &ChatEventPage{Events: make([]ChatEvent, len(bodies)), Page: max(f.Page, 1), Next: next}
	for i := range bodies {
		out.Events[i] = bodies[i].event()
	}
	return out, nil
}

// AllChatEvents iterates over the chat events f selects, from f.Page on,
// asking for the next page only when the previous one is used up, until a
// page has no next link or amoCRM answers 204. It yields an error at most
// once, as the last element. amoCRM documents no order: use a time window
// and remember what was handled.
//
// # Catching up after downtime
//
// amojo sends each webhook once and never again, so a manager's message that
// arrived while the integration was down (or whose webhook failed) reaches
// the messenger only if the integration looks for it. The event log is the
// documented way. Keep a watermark T per account and, every few minutes:
//
//  1. Read the window [T − overlap, now − lag] (say 10 minutes and 1 minute):
//     AllChatEvents with Types EventOutgoingChat and Since/Until set.
//  2. Skip events whose MessageID was handled already (a store keyed by the
//     amojo message id, which the webhook handler fills too).
//  3. List the chats of event.ContactID with ChatLinks (ContactIDs); only
//     the chats of the integration's own channels come back, and an event
//     with no chat there belongs to another channel: skip it.
//  4. Walk each chat's history with Client.AllHistory and look for the
//     message whose Message.ID is event.MessageID. A message that carries
//     your own msgid (Message.ClientID) was sent by the integration itself
//     and needs no delivery.
//  5. Deliver what was found as if its webhook had come, report its
//     delivery status, and advance T to the largest CreatedAt handled.
//
// Every chat costs a links call and a history call against the account's 7
// requests per second; the CRMClient's limiter spreads them out. The
// example of AllChatEvents runs this loop against amojotest.
func (c *CRMClient) AllChatEvents(ctx context.Context, f ChatEventFilter) iter.Seq2[ChatEvent, error] {
	if _, err := f.query(); err != nil {
		return errSeq[ChatEvent](err)
	}
	o := f
	o.Types = append([]ChatEventType(nil), f.Types...)
	o.ContactIDs = append([]int64(nil), f.ContactIDs...)
	o.CreatedBy = append([]int64(nil), f.CreatedBy...)
	return walkPages("GET "+c.fullPath(eventsPath), o.Page, func(page int) ([]ChatEvent, bool, error) {
		o.Page = page
		p, err := c.ChatEvents(ctx, o)
		if err != nil {
			return nil, false, err
		}
		return p.Events, p.Next, nil
	}, func(e ChatEvent) string { return e.ID })
}
