package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxChatTemplatesLimit is the largest page of GET /api/v4/chats/templates.
const MaxChatTemplatesLimit = 50

// MaxWABAHeaderLen is the longest WhatsApp template text header, in
// characters.
const MaxWABAHeaderLen = 60

// TemplateType is the kind of a chat template.
type TemplateType string

// The template kinds.
const (
	TemplateAmoCRM TemplateType = "amocrm" // a canned reply
	TemplateWABA   TemplateType = "waba"   // a WhatsApp Business template, reviewed by Meta before use outside the 24-hour window
)

// ButtonType is the kind of a template button.
type ButtonType string

// The template button kinds.
const (
	ButtonInline ButtonType = "inline" // a text (quick-reply) button
	ButtonURL    ButtonType = "url"    // a link button; URL is required
)

// WABACategory is Meta's category of a WhatsApp template.
type WABACategory string

// The WhatsApp template categories.
const (
	CategoryUtility        WABACategory = "UTILITY"
	CategoryAuthentication WABACategory = "AUTHENTICATION"
	CategoryMarketing      WABACategory = "MARKETING"
)

// The kinds of a WhatsApp template header (ChatTemplate.WABAHeaderType).
const (
	HeaderText  = "text"
	HeaderMedia = "media" // the template's Attachment is the header
)

// The kinds of a template attachment (TemplateAttachment.Type).
const (
	AttachmentPicture  = "picture"
	AttachmentFile     = "file"
	AttachmentDocument = "document"
	AttachmentVideo    = "video"
)

// ReviewStatus is the state of a WhatsApp template's review.
type ReviewStatus string

// The review states.
const (
	ReviewPending  ReviewStatus = "review" // waiting for Meta's decision
	ReviewApproved ReviewStatus = "approved"
	ReviewRejected ReviewStatus = "rejected"
	ReviewPaused   ReviewStatus = "paused" // on hold
)

// ChatTemplate is a chat template of the calling integration (the API sees
// only templates the integration created). Content may hold Salesbot markers
// such as {{contact.name}}; when a manager sends the template, the outgoing
// webhook carries it with the values of its markers (MessageTemplate).
type ChatTemplate struct {
	ID         int64
	AccountID  int64
	Name       string
	Content    string
	Editable   bool // users may edit it in amoCRM
	Type       TemplateType
	ExternalID string
	Buttons    []TemplateButton
	Attachment *TemplateAttachment

	// The WhatsApp fields, for Type TemplateWABA.
	WABACategory   WABACategory
	WABALanguage   string // a language code such as "en"
	WABAHeader     string
	WABAHeaderType string // HeaderText or HeaderMedia
	WABAFooter     string
	// WABAExamples maps each marker of Content to a sample value, which Meta
	// reviews with the template: {"{{contact.name}}": "Anna"}.
	WABAExamples map[string]string

	CreatedAt time.Time
	UpdatedAt time.Time

	// ReviewStatus, OnReview and Reviews are reported when asked for (with
	// reviews): the overall review state ("" before any review: a draft),
	// whether a review is running, and one review per WhatsApp source.
	ReviewStatus ReviewStatus
	OnReview     bool
	Reviews      []TemplateReview

	// RequestID is the request_id of the item in an add or update answer.
	RequestID string
}

// TemplateButton is a button of a template: Type ButtonInline or ButtonURL,
// the label Text, and URL for a link button.
type TemplateButton struct {
	Type ButtonType `json:"type"`
	Text string     `json:"text"`
	URL  string     `json:"url,omitempty"`
}

// TemplateAttachment is a file sent with a template: ID is the file's UUID in
// amoCRM's Files API (upload it there first), Type one of AttachmentPicture,
// AttachmentFile, AttachmentDocument and AttachmentVideo. IsExternal is true
// for every template since spring 2022.
type TemplateAttachment struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Type       string `json:"type"`
	IsExternal bool   `json:"is_external"`
}

