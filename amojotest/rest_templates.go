package amojotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The limits of the chat templates API.
const (
	// MaxChatTemplates is the fake's template limit per account, beyond which
	// adding answers 422 (amoCRM has one but documents no number).
	MaxChatTemplates = 100
	// MaxTemplatesLimit is the largest page of GET /api/v4/chats/templates.
	MaxTemplatesLimit = 50
)

// The review states of a WhatsApp template.
const (
	ReviewPending  = "review"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
	ReviewPaused   = "paused"
)

// overallReview is the review_status of a template: "" before any review
// (a draft); "review" while any review runs; otherwise rejected, paused or
// approved, in that order of precedence. The precedence is the fake's
// choice: amoCRM does not say how the reviews of several sources combine.
func (t *ChatTemplate) overallReview() string {
	if len(t.Reviews) == 0 {
		return ""
	}
	for _, st := range []string{ReviewPending, ReviewRejected, ReviewPaused} {
		if slices.ContainsFunc(t.Reviews, func(r Review) bool { return r.Status == st }) {
			return st
		}
	}
	return ReviewApproved
}

func templateJSON(base string, accID int, t *ChatTemplate, reviews bool, reqID string) map[string]any {
	buttons := make([]map[string]any, 0, len(t.Buttons))
	for _, b := range t.Buttons {
		bm := map[string]any{"type": b.Type, "text": b.Text}
		if b.URL != "" {
			bm["url"] = b.URL
		}
		buttons = append(buttons, bm)
	}
	var attachment any
	if a := t.Attachment; a != nil {
		attachment = map[string]any{"id": a.ID, "name": a.Name, "type": a.Type, "is_external": a.IsExternal}
	}
	var examples any = []any{} // amoCRM sends [] for none
	if len(t.WABAExamples) > 0 {
		examples = t.WABAExamples
	}
	m := map[string]any{
		"id": t.ID, "account_id": accID, "name": t.Name, "content": t.Content, "is_editable": t.Editable,
		"type": t.Type, "external_id": t.ExternalID, "buttons": buttons, "attachment": attachment,
		"waba_category": t.WABACategory, "waba_language": t.WABALanguage, "waba_header": nil,
		"waba_header_type": t.WABAHeaderType, "waba_footer": t.WABAFooter, "waba_examples": examples,
		"created_at": t.CreatedAt.Unix(), "updated_at": t.UpdatedAt.Unix(),
		"_links": map[string]any{"self": link(fmt.Sprintf("%s/api/v4/chats/templates/%d", base, t.ID))},
	}
	if t.WABAHeader != "" {
		m["waba_header"] = t.WABAHeader
	}
	if reviews {
		var status any
		if s := t.overallReview(); s != "" {
			status = s
		}
		m["review_status"] = status
		m["is_on_review"] = status == ReviewPending
		list := make([]map[string]any, 0, len(t.Reviews))
		for _, r := range t.Reviews {
			list = append(list, reviewJSON(r))
		}
		m["_embedded"] = map[string]any{"reviews": list}
	}
	if reqID != "" {
		m["request_id"] = reqID
	}
	return m
}

func reviewJSON(r Review) map[string]any {
	return map[string]any{"id": r.ID, "source_id": r.SourceID, "status": r.Status, "reject_reason": r.RejectReason}
}

