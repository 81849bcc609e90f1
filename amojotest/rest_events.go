package amojotest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxEventsLimit is the largest page of GET /api/v4/events.
const MaxEventsLimit = 100

// eventFilter is the parsed query of GET /api/v4/events.
type eventFilter struct {
	types, ids, entities []string
	entityIDs, createdBy []int
	after, from, to      int64
	hasAfter             bool
	hasFrom, hasTo       bool
}

func intList(q url.Values, key string) ([]int, error) {
	var out []int
	for _, v := range filterValues(q, key) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("filter[%s] must hold integers", key)
		}
		out = append(out, n)
	}
	if len(out) > 10 {
		return nil, fmt.Errorf("filter[%s] takes at most 10 values", key)
	}
	return out, nil
}

func parseEventFilter(q url.Values) (eventFilter, error) {
	f := eventFilter{types: filterValues(q, "type"), ids: filterValues(q, "id"), entities: filterValues(q, "entity")}
	for _, e := range f.entities {
		switch {
		case e == "lead", e == "contact", e == "company", e == "customer", e == "task", strings.HasPrefix(e, "catalog_"):
		default:
			return f, fmt.Errorf("filter[entity]: unknown entity %q", e)
		}
	}
	var err error
	if f.entityIDs, err = intList(q, "entity_id"); err != nil {
		return f, err
	}
	if len(f.entityIDs) > 0 && len(f.entities) != 1 {
		return f, fmt.Errorf("filter[entity_id] needs exactly one filter[entity]")
	}
	if f.createdBy, err = intList(q, "created_by"); err != nil {
		return f, err
	}
	unix := func(key string) (int64, bool, error) {
		v := q.Get(key)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s must be a unix time", key)
		}
		return n, true, nil
	}
	if f.after, f.hasAfter, err = unix("filter[created_at]"); err != nil {
		return f, err
	}
	if f.from, f.hasFrom, err = unix("filter[created_at][from]"); err != nil {
		return f, err
	}
	if f.to, f.hasTo, err = unix("filter[created_at][to]"); err != nil {
		return f, err
	}
	return f, nil
}

// match applies the filter to a chat event. filter[entity]=contact matches
// every chat event, also those filed under a lead: amoCRM's documented quirk.
func (f eventFilter) match(e Event) bool {
	at := e.CreatedAt.Unix()
	switch {
	case len(f.types) > 0 && !slices.Contains(f.types, e.Type),
		len(f.ids) > 0 && !slices.Contains(f.ids, e.ID),
		len(f.createdBy) > 0 && !slices.Contains(f.createdBy, e.CreatedBy),
		f.hasAfter && at <= f.after,
		f.hasFrom && at < f.from,
		f.hasTo && at > f.to:
		return false
	}
	contact := slices.Contains(f.entities, "contact")
	lead := slices.Contains(f.entities, "lead") && e.LeadID != 0
	if len(f.entities) > 0 && !contact && !lead {
		return false
	}
	if len(f.entityIDs) > 0 {
		id := e.ContactID
		if f.entities[0] == "lead" {
			id = e.LeadID
		}
		return slices.Contains(f.entityIDs, id)
	}
	return true
}

func eventJSON(base string, acc *account, e Event) map[string]any {
	entityType, entityID := "contact", e.ContactID
	m := map[string]any{}
	if e.LeadID != 0 {
		entityType, entityID = "lead", e.LeadID
		m["linked_talk_contact_id"] = e.ContactID
	}
	m["id"], m["type"], m["entity_id"], m["entity_type"] = e.ID, e.Type, entityID, entityType
	m["created_by"], m["created_at"], m["account_id"] = e.CreatedBy, e.CreatedAt.Unix(), acc.ID
	m["value_before"] = []any{}
	m["value_after"] = []any{map[string]any{"message": map[string]any{"id": e.MessageID}}}
	m["_links"] = map[string]any{"self": link(base + "/api/v4/events/" + e.ID)}
	m["_embedded"] = map[string]any{"entity": map[string]any{"id": entityID}}
	return m
}

// handleEvents lists the account's chat events, newest first.
func (s *Server) handleEvents(r *http.Request, base string, acc *account, _ []byte) restResult {
	f, err := parseEventFilter(r.URL.Query())
	if err != nil {
		return problem(http.StatusBadRequest, "%s", err.Error())
	}
	var found []Event
	for i := len(acc.crm.events) - 1; i >= 0; i-- {
		if e := acc.crm.events[i].snapshot(acc); f.match(e) {
			found = append(found, e)
		}
	}
	slices.SortStableFunc(found, func(a, b Event) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return pagedAnswer(r, base, "/api/v4/events", "events", MaxEventsLimit, found, func(e Event) map[string]any { return eventJSON(base, acc, e) })
}

// handleEvent answers one event by id.
func (s *Server) handleEvent(r *http.Request, base string, acc *account, _ []byte) restResult {
	id := r.PathValue("id")
	for _, e := range acc.crm.events {
		if e.ID == id {
			return restResult{status: http.StatusOK, body: eventJSON(base, acc, e.snapshot(acc))}
		}
	}
	return problem(http.StatusNotFound, "event not found")
}

// Event is an event of the account's event log; the fake records chat
// messages: EventIncomingChatMessage when a client's message arrives on
// amojo, EventOutgoingChatMessage when a CRM user or the bot writes one
// (ManagerReply, or an outgoing new_message). MessageID is the amojo message
// id. ContactID is the contact the chat was linked to when the message came,
// or, for a chat linked only later, the one it is linked to now; 0 while it
// has none. LeadID is set when the chat's talk was linked to a lead
// (LinkTalkToLead): the event is then filed under the lead.
type Event struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Type      string    `json:"type"`
	MessageID string    `json:"message_id"`
	ChatID    string    `json:"chat_id"`
	ContactID int       `json:"contact_id"`
	LeadID    int       `json:"lead_id,omitempty"`
	CreatedBy int       `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// The chat event types the fake records.
const (
	EventIncomingChatMessage = "incoming_chat_message"
	EventOutgoingChatMessage = "outgoing_chat_message"
)

type event struct {
	Event
	chat *chat
	seq  int
}

func (e *event) snapshot(acc *account) Event {
	out := e.Event
	if out.ContactID == 0 {
		out.ContactID = acc.contactOf(e.chat)
	}
	return out
}

// recordMessage notes a message stored in a chat: it opens the chat's talk
// if none is open and records the chat event. Called with s.mu held.
func (s *Server) recordMessage(m *message) {
	ch := m.chat
	acc := ch.scope.acc
	t := s.openTalk(ch)
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	typ, by := EventIncomingChatMessage, 0
	if m.receiver != nil {
		typ = EventOutgoingChatMessage
		for _, u := range acc.Users {
			if u.AmojoID == m.sender.ID {
				by = u.ID
			}
		}
	}
	st := &acc.crm
	st.nextEvent++
	st.events = append(st.events, &event{chat: ch, seq: st.nextEvent, Event: Event{
		ID:        fmt.Sprintf("01amojotest%014d", st.nextEvent),
		AccountID: acc.AmojoID, Type: typ, MessageID: m.ID, ChatID: ch.id,
		ContactID: acc.contactOf(ch), LeadID: t.LeadID, CreatedBy: by,
		CreatedAt: s.now().UTC().Truncate(time.Second),
	}})
}

// Events returns the chat events of every account, oldest first.
func (s *Server) Events() []Event {
	return collect(s, func(acc *account) []Event {
		return snapshots(acc.crm.events, func(e *event) Event { return e.snapshot(acc) })
	})
}