// TemplateReview is the review of a WhatsApp template for one WABA source
// (SourceID is the LeadSource's id).
type TemplateReview struct {
	ID           int64
	SourceID     int64
	Status       ReviewStatus
	RejectReason string
}

// NewChatTemplate is a template to add with AddChatTemplates. Name and
// Content are required. The WABA fields are for Type TemplateWABA only; a
// media header (WABAHeaderType HeaderMedia) needs an Attachment. Button counts
// are not checked here (Meta's limits are not part of amoCRM's API): amoCRM's
// 400 or 422 is returned as it comes. RequestID, when set, must be unique
// within the call.
type NewChatTemplate struct {
	Name           string
	Content        string
	Editable       bool
	Type           TemplateType // empty: amoCRM's default (amocrm)
	ExternalID     string
	Buttons        []TemplateButton
	Attachment     *TemplateAttachment
	WABACategory   WABACategory
	WABALanguage   string
	WABAHeader     string
	WABAHeaderType string
	WABAFooter     string
	WABAExamples   map[string]string
	RequestID      string
}

// ChatTemplateUpdate changes a template with UpdateChatTemplates or
// UpdateChatTemplate. A zero field is left as it is (strings "", Editable
// nil, Buttons nil, Attachment nil, WABAExamples nil are not sent); a non-nil
// empty Buttons removes the buttons. A WhatsApp template can be changed only
// while it is a draft (before its first review); amoCRM answers 400 after.
type ChatTemplateUpdate struct {
	ID             int64 // required by UpdateChatTemplates; UpdateChatTemplate takes it as an argument
	Name           string
	Content        string
	Editable       *bool
	Type           TemplateType
	ExternalID     string
	Buttons        []TemplateButton
	Attachment     *TemplateAttachment
	WABACategory   WABACategory
	WABALanguage   string
	WABAHeader     string
	WABAHeaderType string
	WABAFooter     string
	WABAExamples   map[string]string
	RequestID      string
}

// templateBody is the wire shape of a template, in requests and answers.
type templateBody struct {
	ID             int64               `json:"id,omitempty"`
	AccountID      int64               `json:"account_id,omitempty"`
	Name           string              `json:"name,omitempty"`
	Content        string              `json:"content,omitempty"`
	IsEditable     *bool               `json:"is_editable,omitempty"`
	Type           string              `json:"type,omitempty"`
	ExternalID     string              `json:"external_id,omitempty"`
	Buttons        *[]TemplateButton   `json:"buttons,omitempty"`
	Attachment     *TemplateAttachment `json:"attachment,omitempty"`
	WABACategory   string              `json:"waba_category,omitempty"`
	WABALanguage   string              `json:"waba_language,omitempty"`
	WABAHeader     *string             `json:"waba_header,omitempty"`
	WABAHeaderType string              `json:"waba_header_type,omitempty"`
	WABAFooter     string              `json:"waba_footer,omitempty"`
	WABAExamples   templateExamples    `json:"waba_examples,omitempty"`
	CreatedAt      int64               `json:"created_at,omitempty"`
	UpdatedAt      int64               `json:"updated_at,omitempty"`
	ReviewStatus   *string             `json:"review_status,omitempty"`
	IsOnReview     *bool               `json:"is_on_review,omitempty"`
	Embedded       *struct {
		Reviews []reviewBody `json:"reviews"`
	} `json:"_embedded,omitempty"`
	RequestID flexString `json:"request_id,omitempty"`
}

// templateExamples is waba_examples: an object of marker → value, which
// amoCRM sends as an empty array when there are none.
type templateExamples map[string]string

// UnmarshalJSON accepts an object (values strings or numbers) or an array
// (read as empty).
func (m *templateExamples) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		var skip []json.RawMessage
		if string(data) == "null" || json.Unmarshal(data, &skip) == nil {
			*m = nil
			return nil
		}
		return fmt.Errorf("waba_examples: want an object, got %.20s", data)
	}
	var raw map[string]flexString
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(templateExamples, len(raw))
	for k, v := range raw {
		out[k] = string(v)
	}
	*m = out
	return nil
}

