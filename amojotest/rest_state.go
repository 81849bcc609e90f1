package amojotest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
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

// contactOf is the contact chat ch is linked to, 0 when none. Called with
// s.mu held.
func (acc *account) contactOf(ch *chat) int {
	if l, ok := acc.links[ch.id]; ok {
		return l.ContactID
	}
	return 0
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
