package amojotest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// crmState is the part of an account that the sources, chat templates,
// talks and events calls work on. Its zero value is ready to use.
type crmState struct {
	sources      []*Source
	nextSource   int
	templates    []*ChatTemplate
	nextTemplate int
	nextReview   int
	talks        []*talk
	nextTalk     int
	events       []*event
	nextEvent    int
	// blocked: every REST call answers the HTML 403 block page.
	blocked bool
	// limited holds the times (rate clock) of recent 429 answers, for
	// WithRateLimitBlock.
	limited []time.Time
}

// Source is a source of the account's integration, created through REST v4
// (/api/v4/sources).
type Source struct {
	ID         int             `json:"id"`
	AccountID  string          `json:"account_id"` // amojo id of the account
	Name       string          `json:"name"`
	ExternalID string          `json:"external_id"`
	PipelineID int             `json:"pipeline_id"`
	Default    bool            `json:"default"`
	OriginCode string          `json:"origin_code,omitempty"`
	Services   []SourceService `json:"services,omitempty"`
}

// SourceService is a service of a Source (WhatsApp).
type SourceService struct {
	Type        string       `json:"type"`
	WABA        bool         `json:"waba"`
	ListMessage bool         `json:"is_supports_list_message"`
	Pages       []SourcePage `json:"pages,omitempty"`
}

// SourcePage is a choice of a site button.
type SourcePage struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Link string `json:"link"`
}