// reviewBody is the wire shape of a review.
type reviewBody struct {
	ID           int64  `json:"id"`
	SourceID     int64  `json:"source_id"`
	Status       string `json:"status"`
	RejectReason string `json:"reject_reason"`
}

func (r reviewBody) review() TemplateReview {
	return TemplateReview{ID: r.ID, SourceID: r.SourceID, Status: ReviewStatus(r.Status), RejectReason: r.RejectReason}
}

func (b *templateBody) echoedID() *flexString { return &b.RequestID }

// result converts the wire form.
func (b *templateBody) result() ChatTemplate {
	t := ChatTemplate{
		ID:             b.ID,
		AccountID:      b.AccountID,
		Name:           b.Name,
		Content:        b.Content,
		Type:           TemplateType(b.Type),
		ExternalID:     b.ExternalID,
		WABACategory:   WABACategory(b.WABACategory),
		WABALanguage:   b.WABALanguage,
		WABAHeaderType: b.WABAHeaderType,
		WABAFooter:     b.WABAFooter,
		CreatedAt:      unixTime(b.CreatedAt, 0),
		UpdatedAt:      unixTime(b.UpdatedAt, 0),
		RequestID:      string(b.RequestID),
	}
	if b.IsEditable != nil {
		t.Editable = *b.IsEditable
	}
	if b.Buttons != nil && len(*b.Buttons) > 0 {
		t.Buttons = append([]TemplateButton(nil), *b.Buttons...)
	}
	if b.Attachment != nil {
		a := *b.Attachment
		t.Attachment = &a
	}
	if b.WABAHeader != nil {
		t.WABAHeader = *b.WABAHeader
	}
	if len(b.WABAExamples) > 0 {
		t.WABAExamples = map[string]string(b.WABAExamples)
	}
	if b.ReviewStatus != nil {
		t.ReviewStatus = ReviewStatus(*b.ReviewStatus)
	}
	if b.IsOnReview != nil {
		t.OnReview = *b.IsOnReview
	}
	if b.Embedded != nil {
		for _, r := range b.Embedded.Reviews {
			t.Reviews = append(t.Reviews, r.review())
		}
	}
	return t
}

// templateFields are the writable fields of a template, shared by the add and
// the update forms for validation and encoding.
type templateFields struct {
	name, content, externalID        string
	editable                         *bool
	typ                              TemplateType
	buttons                          []TemplateButton
	attachment                       *TemplateAttachment
	category                         WABACategory
	language, header, headerType, ft string
	examples                         map[string]string
}

func (t *NewChatTemplate) fields() templateFields {
	f := templateFields{
		name: t.Name, content: t.Content, externalID: t.ExternalID, typ: t.Type,
		buttons: t.Buttons, attachment: t.Attachment, category: t.WABACategory,
		language: t.WABALanguage, header: t.WABAHeader, headerType: t.WABAHeaderType, ft: t.WABAFooter,
		examples: t.WABAExamples,
	}
	if t.Editable {
		e := true
		f.editable = &e
	}
	return f
}

func (u *ChatTemplateUpdate) fields() templateFields {
	f := templateFields{
		name: u.Name, content: u.Content, externalID: u.ExternalID, typ: u.Type,
		buttons: u.Buttons, attachment: u.Attachment, category: u.WABACategory,
		language: u.WABALanguage, header: u.WABAHeader, headerType: u.WABAHeaderType, ft: u.WABAFooter,
		examples: u.WABAExamples,
	}
	if u.Editable != nil {
		e := *u.Editable
		f.editable = &e
	}
	return f
}

