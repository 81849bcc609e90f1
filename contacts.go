package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// restBatchSize is the most entities amoCRM accepts in one REST v4 request.
const restBatchSize = 250

// linkFilterChunk bounds the ids of one GET /api/v4/contacts/chats, keeping
// its URL short.
const linkFilterChunk = 50

// PhoneEnum is the kind of a contact's phone number (the PHONE field's enum_code).
type PhoneEnum string

// The phone kinds amoCRM knows.
const (
	PhoneWork   PhoneEnum = "WORK"   // work
	PhoneWorkDD PhoneEnum = "WORKDD" // direct work line
	PhoneMobile PhoneEnum = "MOB"    // mobile
	PhoneFax    PhoneEnum = "FAX"    // fax
	PhoneHome   PhoneEnum = "HOME"   // home
	PhoneOther  PhoneEnum = "OTHER"  // other
)

// EmailEnum is the kind of a contact's e-mail address (the EMAIL field's enum_code).
type EmailEnum string

// The e-mail kinds amoCRM knows.
const (
	EmailWork    EmailEnum = "WORK"  // work
	EmailPrivate EmailEnum = "PRIV"  // private
	EmailOther   EmailEnum = "OTHER" // other
)

func (e PhoneEnum) valid() bool {
	switch e {
	case PhoneWork, PhoneWorkDD, PhoneMobile, PhoneFax, PhoneHome, PhoneOther:
		return true
	}
	return false
}

func (e EmailEnum) valid() bool {
	switch e {
	case EmailWork, EmailPrivate, EmailOther:
		return true
	}
	return false
}

// ContactPhone is a phone number of a new contact. An empty Enum means PhoneWork.
type ContactPhone struct {
	Value string
	Enum  PhoneEnum
}

// ContactEmail is an e-mail address of a new contact. An empty Enum means EmailWork.
type ContactEmail struct {
	Value string
	Enum  EmailEnum
}

// NewContact is a contact to create with CreateContacts. No field is required
// by amoCRM. Phones and Emails are written as values of the account's PHONE
// and EMAIL fields. RequestID, when set, must be unique within the call; it is
// echoed in validation errors (see APIError.ValidationErrors). When empty, the
// contact's index in the call's input is sent instead.
type NewContact struct {
	Name              string
	FirstName         string
	LastName          string
	Phones            []ContactPhone
	Emails            []ContactEmail
	ResponsibleUserID int64 // 0: amoCRM picks (the token's user)
	Tags              []string
	RequestID         string
}

// contactBody is the wire shape of one contact of POST /api/v4/contacts.
type contactBody struct {
	Name              string        `json:"name,omitempty"`
	FirstName         string        `json:"first_name,omitempty"`
	LastName          string        `json:"last_name,omitempty"`
	ResponsibleUserID int64         `json:"responsible_user_id,omitempty"`
	CustomFields      []customField `json:"custom_fields_values,omitempty"`
	Embedded          *contactEmbed `json:"_embedded,omitempty"`
	RequestID         string        `json:"request_id"`
}

type customField struct {
	FieldCode string             `json:"field_code"`
	Values    []customFieldValue `json:"values"`
}

type customFieldValue struct {
	Value    string `json:"value"`
	EnumCode string `json:"enum_code"`
}

type contactEmbed struct {
	Tags []tagName `json:"tags"`
}

type tagName struct {
	Name string `json:"name"`
}

// checkText reports an empty (after trimming) value or one with a line break.
func checkText(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "empty")
	}
	if strings.ContainsAny(v, "\r\n") {
		return invalid(field, "contains a line break")
	}
	return nil
}

