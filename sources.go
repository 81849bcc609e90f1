package amojo

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The limits of the sources API (GET/POST/PATCH/DELETE /api/v4/sources).
const (
	// MaxSourceExternalIDLen is the longest LeadSource.ExternalID amoCRM's
	// sources API accepts (printable ASCII and spaces). The chats API allows
	// 40 for the same value; see Source.
	MaxSourceExternalIDLen = 36
	// MaxSources is the most active sources one integration may have in an
	// account. AddSources does not count them: amoCRM answers 400 beyond it.
	MaxSources = 100
	// MaxOriginCodeLen is the longest LeadSource.OriginCode (Kommo's rule,
	// applied on both platforms; channel codes fit).
	MaxOriginCodeLen = 20
)

// ServiceWhatsApp is the only SourceService type amoCRM knows.
const ServiceWhatsApp = "whatsapp"

// LeadSource is a source of the calling integration (an integration sees
// only its own): one of several numbers, pages or channels the integration's
// chats come from. A chat names it by ExternalID (Source in CreateChatRequest
// and Message); its first incoming message then creates the incoming lead in
// PipelineID, and a manager who writes first from a card picks a source, which
// comes back in the outgoing webhook's source.
type LeadSource struct {
	ID   int64
	Name string
	// ExternalID is the integration's id of the source, unique among its
	// sources and immutable once created.
	ExternalID string
	// PipelineID is the pipeline of the incoming leads (it may be
	// archived).
	PipelineID int64
	// Default marks the source chats without a source of their own follow
	// (at most one per integration; setting it unsets the previous one, and
	// deleting it promotes none).
	Default bool
	// OriginCode is the code of the source's main chat channel, such as
	// "amo.ext.12345678", used to start a conversation ("write first").
	// Empty when amoCRM reports null.
	OriginCode string
	// Services describe the source to the site buttons and Salesbot;
	// currently only ServiceWhatsApp.
	Services []SourceService
	// RequestID is the request_id of the item in an add or update answer.
	RequestID string
}

// SourceService is an entry of LeadSource.Services.
type SourceService struct {
	Type string // ServiceWhatsApp
	// WABA marks an official WhatsApp Business number with a 24-hour window:
	// it enables WhatsApp templates in Salesbot and their review (see
	// CRMClient.SendChatTemplateForReview).
	WABA bool
	// ListMessage says the number supports WhatsApp List Message (Salesbot
	// then offers that step).
	ListMessage bool
	// Pages are the choices a site button offers.
	Pages []SourcePage
}

// SourcePage is a choice of a site button: ID is its hidden id, Name the label
// shown, Link the WhatsApp number (the button opens wa.me/{Link}; on Kommo an
// id shown in the button). amoCRM treats all three as opaque strings.
type SourcePage struct {
	ID   string
	Name string
	Link string
}

// NewSource is a source to add with AddSources. Name and ExternalID are
// required (amoCRM requires only the name, but the chats side finds a source
// by its external id, and Kommo requires both). ExternalID is at most
// MaxSourceExternalIDLen characters of printable ASCII and spaces; it cannot
// be changed later. RequestID, when set, must be unique within the call (the
// item's index is sent otherwise).
type NewSource struct {
	Name       string
	ExternalID string
	PipelineID int64 // 0: amoCRM picks (the main pipeline)
	Default    bool
	OriginCode string // empty: not sent
	Services   []SourceService
	RequestID  string
}

// SourceUpdate changes a source with UpdateSources or UpdateSource. A zero
// field is left as it is: Name "", PipelineID 0, Default nil, OriginCode ""
// and Services nil are not sent. A non-nil empty Services removes every
// service. The external id cannot be changed (amoCRM refuses it in an update).
type SourceUpdate struct {
	ID         int64 // required by UpdateSources; UpdateSource takes it as an argument
	Name       string
	PipelineID int64
	Default    *bool
	OriginCode string
	Services   []SourceService
	RequestID  string
}

// SourceFilter selects sources by external id; an empty filter lists all of
// the integration's sources.
type SourceFilter struct {
	ExternalIDs []string
}