func (st *crmState) template(id int) *ChatTemplate {
	for _, t := range st.templates {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// checkTemplateFields reads the writable fields of a template item into t.
func checkTemplateFields(c *itemChecker, m map[string]json.RawMessage, t *ChatTemplate, adding bool) {
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &t.Name}, {"content", &t.Content}} {
		if _, ok := m[f.key]; ok || adding {
			v := c.str(m, f.key, f.key)
			if strings.TrimSpace(v) == "" {
				c.add(CodeNotBlank, f.key, "This value should not be blank.")
			}
			*f.dst = v
		}
	}
	if e, ok := c.boolean(m, "is_editable", "is_editable"); ok {
		t.Editable = e
	}
	if _, ok := m["type"]; ok {
		t.Type = c.str(m, "type", "type")
		if t.Type != "amocrm" && t.Type != "waba" {
			c.add(CodeNotSupportedChoice, "type", "The value you selected is not a valid choice.")
		}
	}
	if _, ok := m["external_id"]; ok {
		t.ExternalID = c.str(m, "external_id", "external_id")
	}
	if _, ok := m["buttons"]; ok {
		t.Buttons = nil
		for i, raw := range c.array(m, "buttons", "buttons") {
			path := fmt.Sprintf("buttons.%d", i)
			bm := c.object(raw, path)
			if bm == nil {
				continue
			}
			b := TemplateButton{Type: c.str(bm, "type", path+".type"), Text: c.str(bm, "text", path+".text"), URL: c.str(bm, "url", path+".url")}
			switch {
			case b.Type != "inline" && b.Type != "url":
				c.add(CodeNotSupportedChoice, path+".type", "The value you selected is not a valid choice.")
			case b.Text == "":
				c.add(CodeNotBlank, path+".text", "This value should not be blank.")
			case b.Type == "url" && !strings.HasPrefix(b.URL, "http://") && !strings.HasPrefix(b.URL, "https://"):
				c.add(CodeInvalidType, path+".url", "This value is not a valid URL.")
			}
			t.Buttons = append(t.Buttons, b)
		}
	}
	if raw, ok := m["attachment"]; ok {
		t.Attachment = nil
		if string(raw) != "null" {
			if am := c.object(raw, "attachment"); am != nil {
				a := &TemplateAttachment{ID: c.str(am, "id", "attachment.id"), Name: c.str(am, "name", "attachment.name"), Type: c.str(am, "type", "attachment.type")}
				a.IsExternal, _ = c.boolean(am, "is_external", "attachment.is_external")
				if a.ID == "" {
					c.add(CodeNotBlank, "attachment.id", "This value should not be blank.")
				}
				if !slices.Contains([]string{"picture", "file", "document", "video"}, a.Type) {
					c.add(CodeNotSupportedChoice, "attachment.type", "The value you selected is not a valid choice.")
				}
				t.Attachment = a
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"waba_category", &t.WABACategory}, {"waba_language", &t.WABALanguage}, {"waba_header", &t.WABAHeader},
		{"waba_header_type", &t.WABAHeaderType}, {"waba_footer", &t.WABAFooter}} {
		if _, ok := m[f.key]; ok {
			*f.dst = c.str(m, f.key, f.key)
		}
	}
	if t.WABACategory != "" && !slices.Contains([]string{"UTILITY", "AUTHENTICATION", "MARKETING"}, t.WABACategory) {
		c.add(CodeNotSupportedChoice, "waba_category", "The value you selected is not a valid choice.")
	}
	if utf8.RuneCountInString(t.WABAHeader) > 60 {
		c.add(CodeInvalidType, "waba_header", "This value is too long. It should have 60 characters or less.")
	}
	switch t.WABAHeaderType {
	case "", "text":
	case "media":
		if t.Attachment == nil {
			c.add(CodeNotBlank, "attachment", "A media header needs an attachment.")
		}
	default:
		c.add(CodeNotSupportedChoice, "waba_header_type", "The value you selected is not a valid choice.")
	}
	if raw, ok := m["waba_examples"]; ok && string(raw) != "null" {
		var ex map[string]string
		if json.Unmarshal(raw, &ex) != nil {
			var empty []any
			if json.Unmarshal(raw, &empty) != nil || len(empty) > 0 {
				c.wrongType("waba_examples", "object")
			}
		}
		t.WABAExamples = ex
	}
}

func templatesAnswer(base string, accID int, ts []*ChatTemplate, reqIDs []string) restResult {
	out := make([]map[string]any, len(ts))
	for i, t := range ts {
		out[i] = templateJSON(base, accID, t, false, reqIDs[i])
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_total_items": len(out),
		"_links":       map[string]any{"self": link(base + "/api/v4/chats/templates")},
		"_embedded":    map[string]any{"chat_templates": out},
	}}
}