// body validates c (the i-th contact of the input) and returns its wire form.
func (c *NewContact) body(i int, requestID string) (contactBody, error) {
	f := func(s string) string { return fmt.Sprintf("contacts[%d].%s", i, s) }
	b := contactBody{
		Name:              c.Name,
		FirstName:         c.FirstName,
		LastName:          c.LastName,
		ResponsibleUserID: c.ResponsibleUserID,
		RequestID:         requestID,
	}
	if c.ResponsibleUserID < 0 {
		return b, invalid(f("ResponsibleUserID"), "negative")
	}
	if len(c.Phones) > 0 {
		cf := customField{FieldCode: "PHONE"}
		for j, p := range c.Phones {
			if err := checkText(f(fmt.Sprintf("Phones[%d].Value", j)), p.Value); err != nil {
				return b, err
			}
			e := p.Enum
			if e == "" {
				e = PhoneWork
			}
			if !e.valid() {
				return b, invalid(f(fmt.Sprintf("Phones[%d].Enum", j)), fmt.Sprintf("unknown phone kind %q (want WORK, WORKDD, MOB, FAX, HOME or OTHER)", p.Enum))
			}
			cf.Values = append(cf.Values, customFieldValue{Value: p.Value, EnumCode: string(e)})
		}
		b.CustomFields = append(b.CustomFields, cf)
	}
	if len(c.Emails) > 0 {
		cf := customField{FieldCode: "EMAIL"}
		for j, m := range c.Emails {
			if err := checkText(f(fmt.Sprintf("Emails[%d].Value", j)), m.Value); err != nil {
				return b, err
			}
			e := m.Enum
			if e == "" {
				e = EmailWork
			}
			if !e.valid() {
				return b, invalid(f(fmt.Sprintf("Emails[%d].Enum", j)), fmt.Sprintf("unknown e-mail kind %q (want WORK, PRIV or OTHER)", m.Enum))
			}
			cf.Values = append(cf.Values, customFieldValue{Value: m.Value, EnumCode: string(e)})
		}
		b.CustomFields = append(b.CustomFields, cf)
	}
	if len(c.Tags) > 0 {
		b.Embedded = &contactEmbed{}
		for j, t := range c.Tags {
			if err := checkText(f(fmt.Sprintf("Tags[%d]", j)), t); err != nil {
				return b, err
			}
			b.Embedded.Tags = append(b.Embedded.Tags, tagName{Name: t})
		}
	}
	return b, nil
}

// requestIDs returns the request_id of each item: its own when set, else its
// index in the input. It reports a duplicate as a *ValidationError.
func requestIDs(field string, n int, own func(int) string) ([]string, error) {
	ids := make([]string, n)
	seen := make(map[string]int, n)
	for i := range n {
		id := own(i)
		if id == "" {
			id = strconv.Itoa(i)
		} else if strings.ContainsAny(id, "\r\n") {
			return nil, invalid(fmt.Sprintf("%s[%d].RequestID", field, i), "contains a line break")
		}
		if j, dup := seen[id]; dup {
			return nil, invalid(fmt.Sprintf("%s[%d].RequestID", field, i), fmt.Sprintf("%q is also the request id of %s[%d] (an unset RequestID stands for the index)", id, field, j))
		}
		seen[id] = i
		ids[i] = id
	}
	return ids, nil
}

// BatchError reports a batched REST v4 call that failed part way. Input items
// [0, Done) were processed by earlier requests (their results are returned
// beside the error); the request for items [Start, End) failed with Err and
// the items after it were not sent. Failed lists the input indexes the
// server's validation errors name, when it named any. errors.As and errors.Is
// see through to Err (an *APIError, ErrUnauthorized, …).
type BatchError struct {
	Op     string // "create contacts" or "link chats"
	Done   int
	Start  int
	End    int
	Failed []int
	Err    error
}

// Error names the failed and the completed items, then the cause.
func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amojo: %s: items %d-%d failed", e.Op, e.Start, e.End-1)
	if len(e.Failed) > 0 {
		b.WriteString(" (rejected: ")
		for i, n := range e.Failed {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteByte(')')
	}
	if e.Done > 0 {
		fmt.Fprintf(&b, ", items 0-%d done", e.Done-1)
	} else {
		b.WriteString(", none done")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "amojo: "))
	}
	return b.String()
}

// Unwrap returns the error of the failed request.
func (e *BatchError) Unwrap() error { return e.Err }