// sourceBody is the wire shape of a source, in requests and answers.
type sourceBody struct {
	ID         int64          `json:"id,omitempty"`
	Name       string         `json:"name,omitempty"`
	ExternalID string         `json:"external_id,omitempty"`
	PipelineID int64          `json:"pipeline_id,omitempty"`
	Default    *bool          `json:"default,omitempty"`
	OriginCode *string        `json:"origin_code,omitempty"`
	Services   *[]serviceBody `json:"services,omitempty"`
	RequestID  flexString     `json:"request_id,omitempty"`
}

type serviceBody struct {
	Type   string            `json:"type"`
	Params serviceParamsBody `json:"params"`
	Pages  []sourcePageBody  `json:"pages,omitempty"`
}

type serviceParamsBody struct {
	WABA        bool `json:"waba"`
	ListMessage bool `json:"is_supports_list_message"`
}

type sourcePageBody struct {
	ID   flexString `json:"id"`
	Name string     `json:"name"`
	Link string     `json:"link"`
}

func (b *sourceBody) echoedID() *flexString { return &b.RequestID }

// result converts the wire form.
func (b *sourceBody) result() LeadSource {
	s := LeadSource{
		ID:         b.ID,
		Name:       b.Name,
		ExternalID: b.ExternalID,
		PipelineID: b.PipelineID,
		RequestID:  string(b.RequestID),
	}
	if b.Default != nil {
		s.Default = *b.Default
	}
	if b.OriginCode != nil {
		s.OriginCode = *b.OriginCode
	}
	if b.Services != nil {
		for _, sv := range *b.Services {
			out := SourceService{Type: sv.Type, WABA: sv.Params.WABA, ListMessage: sv.Params.ListMessage}
			for _, p := range sv.Pages {
				out.Pages = append(out.Pages, SourcePage{ID: string(p.ID), Name: p.Name, Link: p.Link})
			}
			s.Services = append(s.Services, out)
		}
	}
	return s
}

// servicesBody validates services (field names them) and returns their wire
// form.
func servicesBody(field string, services []SourceService) (*[]serviceBody, error) {
	if services == nil {
		return nil, nil
	}
	out := make([]serviceBody, 0, len(services))
	for i, sv := range services {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f+".Type", sv.Type); err != nil {
			return nil, err
		}
		b := serviceBody{Type: sv.Type, Params: serviceParamsBody{WABA: sv.WABA, ListMessage: sv.ListMessage}}
		for j, p := range sv.Pages {
			pf := fmt.Sprintf("%s.Pages[%d]", f, j)
			for _, v := range [...]struct{ name, v string }{{"ID", p.ID}, {"Name", p.Name}, {"Link", p.Link}} {
				if strings.ContainsAny(v.v, "\r\n") {
					return nil, invalid(pf+"."+v.name, "contains a line break")
				}
			}
			b.Pages = append(b.Pages, sourcePageBody{ID: flexString(p.ID), Name: p.Name, Link: p.Link})
		}
		out = append(out, b)
	}
	return &out, nil
}

// checkOriginCode applies Kommo's rules: at most 20 characters, not digits
// only, not quotes only.
func checkOriginCode(field, v string) error {
	if v == "" {
		return nil
	}
	if err := checkASCII(field, v, MaxOriginCodeLen); err != nil {
		return err
	}
	if strings.Trim(v, "0123456789") == "" {
		return invalid(field, "must not be digits only")
	}
	if strings.Trim(v, "\"'` ") == "" {
		return invalid(field, "must not be quotes only")
	}
	return nil
}

// body validates s (the i-th item of field) and returns its wire form.
func (s *NewSource) body(field string, requestID string) (sourceBody, error) {
	b := sourceBody{Name: s.Name, ExternalID: s.ExternalID, PipelineID: s.PipelineID, RequestID: flexString(requestID)}
	if err := checkText(field+".Name", s.Name); err != nil {
		return b, err
	}
	if s.ExternalID == "" {
		return b, invalid(field+".ExternalID", "required (chats name the source by it)")
	}
	if err := checkASCII(field+".ExternalID", s.ExternalID, MaxSourceExternalIDLen); err != nil {
		return b, err
	}
	if s.PipelineID < 0 {
		return b, invalid(field+".PipelineID", "negative")
	}
	if s.Default {
		t := true
		b.Default = &t
	}
	return b, b.setChannel(field, s.OriginCode, s.Services)
}