// body validates f (field prefixes the Go names in errors; adding says
// whether name and content are required) and returns its wire form.
func (f templateFields) body(field string, adding bool) (templateBody, error) {
	at := func(s string) string { return field + "." + s }
	b := templateBody{
		Name: f.name, Content: f.content, IsEditable: f.editable, Type: string(f.typ), ExternalID: f.externalID,
		WABACategory: string(f.category), WABALanguage: f.language, WABAHeaderType: f.headerType, WABAFooter: f.ft,
	}
	if adding || f.name != "" {
		if err := checkText(at("Name"), f.name); err != nil {
			return b, err
		}
	}
	if (adding || f.content != "") && isBlank(f.content) {
		return b, invalid(at("Content"), "empty")
	}
	switch f.typ {
	case "", TemplateAmoCRM, TemplateWABA:
	default:
		return b, invalid(at("Type"), fmt.Sprintf("unknown template type %q (want amocrm or waba)", f.typ))
	}
	if f.externalID != "" {
		if err := checkText(at("ExternalID"), f.externalID); err != nil {
			return b, err
		}
	}
	if f.buttons != nil {
		buttons := make([]TemplateButton, len(f.buttons))
		for i, bt := range f.buttons {
			bf := fmt.Sprintf("%s.Buttons[%d]", field, i)
			if err := checkText(bf+".Text", bt.Text); err != nil {
				return b, err
			}
			switch bt.Type {
			case ButtonInline:
				if bt.URL != "" {
					return b, invalid(bf+".URL", "only for url buttons")
				}
			case ButtonURL:
				if u, err := url.Parse(bt.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return b, invalid(bf+".URL", "must be an absolute http(s) URL")
				}
			default:
				return b, invalid(bf+".Type", fmt.Sprintf("unknown button type %q (want inline or url)", bt.Type))
			}
			buttons[i] = bt
		}
		b.Buttons = &buttons
	}
	if f.attachment != nil {
		a := *f.attachment
		if err := checkID(at("Attachment.ID"), a.ID); err != nil {
			return b, err
		}
		switch a.Type {
		case AttachmentPicture, AttachmentFile, AttachmentDocument, AttachmentVideo:
		default:
			return b, invalid(at("Attachment.Type"), fmt.Sprintf("unknown attachment type %q (want picture, file, document or video)", a.Type))
		}
		b.Attachment = &a
	}
	waba := f.category != "" || f.language != "" || f.header != "" || f.headerType != "" || f.ft != "" || len(f.examples) > 0
	if waba && f.typ == TemplateAmoCRM || waba && adding && f.typ != TemplateWABA {
		return b, invalid(at("Type"), "must be waba for the WABA fields")
	}
	switch f.category {
	case "", CategoryUtility, CategoryAuthentication, CategoryMarketing:
	default:
		return b, invalid(at("WABACategory"), fmt.Sprintf("unknown category %q (want UTILITY, AUTHENTICATION or MARKETING)", f.category))
	}
	if f.language != "" {
		if err := checkID(at("WABALanguage"), f.language); err != nil {
			return b, err
		}
	}
	if f.header != "" {
		if err := checkText(at("WABAHeader"), f.header); err != nil {
			return b, err
		}
		if utf8.RuneCountInString(f.header) > MaxWABAHeaderLen {
			return b, invalid(at("WABAHeader"), fmt.Sprintf("longer than %d characters", MaxWABAHeaderLen))
		}
		h := f.header
		b.WABAHeader = &h
	}
	switch f.headerType {
	case "", HeaderText:
	case HeaderMedia:
		if adding && f.attachment == nil {
			return b, invalid(at("Attachment"), "required with a media header")
		}
	default:
		return b, invalid(at("WABAHeaderType"), fmt.Sprintf("unknown header type %q (want text or media)", f.headerType))
	}
	if f.examples != nil {
		b.WABAExamples = make(templateExamples, len(f.examples))
		for k, v := range f.examples {
			if isBlank(k) {
				return b, invalid(at("WABAExamples"), "empty marker")
			}
			b.WABAExamples[k] = v
		}
	}
	return b, nil
}

const templatesPath = "/api/v4/chats/templates"

func templatePath(id int64) string { return templatesPath + "/" + strconv.FormatInt(id, 10) }