func (s *Server) handleListTemplates(r *http.Request, base string, acc *account, _ []byte) restResult {
	q := r.URL.Query()
	ext := filterValues(q, "external_id")
	var found []*ChatTemplate
	for _, t := range acc.crm.templates {
		if len(ext) == 0 || slices.Contains(ext, t.ExternalID) {
			found = append(found, t)
		}
	}
	reviews := withSet(q)["reviews"]
	return pagedAnswer(r, base, "/api/v4/chats/templates", "chat_templates", MaxTemplatesLimit, found, func(t *ChatTemplate) map[string]any {
		return templateJSON(base, acc.ID, t, reviews, "")
	})
}

func (s *Server) handleGetTemplate(r *http.Request, base string, acc *account, _ []byte) restResult {
	id, _ := pathID(r)
	t := acc.crm.template(id)
	if t == nil {
		return problem(http.StatusNotFound, "template %d not found", id)
	}
	return restResult{status: http.StatusOK, body: templateJSON(base, acc.ID, t, withSet(r.URL.Query())["reviews"], "")}
}

func (s *Server) handleAddTemplates(_ *http.Request, base string, acc *account, body []byte) restResult {
	raws, bad := parseBatch(body)
	if bad != nil {
		return *bad
	}
	st := &acc.crm
	if len(st.templates)+len(raws) > MaxChatTemplates {
		return problem(http.StatusUnprocessableEntity, "template limit reached (%d)", MaxChatTemplates)
	}
	now := s.now().UTC().Truncate(time.Second)
	ts, reqIDs, bad := checkBatch(raws, func(c *itemChecker, m map[string]json.RawMessage, _ []*ChatTemplate) *ChatTemplate {
		t := &ChatTemplate{AccountID: acc.AmojoID, Type: "amocrm", CreatedAt: now, UpdatedAt: now}
		checkTemplateFields(c, m, t, true)
		return t
	})
	if bad != nil {
		return *bad
	}
	for _, t := range ts {
		st.nextTemplate++
		t.ID = 9100 + st.nextTemplate
		st.templates = append(st.templates, t)
	}
	return templatesAnswer(base, acc.ID, ts, reqIDs)
}

// updateTemplate applies one update item to a copy of t.
func (s *Server) updateTemplate(c *itemChecker, m map[string]json.RawMessage, t *ChatTemplate) *ChatTemplate {
	next := t.clone()
	if t.Type == "waba" && len(t.Reviews) > 0 {
		c.add(CodeInvalidType, "id", "A WhatsApp template can be changed only while it is a draft.")
	}
	checkTemplateFields(c, m, &next, false)
	next.UpdatedAt = s.now().UTC().Truncate(time.Second)
	return &next
}

func (s *Server) handleUpdateTemplates(_ *http.Request, base string, acc *account, body []byte) restResult {
	raws, bad := parseBatch(body)
	if bad != nil {
		return *bad
	}
	ups, reqIDs, bad := checkUpdates(raws, acc.crm.template, s.updateTemplate)
	if bad != nil {
		return *bad
	}
	ts := make([]*ChatTemplate, len(ups))
	for i, u := range ups {
		*u.old = *u.next
		ts[i] = u.old
	}
	return templatesAnswer(base, acc.ID, ts, reqIDs)
}

func (s *Server) handleUpdateTemplate(r *http.Request, base string, acc *account, body []byte) restResult {
	id, _ := pathID(r)
	t := acc.crm.template(id)
	if t == nil {
		return problem(http.StatusNotFound, "template %d not found", id)
	}
	next, _, bad := checkBatch([]json.RawMessage{body}, func(c *itemChecker, m map[string]json.RawMessage, _ []*ChatTemplate) *ChatTemplate {
		return s.updateTemplate(c, m, t)
	})
	if bad != nil {
		return *bad
	}
	*t = *next[0]
	// The single update answers the object itself, not a collection.
	return restResult{status: http.StatusOK, body: templateJSON(base, acc.ID, t, false, "")}
}