// setChannel validates and sets the origin code and services shared by the
// add and update forms.
func (b *sourceBody) setChannel(field, originCode string, services []SourceService) error {
	if err := checkOriginCode(field+".OriginCode", originCode); err != nil {
		return err
	}
	if originCode != "" {
		b.OriginCode = &originCode
	}
	var err error
	b.Services, err = servicesBody(field+".Services", services)
	return err
}

// body validates u and returns its wire form; withID says whether the id
// goes into the body (the batch form) or the path.
func (u *SourceUpdate) body(field string, withID bool, requestID string) (sourceBody, error) {
	b := sourceBody{Name: u.Name, PipelineID: u.PipelineID}
	if u.Default != nil {
		d := *u.Default
		b.Default = &d
	}
	if withID {
		if u.ID <= 0 {
			return b, invalid(field+".ID", "must be positive")
		}
		b.ID, b.RequestID = u.ID, flexString(requestID)
	}
	if u.Name != "" {
		if err := checkText(field+".Name", u.Name); err != nil {
			return b, err
		}
	}
	if u.PipelineID < 0 {
		return b, invalid(field+".PipelineID", "negative")
	}
	return b, b.setChannel(field, u.OriginCode, u.Services)
}

const sourcesPath = "/api/v4/sources"

func sourcePath(id int64) string { return sourcesPath + "/" + strconv.FormatInt(id, 10) }