// newBatchError builds the error of the chunk [start, end) whose request ids
// are ids[start:end].
func newBatchError(op string, start, end int, ids []string, err error) *BatchError {
	be := &BatchError{Op: op, Done: start, Start: start, End: end, Err: err}
	var ae *APIError
	if errors.As(err, &ae) {
		index := make(map[string]int, end-start)
		for i := start; i < end; i++ {
			index[ids[i]] = i
		}
		for _, item := range ae.ValidationErrors {
			if i, ok := index[item.RequestID]; ok && !containsInt(be.Failed, i) {
				be.Failed = append(be.Failed, i)
			}
		}
	}
	return be
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// unbatch turns the BatchError of a one-item call back into its cause.
func unbatch(err error) error {
	if be, ok := err.(*BatchError); ok && be.Err != nil {
		return be.Err
	}
	return err
}

// flexString decodes a JSON string or number as text (request_id comes back
// as a string, but a number must not break decoding).
type flexString string

func (s *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if bytes.Equal(data, []byte("null")) {
		*s = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return err
	}
	*s = flexString(n.String())
	return nil
}

// halContacts is the answer of POST /api/v4/contacts.
type halContacts struct {
	Embedded struct {
		Contacts []struct {
			ID        int64      `json:"id"`
			RequestID flexString `json:"request_id"`
		} `json:"contacts"`
	} `json:"_embedded"`
}

// halChats is the answer of POST and GET /api/v4/contacts/chats.
type halChats struct {
	Embedded struct {
		Chats []chatLinkBody `json:"chats"`
	} `json:"_embedded"`
}

type chatLinkBody struct {
	ChatID    string     `json:"chat_id"`
	ContactID int64      `json:"contact_id"`
	ID        int64      `json:"id,omitempty"`
	RequestID flexString `json:"request_id,omitempty"`
}

// matchByRequestID returns, for each request id in ids, the position of the
// answer item that carries it. An answer that echoes no request ids at all but
// has one item per request is matched in order.
func matchByRequestID(ids []string, answered []string) ([]int, error) {
	pos := make([]int, len(ids))
	allEmpty := true
	for _, a := range answered {
		if a != "" {
			allEmpty = false
			break
		}
	}
	if allEmpty && len(answered) == len(ids) {
		for i := range pos {
			pos[i] = i
		}
		return pos, nil
	}
	at := make(map[string]int, len(answered))
	for j, a := range answered {
		if _, dup := at[a]; !dup {
			at[a] = j
		}
	}
	for i, id := range ids {
		j, ok := at[id]
		if !ok {
			return nil, fmt.Errorf("answer has no item with request_id %q", id)
		}
		pos[i] = j
	}
	return pos, nil
}

// CreateContactsOption configures one call of CreateContacts.
type CreateContactsOption func(*createContactsCall) error

type createContactsCall struct {
	beforeSend func(ctx context.Context, a ContactsAttempt) error
}

// ContactsAttempt is an attempt of a CreateContacts request about to be
// sent, as BeforeSendContacts reports it. The request carries the input's
// contacts [Start, End). Attempt is 1, then 2 and on when a 429 made it try
// again. Time is the client's clock (WithClock) as it leaves.
type ContactsAttempt struct {
	Start, End int
	Attempt    int
	Time       time.Time
}

// BeforeSendContacts makes CreateContacts (and CreateContact) call fn right
// before each attempt of each of its requests is sent: after the wait for the
// rate limit and any back-off, with the request built and authorized, so only
// the network lies between fn and amoCRM. A caller that must know which
// contacts amoCRM may have created (their answer can be lost) records that
// there, no earlier. When fn returns an error, that attempt is not sent and
// CreateContacts stops as after a failed request, with a *BatchError
// wrapping the error. fn is called on the goroutine of CreateContacts.
func BeforeSendContacts(fn func(ctx context.Context, a ContactsAttempt) error) CreateContactsOption {
	return func(c *createContactsCall) error {
		if fn == nil {
			return invalid("BeforeSendContacts", "nil func")
		}
		c.beforeSend = fn
		return nil
	}
}

// CreateContacts creates contacts and returns their ids in input order. More
// than 250 contacts are sent in several requests of up to 250, one after the
// other. Input is validated as a whole before anything is sent (unknown phone
// or e-mail kinds, empty values, duplicate request ids) and a problem is a
// *ValidationError naming the item, such as "contacts[3].Phones[0].Enum".
// Options (BeforeSendContacts) are checked first too.
//
// When a request fails, CreateContacts stops and returns the ids of the
// contacts created by the earlier requests (a prefix of the input) with a
// *BatchError: it names the input indexes of the failed request and those the
// server rejected, and wraps the *APIError whose ValidationErrors say why.
//
// Creating a contact is not idempotent: when an answer is lost (a network
// error, 502, 503 or 504), amoCRM may have created the contacts anyway, so
// those requests are not retried; only a 429 is. Check with ChatLinks or
// FindContacts (from the time BeforeSendContacts saw) before trying again.
func (c *CRMClient) CreateContacts(ctx context.Context, contacts []NewContact, opts ...CreateContactsOption) ([]int64, error) {
	const path = "/api/v4/contacts"
	var call createContactsCall
	for i, o := range opts {
		if o == nil {
			return nil, invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		if err := o(&call); err != nil {
			return nil, err
		}
	}
	if len(contacts) == 0 {
		return nil, invalid("contacts", "empty")
	}
	ids, err := requestIDs("contacts", len(contacts), func(i int) string { return contacts[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]contactBody, len(contacts))
	for i := range contacts {
		if bodies[i], err = contacts[i].body(i, ids[i]); err != nil {
			return nil, err
		}
	}
	out := make([]int64, 0, len(contacts))
	for start := 0; start < len(bodies); start += restBatchSize {
		end := min(start+restBatchSize, len(bodies))
		var ans halContacts
		// Not retried after a lost answer: amoCRM may have created the
		// contacts, and a repeat would create them again.
		req := request{method: http.MethodPost, path: path, in: bodies[start:end], out: &ans, notIdempotent: true}
		if call.beforeSend != nil {
			attempt := 0
			req.beforeSend = func(ctx context.Context, now time.Time) error {
				attempt++
				return call.beforeSend(ctx, ContactsAttempt{Start: start, End: end, Attempt: attempt, Time: now})
			}
		}
		status, err := c.r.do(ctx, req)
		if err == nil {
			answered := make([]string, len(ans.Embedded.Contacts))
			for j, a := range ans.Embedded.Contacts {
				answered[j] = string(a.RequestID)
			}
			var pos []int
			if pos, err = matchByRequestID(ids[start:end], answered); err == nil {
				for _, j := range pos {
					out = append(out, ans.Embedded.Contacts[j].ID)
				}
				continue
			}
			err = &DecodeError{Method: http.MethodPost, Path: c.r.o.baseURL.EscapedPath() + path, StatusCode: status, Err: err}
		}
		return out, newBatchError("create contacts", start, end, ids, err)
	}
	return out, nil
}

// CreateContact creates one contact and returns its id. Errors are those of
// CreateContacts, except that a failed request gives its own error (usually an
// *APIError) rather than a *BatchError.
func (c *CRMClient) CreateContact(ctx context.Context, contact NewContact, opts ...CreateContactsOption) (int64, error) {
	ids, err := c.CreateContacts(ctx, []NewContact{contact}, opts...)
	if err != nil {
		return 0, unbatch(err)
	}
	return ids[0], nil
}

// ChatLink links a chat of the chats API to a contact. ChatID is the amojo
// chat id (the id Client.CreateChat returns, also message.conversation.id in
// webhooks). ID is the link's id, set by amoCRM; RequestID is echoed in
// validation errors (the index in the input when empty). A chat links to at
// most one contact; a contact may have many chats.
type ChatLink struct {
	ChatID    string
	ContactID int64
	ID        int64
	RequestID string
}

// LinkChats links chats to contacts (re-linking a chat moves it) and returns
// the links in input order with ID set. More than 250 links are sent in
// several requests. The token's user must be an account admin and the chats
// must belong to the integration's own channel. Partial failure is reported
// as by CreateContacts: the links made so far and a *BatchError.
func (c *CRMClient) LinkChats(ctx context.Context, links []ChatLink) ([]ChatLink, error) {
	const path = "/api/v4/contacts/chats"
	if len(links) == 0 {
		return nil, invalid("links", "empty")
	}
	for i, l := range links {
		if err := checkID(fmt.Sprintf("links[%d].ChatID", i), l.ChatID); err != nil {
			return nil, err
		}
		if l.ContactID <= 0 {
			return nil, invalid(fmt.Sprintf("links[%d].ContactID", i), "must be positive")
		}
	}
	ids, err := requestIDs("links", len(links), func(i int) string { return links[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]chatLinkBody, len(links))
	for i, l := range links {
		bodies[i] = chatLinkBody{ChatID: l.ChatID, ContactID: l.ContactID, RequestID: flexString(ids[i])}
	}
	out := make([]ChatLink, 0, len(links))
	for start := 0; start < len(bodies); start += restBatchSize {
		end := min(start+restBatchSize, len(bodies))
		var ans halChats
		status, err := c.r.do(ctx, request{method: http.MethodPost, path: path, in: bodies[start:end], out: &ans})
		if err == nil {
			answered := make([]string, len(ans.Embedded.Chats))
			for j, a := range ans.Embedded.Chats {
				answered[j] = string(a.RequestID)
			}
			var pos []int
			if pos, err = matchByRequestID(ids[start:end], answered); err == nil {
				for k, j := range pos {
					a := ans.Embedded.Chats[j]
					l := links[start+k]
					l.ID = a.ID
					l.RequestID = ids[start+k]
					if a.ContactID > 0 {
						l.ContactID = a.ContactID
					}
					out = append(out, l)
				}
				continue
			}
			err = &DecodeError{Method: http.MethodPost, Path: c.r.o.baseURL.EscapedPath() + path, StatusCode: status, Err: err}
		}
		return out, newBatchError("link chats", start, end, ids, err)
	}
	return out, nil
}

// LinkChat links the chat chatID to the contact contactID and returns the link.
// Errors are those of LinkChats, except that a failed request gives its own
// error (usually an *APIError) rather than a *BatchError.
func (c *CRMClient) LinkChat(ctx context.Context, chatID string, contactID int64) (*ChatLink, error) {
	if err := checkID("chatID", chatID); err != nil {
		return nil, err
	}
	if contactID <= 0 {
		return nil, invalid("contactID", "must be positive")
	}
	links, err := c.LinkChats(ctx, []ChatLink{{ChatID: chatID, ContactID: contactID}})
	if err != nil {
		return nil, unbatch(err)
	}
	return &links[0], nil
}

// ChatLinkFilter selects chat↔contact links by chat ids and/or contact ids;
// at least one id is needed.
type ChatLinkFilter struct {
	ChatIDs    []string
	ContactIDs []int64
}

// ChatLinks lists the links of the chats and contacts of f (GET
// /api/v4/contacts/chats with chat_id[] and contact_id[]). For a chat of an
// unsorted (incoming) lead, amoCRM reports the lead's contact. Nothing found
// gives an empty slice and no error. Many ids are split into several requests
// of at most 50 ids, whose answers are merged without duplicates; when both
// chat and contact ids are given, every chunk of one is asked with every chunk
// of the other, which keeps whatever way the server combines the two filters.
func (c *CRMClient) ChatLinks(ctx context.Context, f ChatLinkFilter) ([]ChatLink, error) {
	if len(f.ChatIDs) == 0 && len(f.ContactIDs) == 0 {
		return nil, invalid("ChatLinkFilter", "no chat ids and no contact ids")
	}
	var chats []string
	seenChat := map[string]bool{}
	for i, id := range f.ChatIDs {
		if err := checkID(fmt.Sprintf("ChatLinkFilter.ChatIDs[%d]", i), id); err != nil {
			return nil, err
		}
		if !seenChat[id] {
			seenChat[id] = true
			chats = append(chats, id)
		}
	}
	var contacts []string
	seenContact := map[int64]bool{}
	for i, id := range f.ContactIDs {
		if id <= 0 {
			return nil, invalid(fmt.Sprintf("ChatLinkFilter.ContactIDs[%d]", i), "must be positive")
		}
		if !seenContact[id] {
			seenContact[id] = true
			contacts = append(contacts, strconv.FormatInt(id, 10))
		}
	}
	chatChunks, contactChunks := [][]string{chats}, [][]string{contacts}
	if len(chats)+len(contacts) > linkFilterChunk {
		size := linkFilterChunk
		if len(chats) > 0 && len(contacts) > 0 {
			size = linkFilterChunk / 2
		}
		chatChunks, contactChunks = chunkStrings(chats, size), chunkStrings(contacts, size)
	}
	var out []ChatLink
	seen := map[ChatLink]bool{}
	for _, cc := range chatChunks {
		for _, kc := range contactChunks {
			q := url.Values{}
			if len(cc) > 0 {
				q["chat_id[]"] = cc
			}
			if len(kc) > 0 {
				q["contact_id[]"] = kc
			}
			var ans halChats
			if _, err := c.r.do(ctx, request{method: http.MethodGet, path: "/api/v4/contacts/chats", query: q, out: &ans}); err != nil {
				return nil, err
			}
			for _, a := range ans.Embedded.Chats {
				l := ChatLink{ChatID: a.ChatID, ContactID: a.ContactID, ID: a.ID}
				if !seen[l] {
					seen[l] = true
					out = append(out, l)
				}
			}
		}
	}
	if out == nil {
		out = []ChatLink{}
	}
	return out, nil
}

// chunkStrings splits s into pieces of at most size; an empty s gives one
// empty piece.
func chunkStrings(s []string, size int) [][]string {
	if len(s) == 0 {
		return [][]string{nil}
	}
	var out [][]string
	for len(s) > size {
		out = append(out, s[:size])
		s = s[size:]
	}
	return append(out, s)
}

// contactsPageLimit is the page size asked of GET /api/v4/contacts (the
// API's maximum).
const contactsPageLimit = 250

// ContactQuery selects the contacts FindContacts lists. Query is searched
// for in the contacts' filled fields (names, phones, e-mails and the rest),
// as amoCRM's search box does; empty selects every contact. CreatedFrom,
// when set, keeps the contacts created at or after it (amoCRM counts whole
// seconds).
type ContactQuery struct {
	Query       string
	CreatedFrom time.Time
}

// Contact is an amoCRM contact as FindContacts reports it: its names, the
// values of its PHONE and EMAIL fields, and when it was created.
type Contact struct {
	ID                int64
	Name              string
	FirstName         string
	LastName          string
	ResponsibleUserID int64
	Phones            []ContactPhone
	Emails            []ContactEmail
	CreatedAt         time.Time
}

// contactItem is one contact of GET /api/v4/contacts.
type contactItem struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	ResponsibleUserID int64  `json:"responsible_user_id"`
	CreatedAt         int64  `json:"created_at"`
	CustomFields      []struct {
		FieldCode string `json:"field_code"`
		Values    []struct {
			Value    any    `json:"value"`
			EnumCode string `json:"enum_code"`
		} `json:"values"`
	} `json:"custom_fields_values"`
}

// halFoundContacts is one page of GET /api/v4/contacts.
type halFoundContacts struct {
	Links    halLinks `json:"_links"`
	Embedded struct {
		Contacts []contactItem `json:"contacts"`
	} `json:"_embedded"`
}

func (it contactItem) contact() Contact {
	c := Contact{ID: it.ID, Name: it.Name, FirstName: it.FirstName, LastName: it.LastName, ResponsibleUserID: it.ResponsibleUserID}
	if it.CreatedAt > 0 {
		c.CreatedAt = time.Unix(it.CreatedAt, 0).UTC()
	}
	for _, f := range it.CustomFields {
		for _, v := range f.Values {
			s, ok := v.Value.(string)
			if !ok {
				continue
			}
			switch f.FieldCode {
			case "PHONE":
				c.Phones = append(c.Phones, ContactPhone{Value: s, Enum: PhoneEnum(v.EnumCode)})
			case "EMAIL":
				c.Emails = append(c.Emails, ContactEmail{Value: s, Enum: EmailEnum(v.EnumCode)})
			}
		}
	}
	return c
}

// FindContacts iterates over the contacts q selects (GET /api/v4/contacts
// with query and filter[created_at][from]), walking the pages of 250 and
// asking for the next one only when the previous one is used up. Nothing
// found (204) yields nothing. It yields an error at most once, as the last
// element; a server that answers the same page twice gives an error rather
// than an endless walk.
func (c *CRMClient) FindContacts(ctx context.Context, q ContactQuery) iter.Seq2[Contact, error] {
	return func(yield func(Contact, error) bool) {
		if strings.ContainsAny(q.Query, "\r\n") {
			yield(Contact{}, invalid("ContactQuery.Query", "contains a line break"))
			return
		}
		if !q.CreatedFrom.IsZero() && q.CreatedFrom.Unix() < 0 {
			yield(Contact{}, invalid("ContactQuery.CreatedFrom", "before 1970"))
			return
		}
		fetch := func(page int) ([]Contact, bool, error) {
			items, more, err := c.contactsPage(ctx, q, page)
			found := make([]Contact, len(items))
			for i, it := range items {
				found[i] = it.contact()
			}
			return found, more, err
		}
		walkPages("GET "+c.fullPath("/api/v4/contacts"), 1, fetch, func(ct Contact) string { return strconv.FormatInt(ct.ID, 10) })(yield)
	}
}

// contactsPage fetches one page of FindContacts and reports whether another
// may follow.
func (c *CRMClient) contactsPage(ctx context.Context, q ContactQuery, page int) ([]contactItem, bool, error) {
	v := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(contactsPageLimit)}}
	if q.Query != "" {
		v.Set("query", q.Query)
	}
	if !q.CreatedFrom.IsZero() {
		v.Set("filter[created_at][from]", strconv.FormatInt(q.CreatedFrom.Unix(), 10))
	}
	var b halFoundContacts
	status, err := c.r.do(ctx, request{method: http.MethodGet, path: "/api/v4/contacts", query: v, out: &b})
	if err != nil {
		return nil, false, err
	}
	if status == http.StatusNoContent {
		return nil, false, nil
	}
	items := b.Embedded.Contacts
	return items, b.Links.hasNext() && len(items) > 0, nil
}
