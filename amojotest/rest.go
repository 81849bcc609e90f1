package amojotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxBatch is the most items a REST v4 batch (contacts, chat links) may hold.
const MaxBatch = 250

// MaxUsersLimit is the largest page of GET /api/v4/users.
const MaxUsersLimit = 250

// The validation error codes of REST v4 400 answers, in
// "validation-errors"[].errors[].code.
const (
	CodeInvalidType        = "InvalidType"        // a field has the wrong JSON type
	CodeNotSupportedChoice = "NotSupportedChoice" // a field code, enum code or user id the account does not know
	CodeNotBlank           = "NotBlank"           // a required field is missing or empty
	CodeNotFound           = "NotFound"           // the contact or chat named does not exist
)

// itemErrors are the validation errors of one item of a REST v4 batch, as the
// fake writes them into "validation-errors".
type itemErrors struct {
	RequestID string       `json:"request_id"`
	Errors    []fieldError `json:"errors"`
}

type fieldError struct {
	Code   string `json:"code"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// writeProblem answers with an application/problem+json body, as REST v4
// does.
func writeProblem(w http.ResponseWriter, status int, detail string, items []itemErrors) {
	body := map[string]any{
		"title":  http.StatusText(status),
		"type":   "https://httpstatus.es/" + strconv.Itoa(status),
		"status": status,
		"detail": detail,
	}
	if len(items) > 0 {
		body["validation-errors"] = items
	}
	writeJSON(w, status, "application/problem+json", body)
}

// restResult is a REST handler's answer.
type restResult struct {
	status int
	body   any
	detail string       // for a problem answer
	items  []itemErrors // validation errors of a 400
	// problem, when set, is the whole error body (shapes other than
	// writeProblem's, such as the "errors" key of batch deletes).
	problem any
}

func problem(status int, format string, args ...any) restResult {
	return restResult{status: status, detail: fmt.Sprintf(format, args...)}
}

type restHandler func(r *http.Request, base string, acc *account, body []byte) restResult

// restRoute wraps h with fault injection, the Bearer token check and the rate
// limit.
func (s *Server) restRoute(route Route, h restHandler) http.Handler {
	return s.faulty(route, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		s.mu.Lock()
		acc, ok := s.bearerAccount(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			ok = false
		}
		if !ok {
			s.mu.Unlock()
			writeProblem(w, http.StatusUnauthorized, "Authorization: a valid Bearer token is required", nil)
			return
		}
		if s.refuseBlocked(w, acc) {
			s.mu.Unlock()
			return
		}
		if acc.limiter != nil && !acc.limiter.AllowN(s.cfg.rateNow(), 1) {
			s.noteRateLimited(acc)
			s.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusTooManyRequests, "more than the allowed requests per second", nil)
			return
		}
		base := "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
		w.Header().Set("X-Request-Id", s.nextRequestID())
		res := func() restResult {
			defer s.mu.Unlock() // held by no handler that panics
			return h(r, base, acc, x.body)
		}()
		switch {
		case res.problem != nil:
			writeJSON(w, res.status, "application/problem+json", res.problem)
		case res.status >= 400:
			writeProblem(w, res.status, res.detail, res.items)
		case res.body == nil:
			writeEmpty(w, res.status)
		default:
			writeJSON(w, res.status, "application/hal+json", res.body)
		}
	}))
}

func link(href string) map[string]any { return map[string]any{"href": href} }

// pageLinks are the _links of a page of a list: self, next when more
// follows, prev after the first page.
func pageLinks(pageURL func(page int) string, page int, more bool) map[string]any {
	links := map[string]any{"self": link(pageURL(page))}
	if more {
		links["next"] = link(pageURL(page + 1))
	}
	if page > 1 {
		links["prev"] = link(pageURL(page - 1))
	}
	return links
}

// withSet reads the with= parameter (comma-separated, repeatable).
func withSet(q url.Values) map[string]bool {
	set := map[string]bool{}
	for _, v := range q["with"] {
		for _, w := range strings.Split(v, ",") {
			set[strings.TrimSpace(w)] = true
		}
	}
	return set
}

func (s *Server) handleAccount(r *http.Request, base string, acc *account, _ []byte) restResult {
	with := withSet(r.URL.Query())
	var current int
	if len(acc.Users) > 0 {
		current = acc.Users[0].ID
	}
	body := map[string]any{
		"id":                         acc.ID,
		"name":                       acc.Name,
		"subdomain":                  acc.Subdomain,
		"current_user_id":            current,
		"country":                    "RU",
		"currency":                   "RUB",
		"customers_mode":             "disabled",
		"is_unsorted_on":             true,
		"is_loss_reason_enabled":     true,
		"is_helpbot_enabled":         false,
		"is_technical_account":       false,
		"contact_name_display_order": 1,
		"_links":                     map[string]any{"self": link(base + "/api/v4/account")},
	}
	if with["amojo_id"] {
		body["amojo_id"] = acc.AmojoID
	}
	return restResult{status: http.StatusOK, body: body}
}

func (s *Server) handleUsers(r *http.Request, base string, acc *account, _ []byte) restResult {
	q := r.URL.Query()
	page, limit := 1, 50
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return problem(http.StatusBadRequest, "page must be a positive integer")
		}
		page = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxUsersLimit {
			return problem(http.StatusBadRequest, "limit must be an integer from 1 to %d", MaxUsersLimit)
		}
		limit = n
	}
	with := withSet(q)
	total := len(acc.Users)
	if page-1 >= (total+limit-1)/limit { // before multiplying: page may be huge
		return restResult{status: http.StatusNoContent}
	}
	from := (page - 1) * limit
	to := min(from+limit, total)
	users := make([]map[string]any, 0, to-from)
	for _, u := range acc.Users[from:to] {
		item := map[string]any{
			"id":     u.ID,
			"name":   u.Name,
			"email":  u.Email,
			"lang":   "ru",
			"_links": map[string]any{"self": link(fmt.Sprintf("%s/api/v4/users/%d", base, u.ID))},
		}
		if with["amojo_id"] {
			item["amojo_id"] = u.AmojoID
		}
		users = append(users, item)
	}
	pageURL := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}, "limit": {strconv.Itoa(limit)}}
		if len(q["with"]) > 0 {
			v["with"] = q["with"]
		}
		return base + "/api/v4/users?" + v.Encode()
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_total_items": total,
		"_page":        page,
		"_page_count":  (total + limit - 1) / limit,
		"_links":       pageLinks(pageURL, page, to < total),
		"_embedded":    map[string]any{"users": users},
	}}
}

// parseBatch reads a REST v4 batch: a JSON array of 1..MaxBatch items.
func parseBatch(body []byte) ([]json.RawMessage, *restResult) {
	var items []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(trimmed, &items) != nil {
		res := problem(http.StatusBadRequest, "body must be a JSON array")
		return nil, &res
	}
	if len(items) == 0 {
		res := problem(http.StatusBadRequest, "empty batch")
		return nil, &res
	}
	if len(items) > MaxBatch {
		res := problem(http.StatusBadRequest, "more than %d items in one request", MaxBatch)
		return nil, &res
	}
	return items, nil
}

// itemChecker collects the validation errors of one batch item.
type itemChecker struct {
	errs []fieldError
}

func (c *itemChecker) add(code, path, detail string) {
	c.errs = append(c.errs, fieldError{Code: code, Path: path, Detail: detail})
}

func (c *itemChecker) wrongType(path, typ string) {
	c.add(CodeInvalidType, path, "This value should be of type "+typ+".")
}

// str reads an optional string field.
func (c *itemChecker) str(m map[string]json.RawMessage, key, path string) string {
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		c.wrongType(path, "string")
	}
	return s
}

// integer reads an optional integer field.
func (c *itemChecker) integer(m map[string]json.RawMessage, key, path string) (int64, bool) {
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return 0, false
	}
	var n json.Number
	if v[0] == '"' || json.Unmarshal(v, &n) != nil {
		c.wrongType(path, "int")
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		c.wrongType(path, "int")
		return 0, false
	}
	return i, true
}

func (c *itemChecker) object(raw json.RawMessage, path string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &m) != nil {
		c.wrongType(path, "object")
		return nil
	}
	return m
}

func (c *itemChecker) array(m map[string]json.RawMessage, key, path string) []json.RawMessage {
	v, ok := m[key]
	if !ok || string(v) == "null" {
		return nil
	}
	var a []json.RawMessage
	if json.Unmarshal(v, &a) != nil {
		c.wrongType(path, "array")
		return nil
	}
	return a
}

// enumCodes returns the enum codes of the multitext field PHONE or EMAIL, and
// nil for any other field code.
func enumCodes(field string) []string {
	switch field {
	case "PHONE":
		return []string{"WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"}
	case "EMAIL":
		return []string{"WORK", "PRIV", "OTHER"}
	}
	return nil
}

// The ids the fake gives the PHONE and EMAIL fields, for field_id.
const (
	PhoneFieldID = 1001
	EmailFieldID = 1002
)

func fieldCodeOf(id int64) string {
	switch id {
	case PhoneFieldID:
		return "PHONE"
	case EmailFieldID:
		return "EMAIL"
	}
	return ""
}

func (s *Server) handleContacts(_ *http.Request, base string, acc *account, body []byte) restResult {
	raws, bad := parseBatch(body)
	if bad != nil {
		return *bad
	}
	contacts := make([]*Contact, len(raws))
	reqIDs := make([]string, len(raws))
	var failed []itemErrors
	for i, raw := range raws {
		reqIDs[i] = strconv.Itoa(i)
		c := &itemChecker{}
		ct := &Contact{AccountID: acc.AmojoID, CreatedAt: s.now().UTC()}
		if m := c.object(raw, ""); m != nil {
			if id := c.str(m, "request_id", "request_id"); id != "" {
				reqIDs[i] = id
			}
			ct.Name = c.str(m, "name", "name")
			ct.FirstName = c.str(m, "first_name", "first_name")
			ct.LastName = c.str(m, "last_name", "last_name")
			if ct.Name == "" {
				ct.Name = strings.TrimSpace(ct.FirstName + " " + ct.LastName)
			}
			if uid, ok := c.integer(m, "responsible_user_id", "responsible_user_id"); ok {
				if !slices.ContainsFunc(acc.Users, func(u User) bool { return int64(u.ID) == uid }) {
					c.add(CodeNotSupportedChoice, "responsible_user_id", "The value you selected is not a valid choice.")
				}
				ct.ResponsibleUserID = int(uid)
			}
			for _, k := range []string{"created_by", "updated_by", "created_at", "updated_at"} {
				c.integer(m, k, k)
			}
			s.contactFields(c, m, ct)
			s.contactTags(c, m, ct)
		}
		contacts[i] = ct
		if len(c.errs) > 0 {
			failed = append(failed, itemErrors{RequestID: reqIDs[i], Errors: c.errs})
		}
	}
	if len(failed) > 0 {
		return restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: failed}
	}
	out := make([]map[string]any, len(contacts))
	for i, ct := range contacts {
		ct.ID = acc.nextContactID
		acc.nextContactID++
		acc.contacts = append(acc.contacts, ct)
		out[i] = map[string]any{
			"id":          ct.ID,
			"request_id":  reqIDs[i],
			"is_deleted":  false,
			"is_unsorted": false,
			"_links":      map[string]any{"self": link(fmt.Sprintf("%s/api/v4/contacts/%d", base, ct.ID))},
		}
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_links":    map[string]any{"self": link(base + "/api/v4/contacts")},
		"_embedded": map[string]any{"contacts": out},
	}}
}

// contactFields reads custom_fields_values: PHONE and EMAIL by field_code or
// field_id, values with an enum_code of that field.
func (s *Server) contactFields(c *itemChecker, m map[string]json.RawMessage, ct *Contact) {
	for i, raw := range c.array(m, "custom_fields_values", "custom_fields_values") {
		path := fmt.Sprintf("custom_fields_values.%d", i)
		f := c.object(raw, path)
		if f == nil {
			continue
		}
		code := c.str(f, "field_code", path+".field_code")
		id, hasID := c.integer(f, "field_id", path+".field_id")
		switch {
		case code != "":
			if enumCodes(code) == nil {
				c.add(CodeNotSupportedChoice, path+".field_code", "The value you selected is not a valid choice.")
				continue
			}
		case hasID:
			if code = fieldCodeOf(id); code == "" {
				c.add(CodeNotSupportedChoice, path+".field_id", "The value you selected is not a valid choice.")
				continue
			}
		default:
			c.add(CodeNotBlank, path+".field_id", "This value should not be blank.")
			continue
		}
		values := c.array(f, "values", path+".values")
		if len(values) == 0 {
			c.add(CodeNotBlank, path+".values", "This value should not be blank.")
		}
		for j, vraw := range values {
			vpath := fmt.Sprintf("%s.values.%d", path, j)
			v := c.object(vraw, vpath)
			if v == nil {
				continue
			}
			val := c.str(v, "value", vpath+".value")
			if val == "" {
				c.add(CodeNotBlank, vpath+".value", "This value should not be blank.")
			}
			enum := c.str(v, "enum_code", vpath+".enum_code")
			if enum != "" && !slices.Contains(enumCodes(code), enum) {
				c.add(CodeNotSupportedChoice, vpath+".enum_code", "The value you selected is not a valid choice.")
			}
			c.integer(v, "enum_id", vpath+".enum_id")
			fv := FieldValue{Value: val, EnumCode: enum}
			if code == "PHONE" {
				ct.Phones = append(ct.Phones, fv)
			} else {
				ct.Emails = append(ct.Emails, fv)
			}
		}
	}
}

// contactTags reads tags_to_add ([{id}|{name}]) and _embedded.tags.
func (s *Server) contactTags(c *itemChecker, m map[string]json.RawMessage, ct *Contact) {
	read := func(list []json.RawMessage, path string) {
		for i, raw := range list {
			p := fmt.Sprintf("%s.%d", path, i)
			t := c.object(raw, p)
			if t == nil {
				continue
			}
			name := c.str(t, "name", p+".name")
			id, hasID := c.integer(t, "id", p+".id")
			switch {
			case name != "":
				ct.Tags = append(ct.Tags, name)
			case hasID:
				ct.Tags = append(ct.Tags, "#"+strconv.FormatInt(id, 10))
			default:
				c.add(CodeNotBlank, p+".name", "This value should not be blank.")
			}
		}
	}
	read(c.array(m, "tags_to_add", "tags_to_add"), "tags_to_add")
	if raw, ok := m["_embedded"]; ok && string(raw) != "null" {
		if emb := c.object(raw, "_embedded"); emb != nil {
			read(c.array(emb, "tags", "_embedded.tags"), "_embedded.tags")
		}
	}
}

// chatOfAccount reports whether chat id belongs to a scope of acc.
func (s *Server) chatOfAccount(id string, acc *account) bool {
	ch, ok := s.chats[id]
	return ok && ch.scope.acc == acc
}

func (s *Server) handleLinkChats(_ *http.Request, _ string, acc *account, body []byte) restResult {
	raws, bad := parseBatch(body)
	if bad != nil {
		return *bad
	}
	type linkIn struct {
		chatID    string
		contactID int
		reqID     string
	}
	ins := make([]linkIn, len(raws))
	var failed []itemErrors
	for i, raw := range raws {
		c := &itemChecker{}
		in := linkIn{reqID: strconv.Itoa(i)}
		if m := c.object(raw, ""); m != nil {
			if id := c.str(m, "request_id", "request_id"); id != "" {
				in.reqID = id
			}
			in.chatID = c.str(m, "chat_id", "chat_id")
			contactID, ok := c.integer(m, "contact_id", "contact_id")
			in.contactID = int(contactID)
			switch {
			case in.chatID == "":
				c.add(CodeNotBlank, "chat_id", "This value should not be blank.")
			case !s.chatOfAccount(in.chatID, acc):
				c.add(CodeNotFound, "chat_id", "Chat not found.")
			}
			switch {
			case !ok:
				c.add(CodeNotBlank, "contact_id", "This value should not be blank.")
			case !slices.ContainsFunc(acc.contacts, func(ct *Contact) bool { return int64(ct.ID) == contactID }):
				c.add(CodeNotFound, "contact_id", "Contact not found.")
			}
		}
		ins[i] = in
		if len(c.errs) > 0 {
			failed = append(failed, itemErrors{RequestID: in.reqID, Errors: c.errs})
		}
	}
	if len(failed) > 0 {
		return restResult{status: http.StatusBadRequest, detail: "Request validation failed", items: failed}
	}
	out := make([]map[string]any, len(ins))
	for i, in := range ins {
		l, ok := acc.links[in.chatID]
		if !ok || l.ContactID != in.contactID {
			l = &Link{ID: acc.nextLinkID, ChatID: in.chatID, ContactID: in.contactID}
			acc.nextLinkID++
			acc.links[in.chatID] = l
		}
		out[i] = map[string]any{"chat_id": l.ChatID, "contact_id": l.ContactID, "id": l.ID, "request_id": in.reqID}
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_total_items": len(out),
		"_embedded":    map[string]any{"chats": out},
	}}
}

func (s *Server) handleListLinks(r *http.Request, _ string, acc *account, _ []byte) restResult {
	q := r.URL.Query()
	chatIDs := append(q["chat_id[]"], q["chat_id"]...)
	var contactIDs []int
	for _, v := range append(q["contact_id[]"], q["contact_id"]...) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return problem(http.StatusBadRequest, "contact_id must be an integer")
		}
		contactIDs = append(contactIDs, n)
	}
	if len(chatIDs) == 0 && len(contactIDs) == 0 {
		return problem(http.StatusBadRequest, "chat_id[] or contact_id[] required")
	}
	var found []*Link
	for _, l := range acc.links {
		if len(chatIDs) > 0 && !slices.Contains(chatIDs, l.ChatID) {
			continue
		}
		if len(contactIDs) > 0 && !slices.Contains(contactIDs, l.ContactID) {
			continue
		}
		found = append(found, l)
	}
	if len(found) == 0 {
		return restResult{status: http.StatusNoContent}
	}
	slices.SortFunc(found, func(a, b *Link) int { return a.ID - b.ID })
	out := make([]map[string]any, len(found))
	for i, l := range found {
		out[i] = map[string]any{"chat_id": l.ChatID, "contact_id": l.ContactID, "id": l.ID}
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_total_items": len(out),
		"_embedded":    map[string]any{"chats": out},
	}}
}

// RouteFindContacts is GET /api/v4/contacts, the contact search.
const RouteFindContacts Route = "find_contacts"

// maxContactsLimit is the largest page of GET /api/v4/contacts.
const maxContactsLimit = 250

// handleFindContacts lists the account's contacts, oldest first: query
// (case-insensitive, within the name, first and last name, phones and
// e-mails; a phone also matches by its digits), filter[created_at][from]
// and [to] (unix seconds, inclusive), page and limit (50 by default, at most
// 250). Nothing found, or a page past the last, answers 204.
func (s *Server) handleFindContacts(r *http.Request, base string, acc *account, _ []byte) restResult {
	q := r.URL.Query()
	page, limit := 1, 50
	for _, p := range []struct {
		key      string
		dst      *int
		min, max int
	}{{"page", &page, 1, 1 << 30}, {"limit", &limit, 1, maxContactsLimit}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				return problem(http.StatusBadRequest, "%s must be an integer from %d to %d", p.key, p.min, p.max)
			}
			*p.dst = n
		}
	}
	var from, to int64 = 0, 1<<63 - 1
	for key, dst := range map[string]*int64{"filter[created_at][from]": &from, "filter[created_at][to]": &to} {
		if v := q.Get(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return problem(http.StatusBadRequest, "%s must be a unix time", key)
			}
			*dst = n
		}
	}
	query := strings.ToLower(strings.TrimSpace(q.Get("query")))
	var found []*Contact
	for _, ct := range acc.contacts {
		if at := ct.CreatedAt.Unix(); at >= from && at <= to && contactMatches(ct, query) {
			found = append(found, ct)
		}
	}
	if page-1 >= (len(found)+limit-1)/limit {
		return restResult{status: http.StatusNoContent}
	}
	start := (page - 1) * limit
	end := min(start+limit, len(found))
	items := make([]map[string]any, 0, end-start)
	for _, ct := range found[start:end] {
		items = append(items, contactJSON(base, ct))
	}
	pageURL := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(p))
		v.Set("limit", strconv.Itoa(limit))
		return base + "/api/v4/contacts?" + v.Encode()
	}
	return restResult{status: http.StatusOK, body: map[string]any{
		"_page":     page,
		"_links":    pageLinks(pageURL, page, end < len(found)),
		"_embedded": map[string]any{"contacts": items},
	}}
}

// contactMatches reports whether query (lower case) is found in ct.
func contactMatches(ct *Contact, query string) bool {
	if query == "" {
		return true
	}
	for _, v := range []string{ct.Name, ct.FirstName, ct.LastName} {
		if strings.Contains(strings.ToLower(v), query) {
			return true
		}
	}
	digits := onlyDigits(query)
	for _, p := range ct.Phones {
		if strings.Contains(strings.ToLower(p.Value), query) || digits != "" && strings.Contains(onlyDigits(p.Value), digits) {
			return true
		}
	}
	for _, e := range ct.Emails {
		if strings.Contains(strings.ToLower(e.Value), query) {
			return true
		}
	}
	return false
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// contactJSON is a contact as GET /api/v4/contacts shows it.
func contactJSON(base string, ct *Contact) map[string]any {
	var fields []map[string]any
	for _, f := range []struct {
		id         int
		code, name string
		values     []FieldValue
	}{{PhoneFieldID, "PHONE", "Телефон", ct.Phones}, {EmailFieldID, "EMAIL", "Email", ct.Emails}} {
		if len(f.values) == 0 {
			continue
		}
		values := make([]map[string]any, len(f.values))
		for i, v := range f.values {
			values[i] = map[string]any{"value": v.Value, "enum_code": v.EnumCode}
		}
		fields = append(fields, map[string]any{"field_id": f.id, "field_name": f.name, "field_code": f.code, "field_type": "multitext", "values": values})
	}
	tags := make([]map[string]any, len(ct.Tags))
	for i, t := range ct.Tags {
		tags[i] = map[string]any{"name": t}
	}
	at := ct.CreatedAt.Unix()
	return map[string]any{
		"id":                   ct.ID,
		"name":                 ct.Name,
		"first_name":           ct.FirstName,
		"last_name":            ct.LastName,
		"responsible_user_id":  ct.ResponsibleUserID,
		"group_id":             0,
		"created_at":           at,
		"updated_at":           at,
		"is_deleted":           false,
		"custom_fields_values": fields, // null without phones and e-mails, as amoCRM answers
		"_links":               map[string]any{"self": link(fmt.Sprintf("%s/api/v4/contacts/%d", base, ct.ID))},
		"_embedded":            map[string]any{"tags": tags},
	}
}