// ChatTemplateListOptions selects a page of templates: Page from 1 (0 means
// 1), Limit up to MaxChatTemplatesLimit (0 means that), templates with the
// given external ids only, and their reviews when WithReviews is set.
type ChatTemplateListOptions struct {
	ExternalIDs []string
	WithReviews bool
	Page        int
	Limit       int
}

// ChatTemplatePage is one page of templates; Next says whether another page
// follows.
type ChatTemplatePage struct {
	Templates []ChatTemplate
	Page      int
	Next      bool
}

// ChatTemplates returns one page of the integration's templates. No templates
// give an empty page and no error (amoCRM answers 204).
func (c *CRMClient) ChatTemplates(ctx context.Context, opts ChatTemplateListOptions) (*ChatTemplatePage, error) {
	if err := checkPage(opts.Page, opts.Limit, MaxChatTemplatesLimit); err != nil {
		return nil, within("ChatTemplateListOptions", err)
	}
	for i, id := range opts.ExternalIDs {
		if err := checkText(fmt.Sprintf("ChatTemplateListOptions.ExternalIDs[%d]", i), id); err != nil {
			return nil, err
		}
	}
	page, limit := max(opts.Page, 1), opts.Limit
	if limit == 0 {
		limit = MaxChatTemplatesLimit
	}
	q := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}}
	if len(opts.ExternalIDs) > 0 {
		q["filter[external_id][]"] = opts.ExternalIDs
	}
	if opts.WithReviews {
		q.Set("with", "reviews")
	}
	bodies, next, err := getPage[templateBody](ctx, c, templatesPath, q, "chat_templates")
	if err != nil {
		return nil, err
	}
	out := &ChatTemplatePage{Templates: make([]ChatTemplate, len(bodies)), Page: page, Next: next}
	for i := range bodies {
		out.Templates[i] = bodies[i].result()
	}
	return out, nil
}

// AllChatTemplates iterates over the integration's templates from opts.Page,
// asking for the next page only when the previous one is used up, until a
// page has no next link or amoCRM answers 204. It yields an error at most
// once, as the last element.
func (c *CRMClient) AllChatTemplates(ctx context.Context, opts ChatTemplateListOptions) iter.Seq2[ChatTemplate, error] {
	if err := checkPage(opts.Page, opts.Limit, MaxChatTemplatesLimit); err != nil {
		return errSeq[ChatTemplate](within("ChatTemplateListOptions", err))
	}
	o := opts
	o.ExternalIDs = append([]string(nil), opts.ExternalIDs...)
	return walkPages("GET "+c.fullPath(templatesPath), o.Page, func(page int) ([]ChatTemplate, bool, error) {
		o.Page = page
		p, err := c.ChatTemplates(ctx, o)
		if err != nil {
			return nil, false, err
		}
		return p.Templates, p.Next, nil
	}, func(t ChatTemplate) string { return strconv.FormatInt(t.ID, 10) })
}

// GetChatTemplate returns the template id with its reviews (with=reviews), so
// ReviewStatus and Reviews say where its WhatsApp review stands. A template
// that does not exist, or that the integration did not create, matches
// ErrNotFound.
func (c *CRMClient) GetChatTemplate(ctx context.Context, id int64) (*ChatTemplate, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	var b templateBody
	if err := c.getObject(ctx, templatePath(id), url.Values{"with": {"reviews"}}, &b, func() bool { return b.ID != 0 }); err != nil {
		return nil, err
	}
	t := b.result()
	return &t, nil
}