// Sources lists the integration's sources (amoCRM answers at most
// MaxSources, the per-integration limit, in one page), filtered by external
// id when f names any. None gives an empty slice and no error.
func (c *CRMClient) Sources(ctx context.Context, f SourceFilter) ([]LeadSource, error) {
	out := []LeadSource{}
	for s, err := range c.AllSources(ctx, f) {
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// AllSources iterates over the integration's sources, filtered as by Sources.
// amoCRM documents no pages for this list; should an answer link a next page,
// the iterator asks for it (page=2, …). It yields an error at most once, as
// the last element.
func (c *CRMClient) AllSources(ctx context.Context, f SourceFilter) iter.Seq2[LeadSource, error] {
	ids := make([]string, 0, len(f.ExternalIDs))
	for i, id := range f.ExternalIDs {
		if err := checkASCII(fmt.Sprintf("SourceFilter.ExternalIDs[%d]", i), id, maxExternalIDLen); err != nil {
			return errSeq[LeadSource](err)
		}
		if id == "" {
			return errSeq[LeadSource](invalid(fmt.Sprintf("SourceFilter.ExternalIDs[%d]", i), "empty"))
		}
		ids = append(ids, id)
	}
	return walkPages("GET "+c.fullPath(sourcesPath), 1, func(page int) ([]LeadSource, bool, error) {
		q := url.Values{}
		if len(ids) > 0 {
			q["filter[external_id][]"] = ids
		}
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		bodies, next, err := getPage[sourceBody](ctx, c, sourcesPath, q, "sources")
		out := make([]LeadSource, len(bodies))
		for i := range bodies {
			out[i] = bodies[i].result()
		}
		return out, next, err
	}, func(s LeadSource) string { return strconv.FormatInt(s.ID, 10) })
}

// errSeq is an iterator that yields err and ends.
func errSeq[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// GetSource returns the source id. A source that does not exist (or was
// deleted, or belongs to another integration) matches ErrNotFound: amoCRM
// answers 204 for it.
func (c *CRMClient) GetSource(ctx context.Context, id int64) (*LeadSource, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	var b sourceBody
	if err := c.getObject(ctx, sourcePath(id), nil, &b, func() bool { return b.ID != 0 }); err != nil {
		return nil, err
	}
	s := b.result()
	return &s, nil
}

// AddSources adds sources and returns them as amoCRM stored them, in input
// order. More than 50 are sent in several requests of up to 50, one after the
// other. Input is validated as a whole first; a problem is a
// *ValidationError naming the item, such as "sources[2].ExternalID".
//
// Adding is not idempotent: after a lost answer (a network error, 502, 503
// or 504) amoCRM may have added the sources, so such a request is not
// retried (a 429 is). List them by external id with Sources before trying
// again. When a request fails, the sources added by the earlier ones are
// returned with a *BatchError (see CreateContacts).
func (c *CRMClient) AddSources(ctx context.Context, sources []NewSource) ([]LeadSource, error) {
	if len(sources) == 0 {
		return nil, invalid("sources", "empty")
	}
	ids, err := requestIDs("sources", len(sources), func(i int) string { return sources[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]sourceBody, len(sources))
	seen := make(map[string]int, len(sources))
	for i := range sources {
		field := fmt.Sprintf("sources[%d]", i)
		if bodies[i], err = sources[i].body(field, ids[i]); err != nil {
			return nil, err
		}
		if j, dup := seen[sources[i].ExternalID]; dup {
			return nil, invalid(field+".ExternalID", fmt.Sprintf("%q is also the external id of sources[%d]", sources[i].ExternalID, j))
		}
		seen[sources[i].ExternalID] = i
	}
	return sendBatches[sourceBody, LeadSource](ctx, c, batchCall{op: "add sources", method: http.MethodPost, path: sourcesPath, key: "sources", notIdempotent: true}, bodies, ids)
}

// AddSource adds one source. Errors are those of AddSources, except that a
// failed request gives its own error (usually an *APIError).
func (c *CRMClient) AddSource(ctx context.Context, s NewSource) (*LeadSource, error) {
	out, err := c.AddSources(ctx, []NewSource{s})
	if err != nil {
		return nil, unbatch(err)
	}
	return &out[0], nil
}

// UpdateSources changes sources (each item names its ID) and returns them as
// amoCRM stored them, in input order, in requests of up to 50. Partial
// failure is reported as by AddSources. An update may be repeated, so it is
// retried like any call.
func (c *CRMClient) UpdateSources(ctx context.Context, updates []SourceUpdate) ([]LeadSource, error) {
	if len(updates) == 0 {
		return nil, invalid("updates", "empty")
	}
	ids, err := requestIDs("updates", len(updates), func(i int) string { return updates[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]sourceBody, len(updates))
	for i := range updates {
		if bodies[i], err = updates[i].body(fmt.Sprintf("updates[%d]", i), true, ids[i]); err != nil {
			return nil, err
		}
	}
	return sendBatches[sourceBody, LeadSource](ctx, c, batchCall{op: "update sources", method: http.MethodPatch, path: sourcesPath, key: "sources"}, bodies, ids)
}

// UpdateSource changes the source id (PATCH /api/v4/sources/{id}; u.ID is
// ignored) and returns it as amoCRM stored it.
func (c *CRMClient) UpdateSource(ctx context.Context, id int64, u SourceUpdate) (*LeadSource, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	b, err := u.body("update", false, "")
	if err != nil {
		return nil, err
	}
	var ans sourceBody
	if _, err := c.r.do(ctx, request{method: http.MethodPatch, path: sourcePath(id), in: b, out: &ans}); err != nil {
		return nil, err
	}
	s := ans.result()
	return &s, nil
}

// DeleteSources deletes sources by id, in requests of up to 50. When some
// ids are unknown amoCRM answers 400 naming them (in the body's "errors",
// decoded into APIError.ValidationErrors); the *BatchError's Failed lists
// their input indexes. Whether the other ids of that request were deleted is
// not documented: list the sources again before retrying.
func (c *CRMClient) DeleteSources(ctx context.Context, ids []int64) error {
	return c.deleteBatches(ctx, "delete sources", sourcesPath, "ids", ids)
}

// DeleteSource deletes the source id. An unknown id matches ErrNotFound
// (amoCRM answers 404).
func (c *CRMClient) DeleteSource(ctx context.Context, id int64) error {
	if id <= 0 {
		return invalid("id", "must be positive")
	}
	_, err := c.r.do(ctx, request{method: http.MethodDelete, path: sourcePath(id)})
	return err
}