func templateID(t *ChatTemplate) int { return t.ID }

func (s *Server) handleDeleteTemplates(_ *http.Request, _ string, acc *account, body []byte) restResult {
	return deleteBatch(&acc.crm.templates, templateID, body)
}

func (s *Server) handleDeleteTemplate(r *http.Request, _ string, acc *account, _ []byte) restResult {
	return deleteOne(&acc.crm.templates, templateID, r)
}

// handleReview sends a WhatsApp template to review: one review per WABA
// source of the account, replacing earlier reviews. A template that is not
// of type waba, is on review already, or an account without a WABA source
// get 400.
func (s *Server) handleReview(r *http.Request, _ string, acc *account, body []byte) restResult {
	id, _ := pathID(r)
	st := &acc.crm
	t := st.template(id)
	if t == nil {
		return problem(http.StatusNotFound, "template %d not found", id)
	}
	c := &itemChecker{}
	if c.object(body, ""); len(c.errs) > 0 {
		return problem(http.StatusBadRequest, "body must be a JSON object")
	}
	if t.Type != "waba" {
		return problem(http.StatusBadRequest, "only templates of type waba are reviewed")
	}
	if t.overallReview() == ReviewPending {
		return problem(http.StatusBadRequest, "the template is on review already")
	}
	var reviews []Review
	for _, src := range st.sources {
		if slices.ContainsFunc(src.Services, func(sv SourceService) bool { return sv.Type == "whatsapp" && sv.WABA }) {
			st.nextReview++
			reviews = append(reviews, Review{ID: 4400 + st.nextReview, SourceID: src.ID, Status: ReviewPending})
		}
	}
	if len(reviews) == 0 {
		return problem(http.StatusBadRequest, "the integration has no WABA source (services[].params.waba)")
	}
	t.Reviews = reviews
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	out := make([]map[string]any, len(reviews))
	for i, rv := range reviews {
		out[i] = reviewJSON(rv)
	}
	return restResult{status: http.StatusOK, body: map[string]any{"_embedded": map[string]any{"reviews": out}}}
}

// handleReviewStatus records Meta's decision on one review.
func (s *Server) handleReviewStatus(r *http.Request, _ string, acc *account, body []byte) restResult {
	id, _ := pathID(r)
	t := acc.crm.template(id)
	if t == nil {
		return problem(http.StatusNotFound, "template %d not found", id)
	}
	reviewID, _ := strconv.Atoi(r.PathValue("review"))
	i := slices.IndexFunc(t.Reviews, func(rv Review) bool { return rv.ID == reviewID })
	if i < 0 {
		return problem(http.StatusNotFound, "review %d not found", reviewID)
	}
	c := &itemChecker{}
	rv := t.Reviews[i]
	if m := c.object(body, ""); m != nil {
		if _, ok := m["status"]; ok {
			rv.Status = c.str(m, "status", "status")
			if !slices.Contains([]string{ReviewApproved, ReviewPaused, ReviewRejected}, rv.Status) {
				c.add(CodeNotSupportedChoice, "status", "The value you selected is not a valid choice.")
			}
		}
		if _, ok := m["reject_reason"]; ok {
			rv.RejectReason = c.str(m, "reject_reason", "reject_reason")
			if utf8.RuneCountInString(rv.RejectReason) > 65535 {
				c.add(CodeInvalidType, "reject_reason", "This value is too long.")
			}
		}
	}
	if len(c.errs) > 0 {
		return restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: []itemErrors{{RequestID: "0", Errors: c.errs}}}
	}
	t.Reviews[i] = rv
	t.UpdatedAt = s.now().UTC().Truncate(time.Second)
	return restResult{status: http.StatusOK, body: reviewJSON(rv)}
}