// ChatTemplate is a chat template created through REST v4
// (/api/v4/chats/templates), with its WhatsApp reviews.
type ChatTemplate struct {
	ID             int                 `json:"id"`
	AccountID      string              `json:"account_id"`
	Name           string              `json:"name"`
	Content        string              `json:"content"`
	Editable       bool                `json:"is_editable"`
	Type           string              `json:"type"`
	ExternalID     string              `json:"external_id,omitempty"`
	Buttons        []TemplateButton    `json:"buttons,omitempty"`
	Attachment     *TemplateAttachment `json:"attachment,omitempty"`
	WABACategory   string              `json:"waba_category,omitempty"`
	WABALanguage   string              `json:"waba_language,omitempty"`
	WABAHeader     string              `json:"waba_header,omitempty"`
	WABAHeaderType string              `json:"waba_header_type,omitempty"`
	WABAFooter     string              `json:"waba_footer,omitempty"`
	WABAExamples   map[string]string   `json:"waba_examples,omitempty"`
	CreatedAt      time.Time           `json:"created_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
	Reviews        []Review            `json:"reviews,omitempty"`
}

// TemplateButton is a button of a ChatTemplate.
type TemplateButton struct {
	Type string `json:"type"`
	Text string `json:"text"`
	URL  string `json:"url,omitempty"`
}

// TemplateAttachment is the file of a ChatTemplate.
type TemplateAttachment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	IsExternal bool   `json:"is_external"`
}

// Review is the review of a WhatsApp template for one WABA source.
type Review struct {
	ID           int    `json:"id"`
	SourceID     int    `json:"source_id"`
	Status       string `json:"status"`
	RejectReason string `json:"reject_reason"`
}

// Talk is a conversation episode of a chat. The fake opens one when a chat
// without an open talk gets a message, either way.
type Talk struct {
	ID        int    `json:"talk_id"`
	AccountID string `json:"account_id"`
	ChatID    string `json:"chat_id"`
	ContactID int    `json:"contact_id"` // the chat's linked contact; 0 while it has none
	LeadID    int    `json:"lead_id,omitempty"`
	Origin    string `json:"origin"`
	InWork    bool   `json:"is_in_work"`
	// Closing: a close without force_close started the NPS bot, which
	// closes the talk when the client rates it (RateTalk).
	Closing   bool      `json:"closing,omitempty"`
	Rate      int       `json:"rate"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
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

type talk struct {
	Talk
	chat *chat
}

type event struct {
	Event
	chat *chat
	seq  int
}

// contactOf is the contact chat ch is linked to, 0 when none. Called with
// s.mu held.
func (acc *account) contactOf(ch *chat) int {
	if l, ok := acc.links[ch.id]; ok {
		return l.ContactID
	}
	return 0
}

// snapshot resolves a talk's contact now.
func (t *talk) snapshot(acc *account) Talk {
	out := t.Talk
	if out.ContactID == 0 {
		out.ContactID = acc.contactOf(t.chat)
	}
	return out
}

func (e *event) snapshot(acc *account) Event {
	out := e.Event
	if out.ContactID == 0 {
		out.ContactID = acc.contactOf(e.chat)
	}
	return out
}

// openTalk returns the open talk of ch, opening one if there is none. Called
// with s.mu held.
func (s *Server) openTalk(ch *chat) *talk {
	st := &ch.scope.acc.crm
	for i := len(st.talks) - 1; i >= 0; i-- {
		if t := st.talks[i]; t.chat == ch && t.InWork {
			return t
		}
	}
	st.nextTalk++
	now := s.now().UTC().Truncate(time.Second)
	t := &talk{chat: ch, Talk: Talk{
		ID: 5000 + st.nextTalk, AccountID: ch.scope.acc.AmojoID, ChatID: ch.id,
		ContactID: ch.scope.acc.contactOf(ch), Origin: ch.scope.channel.Code, InWork: true,
		CreatedAt: now, UpdatedAt: now,
	}}
	st.talks = append(st.talks, t)
	return t
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

// findAccount returns the account with amojo id accountID. Called with s.mu
// held.
func (s *Server) findAccount(accountID string) (*account, error) {
	acc, ok := s.accounts[accountID]
	if !ok {
		return nil, fmt.Errorf("amojotest: unknown account %q", accountID)
	}
	return acc, nil
}

// collect returns what f lists for every account, in registration order.
func collect[T any](s *Server, f func(acc *account) []T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for _, a := range s.cfg.accounts {
		out = append(out, f(s.accounts[a.AmojoID])...)
	}
	return out
}

// snapshots converts each of list with f.
func snapshots[E, T any](list []E, f func(E) T) []T {
	out := make([]T, len(list))
	for i, e := range list {
		out[i] = f(e)
	}
	return out
}

// Sources returns the sources of every account, by id.
func (s *Server) Sources() []Source {
	return collect(s, func(acc *account) []Source { return snapshots(acc.crm.sources, (*Source).clone) })
}

func (src *Source) clone() Source {
	out := *src
	out.Services = slices.Clone(src.Services)
	for i := range out.Services {
		out.Services[i].Pages = slices.Clone(out.Services[i].Pages)
	}
	return out
}

// ChatTemplates returns the chat templates of every account, by id.
func (s *Server) ChatTemplates() []ChatTemplate {
	return collect(s, func(acc *account) []ChatTemplate { return snapshots(acc.crm.templates, (*ChatTemplate).clone) })
}

func (t *ChatTemplate) clone() ChatTemplate {
	out := *t
	out.Buttons = slices.Clone(t.Buttons)
	out.Reviews = slices.Clone(t.Reviews)
	out.WABAExamples = maps.Clone(t.WABAExamples)
	if t.Attachment != nil {
		a := *t.Attachment
		out.Attachment = &a
	}
	return out
}

// Talks returns the talks of every account, oldest first.
func (s *Server) Talks() []Talk {
	return collect(s, func(acc *account) []Talk {
		return snapshots(acc.crm.talks, func(t *talk) Talk { return t.snapshot(acc) })
	})
}

// Events returns the chat events of every account, oldest first.
func (s *Server) Events() []Event {
	return collect(s, func(acc *account) []Event {
		return snapshots(acc.crm.events, func(e *event) Event { return e.snapshot(acc) })
	})
}

// findTalk returns talk id of any account. Called with s.mu held.
func (s *Server) findTalk(id int) (*talk, error) {
	for _, acc := range s.accounts {
		for _, t := range acc.crm.talks {
			if t.ID == id {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("amojotest: no talk %d", id)
}

// LinkTalkToLead files talk talkID under the lead leadID, as when amoCRM
// creates or links a lead for the conversation: the talk then reports the
// lead as its entity, and the chat events recorded from then on are typed
// "lead", with the contact in linked_talk_contact_id.
func (s *Server) LinkTalkToLead(talkID, leadID int) error {
	if leadID <= 0 {
		return fmt.Errorf("amojotest: lead id %d", leadID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTalk(talkID)
	if err != nil {
		return err
	}
	t.LeadID = leadID
	return nil
}

// SetNPSBot turns the NPS bot of every account on or off (off by default).
// With it on, closing a talk without force_close starts the bot instead: the
// talk stays in work, marked Closing, until RateTalk.
func (s *Server) SetNPSBot(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.npsBot = on
}

// RateTalk finishes the NPS bot of a closing talk: the client rated it rate
// (1 to 10), and the talk closes.
func (s *Server) RateTalk(talkID, rate int) error {
	if rate < 1 || rate > 10 {
		return fmt.Errorf("amojotest: rate %d, want 1..10", rate)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTalk(talkID)
	if err != nil {
		return err
	}
	if !t.Closing {
		return fmt.Errorf("amojotest: talk %d has no NPS bot running", talkID)
	}
	t.Rate, t.Closing, t.InWork = rate, false, false
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	return nil
}

// WithRateLimitBlock makes the fake block an account, as amoCRM does after
// repeated rate-limit breaches: once the account's REST calls earned n 429
// answers within window (on the rate clock, see WithRateClock), every REST
// call of the account answers 403 with nginx's HTML "403 Forbidden" page and
// no X-Request-Id, until SetBlocked lifts the block. Off by default. It
// panics unless n is positive and window longer than zero.
func WithRateLimitBlock(n int, window time.Duration) Option {
	if n < 1 || window <= 0 {
		panic(fmt.Sprintf("amojotest: WithRateLimitBlock(%d, %v)", n, window))
	}
	return func(cfg *config) { cfg.blockAfter, cfg.blockWindow = n, window }
}

// SetBlocked blocks or unblocks the REST API of account accountID (see
// WithRateLimitBlock); unblocking also forgets its recent 429s.
func (s *Server) SetBlocked(accountID string, blocked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, err := s.findAccount(accountID)
	if err != nil {
		return err
	}
	acc.crm.blocked = blocked
	if !blocked {
		acc.crm.limited = nil
	}
	return nil
}

// Blocked reports whether the REST API of account accountID is blocked.
func (s *Server) Blocked(accountID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[accountID]
	return ok && acc.crm.blocked
}

// blockPage is what nginx in front of amoCRM answers a blocked account.
const blockPage = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n" +
	"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// refuseBlocked answers the block page if acc is blocked. Called with s.mu
// held.
func (s *Server) refuseBlocked(w http.ResponseWriter, acc *account) bool {
	if !acc.crm.blocked {
		return false
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(blockPage)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(blockPage))
	return true
}

// noteRateLimited records a 429 answered to acc and blocks the account when
// WithRateLimitBlock says so. Called with s.mu held.
func (s *Server) noteRateLimited(acc *account) {
	if s.cfg.blockAfter <= 0 {
		return
	}
	now := s.cfg.rateNow()
	kept := acc.crm.limited[:0]
	for _, t := range acc.crm.limited {
		if now.Sub(t) < s.cfg.blockWindow {
			kept = append(kept, t)
		}
	}
	acc.crm.limited = append(kept, now)
	if len(acc.crm.limited) >= s.cfg.blockAfter {
		acc.crm.blocked = true
	}
}

// nextRequestID issues the X-Request-Id of a REST answer. Called with s.mu
// held.
func (s *Server) nextRequestID() string {
	s.restRequests++
	return fmt.Sprintf("amojotest-%08d", s.restRequests)
}

// crmRoutes mounts the sources, chat templates, talks and events calls.
func (s *Server) crmRoutes(m *http.ServeMux) {
	for _, r := range []struct {
		pattern string
		route   Route
		h       restHandler
	}{
		{"GET /api/v4/sources", RouteListSources, s.handleListSources},
		{"GET /api/v4/sources/{id}", RouteGetSource, s.handleGetSource},
		{"POST /api/v4/sources", RouteAddSources, s.handleAddSources},
		{"PATCH /api/v4/sources", RouteUpdateSources, s.handleUpdateSources},
		{"PATCH /api/v4/sources/{id}", RouteUpdateSource, s.handleUpdateSource},
		{"DELETE /api/v4/sources", RouteDeleteSources, s.handleDeleteSources},
		{"DELETE /api/v4/sources/{id}", RouteDeleteSource, s.handleDeleteSource},
		{"GET /api/v4/chats/templates", RouteListTemplates, s.handleListTemplates},
		{"GET /api/v4/chats/templates/{id}", RouteGetTemplate, s.handleGetTemplate},
		{"POST /api/v4/chats/templates", RouteAddTemplates, s.handleAddTemplates},
		{"PATCH /api/v4/chats/templates", RouteUpdateTemplates, s.handleUpdateTemplates},
		{"PATCH /api/v4/chats/templates/{id}", RouteUpdateTemplate, s.handleUpdateTemplate},
		{"DELETE /api/v4/chats/templates", RouteDeleteTemplates, s.handleDeleteTemplates},
		{"DELETE /api/v4/chats/templates/{id}", RouteDeleteTemplate, s.handleDeleteTemplate},
		{"POST /api/v4/chats/templates/{id}/review", RouteTemplateReview, s.handleReview},
		{"POST /api/v4/chats/templates/{id}/review/{review}", RouteTemplateReviewSave, s.handleReviewStatus},
		{"GET /api/v4/talks/{id}", RouteGetTalk, s.handleGetTalk},
		{"POST /api/v4/talks/{id}/close", RouteCloseTalk, s.handleCloseTalk},
		{"GET /api/v4/events", RouteEvents, s.handleEvents},
		{"GET /api/v4/events/{id}", RouteEvent, s.handleEvent},
	} {
		m.Handle(r.pattern, s.restRoute(r.route, r.h))
	}
}

// pagedAnswer answers one page of items as GET path does: page from 1 and
// limit from 1 to maxLimit (maxLimit by default) read from the query, 204
// past the last page, and _links with a next link while more follow.
func pagedAnswer[T any](r *http.Request, base, path, key string, maxLimit int, items []T, item func(T) map[string]any) restResult {
	q := r.URL.Query()
	page, limit := 1, maxLimit
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return problem(http.StatusBadRequest, "page must be a positive integer")
		}
		page = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return problem(http.StatusBadRequest, "limit must be an integer from 1 to %d", maxLimit)
		}
		limit = n
	}
	if page-1 >= (len(items)+limit-1)/limit { // before multiplying: page may be huge
		return restResult{status: http.StatusNoContent}
	}
	from := (page - 1) * limit
	to := min(from+limit, len(items))
	out := make([]map[string]any, 0, to-from)
	for _, it := range items[from:to] {
		out = append(out, item(it))
	}
	pageURL := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("limit", strconv.Itoa(limit))
		return base + path + "?" + v.Encode()
	}
	links := map[string]any{"self": link(pageURL(page))}
	if to < len(items) {
		links["next"] = link(pageURL(page + 1))
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_page": page, "_links": links, "_embedded": map[string]any{key: out},
	}}
}

// checkBatch reads the items of a REST batch with check, which returns the
// item read from its object (check is not called for an item that is not
// an object; its zero value stands in). It returns the items and their
// request ids (the index when an item has none), or the 400 naming every
// item with validation errors.
func checkBatch[T any](raws []json.RawMessage, check func(c *itemChecker, m map[string]json.RawMessage, done []T) T) ([]T, []string, *restResult) {
	items := make([]T, len(raws))
	reqIDs := make([]string, len(raws))
	var failed []itemErrors
	for i, raw := range raws {
		reqIDs[i] = strconv.Itoa(i)
		c := &itemChecker{}
		if m := c.object(raw, ""); m != nil {
			if id := c.str(m, "request_id", "request_id"); id != "" {
				reqIDs[i] = id
			}
			items[i] = check(c, m, items[:i])
		}
		if len(c.errs) > 0 {
			failed = append(failed, itemErrors{RequestID: reqIDs[i], Errors: c.errs})
		}
	}
	if len(failed) > 0 {
		return nil, nil, &restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: failed}
	}
	return items, reqIDs, nil
}

// update is an object of a batch update: the stored one and its next state.
type update[T any] struct{ old, next *T }

// checkUpdates reads a batch update: each item names the id of a stored
// object (find), and apply returns its next state.
func checkUpdates[T any](raws []json.RawMessage, find func(id int) *T, apply func(c *itemChecker, m map[string]json.RawMessage, old *T) *T) ([]update[T], []string, *restResult) {
	return checkBatch(raws, func(c *itemChecker, m map[string]json.RawMessage, _ []update[T]) update[T] {
		id, ok := c.integer(m, "id", "id")
		switch {
		case !ok:
			c.add(CodeNotBlank, "id", "This value should not be blank.")
		case find(int(id)) == nil:
			c.add(CodeNotFound, "id", "Not found.")
		default:
			old := find(int(id))
			return update[T]{old: old, next: apply(c, m, old)}
		}
		return update[T]{}
	})
}