// AddChatTemplates adds templates and returns them as amoCRM stored them, in
// input order, in requests of up to 50. Input is validated as a whole first
// (a *ValidationError names the item, such as "templates[1].Buttons[0].URL").
// amoCRM answers 422 when the account's template limit is reached.
//
// Adding is not idempotent: after a lost answer (a network error, 502, 503 or
// 504) the templates may exist, so such a request is not retried (a 429 is);
// give them an ExternalID and look for it with ChatTemplates before trying
// again. Partial failure is reported as by CreateContacts: the templates of
// the earlier requests and a *BatchError.
func (c *CRMClient) AddChatTemplates(ctx context.Context, templates []NewChatTemplate) ([]ChatTemplate, error) {
	if len(templates) == 0 {
		return nil, invalid("templates", "empty")
	}
	ids, err := requestIDs("templates", len(templates), func(i int) string { return templates[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]templateBody, len(templates))
	for i := range templates {
		if bodies[i], err = templates[i].fields().body(fmt.Sprintf("templates[%d]", i), true); err != nil {
			return nil, err
		}
		bodies[i].RequestID = flexString(ids[i])
	}
	return sendBatches[templateBody, ChatTemplate](ctx, c, batchCall{op: "add chat templates", method: http.MethodPost, path: templatesPath, key: "chat_templates", notIdempotent: true}, bodies, ids)
}

// AddChatTemplate adds one template. Errors are those of AddChatTemplates,
// except that a failed request gives its own error (usually an *APIError).
func (c *CRMClient) AddChatTemplate(ctx context.Context, t NewChatTemplate) (*ChatTemplate, error) {
	out, err := c.AddChatTemplates(ctx, []NewChatTemplate{t})
	if err != nil {
		return nil, unbatch(err)
	}
	return &out[0], nil
}

// UpdateChatTemplates changes templates (each item names its ID) and returns
// them as amoCRM stored them, in input order, in requests of up to 50.
// Partial failure is reported as by AddChatTemplates.
func (c *CRMClient) UpdateChatTemplates(ctx context.Context, updates []ChatTemplateUpdate) ([]ChatTemplate, error) {
	if len(updates) == 0 {
		return nil, invalid("updates", "empty")
	}
	ids, err := requestIDs("updates", len(updates), func(i int) string { return updates[i].RequestID })
	if err != nil {
		return nil, err
	}
	bodies := make([]templateBody, len(updates))
	for i := range updates {
		field := fmt.Sprintf("updates[%d]", i)
		if updates[i].ID <= 0 {
			return nil, invalid(field+".ID", "must be positive")
		}
		if bodies[i], err = updates[i].fields().body(field, false); err != nil {
			return nil, err
		}
		bodies[i].ID, bodies[i].RequestID = updates[i].ID, flexString(ids[i])
	}
	return sendBatches[templateBody, ChatTemplate](ctx, c, batchCall{op: "update chat templates", method: http.MethodPatch, path: templatesPath, key: "chat_templates"}, bodies, ids)
}

// UpdateChatTemplate changes the template id (PATCH
// /api/v4/chats/templates/{id}; u.ID is ignored) and returns it as amoCRM
// stored it.
func (c *CRMClient) UpdateChatTemplate(ctx context.Context, id int64, u ChatTemplateUpdate) (*ChatTemplate, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	b, err := u.fields().body("update", false)
	if err != nil {
		return nil, err
	}
	var ans templateBody
	if _, err := c.r.do(ctx, request{method: http.MethodPatch, path: templatePath(id), in: b, out: &ans}); err != nil {
		return nil, err
	}
	t := ans.result()
	return &t, nil
}

// DeleteChatTemplates deletes templates by id (and their attached files,
// unless used elsewhere), in requests of up to 50. A rejected id is named in
// the *BatchError's Failed when amoCRM says which.
func (c *CRMClient) DeleteChatTemplates(ctx context.Context, ids []int64) error {
	return c.deleteBatches(ctx, "delete chat templates", templatesPath, "ids", ids)
}

// DeleteChatTemplate deletes the template id.
func (c *CRMClient) DeleteChatTemplate(ctx context.Context, id int64) error {
	if id <= 0 {
		return invalid("id", "must be positive")
	}
	_, err := c.r.do(ctx, request{method: http.MethodDelete, path: templatePath(id)})
	return err
}

// checkPage reports a negative page number or a limit outside [0, max].
func checkPage(page, limit, max int) error {
	if page < 0 {
		return invalid("Page", "negative")
	}
	if limit < 0 || limit > max {
		return invalid("Limit", fmt.Sprintf("must be within [0, %d]", max))
	}
	return nil
}
