package amojo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxRejectReasonLen is the longest ReviewDecision.RejectReason, in characters.
const MaxRejectReasonLen = 65535

// ReviewDecision is Meta's decision on a WhatsApp template, as the integration
// reports it to amoCRM: Status ReviewApproved, ReviewPaused or ReviewRejected,
// and for a rejection the reason, free text.
type ReviewDecision struct {
	Status       ReviewStatus `json:"status"`
	RejectReason string       `json:"reject_reason"`
}

func (d ReviewDecision) validate() error {
	switch d.Status {
	case ReviewApproved, ReviewPaused, ReviewRejected:
	case "":
		return invalid("Status", "required")
	default:
		return invalid("Status", fmt.Sprintf("%q cannot be set (want approved, paused or rejected)", d.Status))
	}
	if n := utf8.RuneCountInString(d.RejectReason); n > MaxRejectReasonLen {
		return invalid("RejectReason", fmt.Sprintf("%d characters, more than %d", n, MaxRejectReasonLen))
	}
	return nil
}

func reviewPath(templateID int64) string { return templatePath(templateID) + "/review" }

// SendChatTemplateForReview sends the WhatsApp template id to review (POST
// /api/v4/chats/templates/{id}/review) and returns one review per WABA
// source, in state ReviewPending. The integration then submits the template
// to Meta for each review's SourceID and reports the outcome with
// SetChatTemplateReviewStatus: no webhook brings Meta's decision back.
//
// The call is not retried after a lost answer (a network error, 502, 503 or
// 504), since a repeat could start the review again; read the template with
// GetChatTemplate to see whether it is under review.
func (c *CRMClient) SendChatTemplateForReview(ctx context.Context, id int64) ([]TemplateReview, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	var ans halEmbedded
	status, err := c.r.do(ctx, request{method: http.MethodPost, path: reviewPath(id), in: struct{}{}, out: &ans, notIdempotent: true})
	if err != nil {
		return nil, err
	}
	bodies, err := halItems[reviewBody](ans, "reviews")
	if err != nil {
		return nil, &DecodeError{Method: http.MethodPost, Path: c.fullPath(reviewPath(id)), StatusCode: status, Err: err}
	}
	out := make([]TemplateReview, len(bodies))
	for i, b := range bodies {
		out[i] = b.review()
	}
	return out, nil
}

// SetChatTemplateReviewStatus reports Meta's decision on review reviewID of
// template templateID (POST /api/v4/chats/templates/{id}/review/{review_id})
// and returns the review as amoCRM stored it. Setting the same decision again
// is harmless, so the call is retried like any other.
func (c *CRMClient) SetChatTemplateReviewStatus(ctx context.Context, templateID, reviewID int64, d ReviewDecision) (*TemplateReview, error) {
	if templateID <= 0 {
		return nil, invalid("templateID", "must be positive")
	}
	if reviewID <= 0 {
		return nil, invalid("reviewID", "must be positive")
	}
	if err := d.validate(); err != nil {
		return nil, within("ReviewDecision", err)
	}
	path := reviewPath(templateID) + "/" + strconv.FormatInt(reviewID, 10)
	var b reviewBody
	if _, err := c.r.do(ctx, request{method: http.MethodPost, path: path, in: d, out: &b}); err != nil {
		return nil, err
	}
	r := b.review()
	return &r, nil
}

// MaxTemplateReviewWebhookBody is the largest body ParseTemplateReviewWebhook
// accepts; read the request through http.MaxBytesReader with it.
const MaxTemplateReviewWebhookBody = 1 << 20

// The bounds of a form-encoded webhook body.
const (
	maxFormPairs = 10000
	maxFormDepth = 12
)

// TemplateReviewWebhook is the add_chat_template_review account webhook:
// amoCRM sends it when a user sends a WhatsApp template to review in the CRM.
// Templates are the templates of its "add" list, each with the fields amoCRM
// sent (Reviews, one per WABA source; booleans and numbers arrive as
// strings). AccountID and Subdomain come from account[id] and
// account[subdomain] when the body has them.
//
// Account webhooks carry no signature: treat the body as a hint. Re-read the
// template with GetChatTemplate before submitting anything to Meta, put an
// unguessable token in the webhook's URL, and handle a review id seen before
// as done (amoCRM may deliver the same hook again: after a failed answer it
// retries after 5 and 15 minutes).
type TemplateReviewWebhook struct {
	Templates []ChatTemplate
	AccountID int64
	Subdomain string
}

// ParseTemplateReviewWebhook decodes the body of an add_chat_template_review
// webhook: application/x-www-form-urlencoded with PHP-style bracket keys
// (add[0][reviews][0][status]=review). The "add" list is read at the top
// level or under one top-level key (amoCRM documents only the part from
// "add" on). A body that is not such a form, has no "add" list, or has a
// number or boolean field that does not parse is an error; unknown keys are
// ignored.
func ParseTemplateReviewWebhook(body []byte) (*TemplateReviewWebhook, error) {
	if len(body) > MaxTemplateReviewWebhookBody {
		return nil, fmt.Errorf("amojo: template review webhook: body over %d bytes", MaxTemplateReviewWebhookBody)
	}
	root, err := parseBracketForm(string(body))
	if err != nil {
		return nil, fmt.Errorf("amojo: template review webhook: %w", err)
	}
	add, err := findAddList(root)
	if err != nil {
		return nil, fmt.Errorf("amojo: template review webhook: %w", err)
	}
	hook := &TemplateReviewWebhook{Templates: []ChatTemplate{}}
	if acc := root.kids["account"]; acc != nil && !acc.leaf {
		var d formDecoder
		hook.AccountID = d.int(acc, "id")
		hook.Subdomain = d.str(acc, "subdomain")
		if d.err != nil {
			return nil, fmt.Errorf("amojo: template review webhook: %w", d.err)
		}
	}
	for _, n := range add.list() {
		var d formDecoder
		t := d.template(n)
		if d.err != nil {
			return nil, fmt.Errorf("amojo: template review webhook: %w", d.err)
		}
		hook.Templates = append(hook.Templates, t)
	}
	return hook, nil
}

// findAddList returns the "add" list at the top of root or under the one
// top-level key that has it.
func findAddList(root *formNode) (*formNode, error) {
	if add, ok := root.kids["add"]; ok {
		if add.leaf {
			return nil, errors.New("add is not a list")
		}
		return add, nil
	}
	var found *formNode
	for _, k := range root.keys {
		n := root.kids[k]
		if n.leaf {
			continue
		}
		if add, ok := n.kids["add"]; ok && !add.leaf {
			if found != nil {
				return nil, errors.New("more than one add list")
			}
			found = add
		}
	}
	if found == nil {
		return nil, errors.New("no add list")
	}
	return found, nil
}

// formNode is a value of a PHP-style form: a leaf string or a branch of keyed
// children.
type formNode struct {
	path  string // the key that leads here, such as add[0][reviews]
	leaf  bool
	value string
	keys  []string // children in the order first seen
	kids  map[string]*formNode
}

func newFormBranch(path string) *formNode { return &formNode{path: path, kids: map[string]*formNode{}} }

// child is the path of n's child seg.
func (n *formNode) child(seg string) string {
	if n.path == "" {
		return seg
	}
	return n.path + "[" + seg + "]"
}

// parseBracketForm decodes a form body whose keys may be PHP bracket paths,
// a[b][0]=v, into a tree. A later value for the same key replaces an
// earlier one (as in PHP); "a[]" appends. A key that is used both as a value
// and as a list is an error.
func parseBracketForm(s string) (*formNode, error) {
	root := newFormBranch("")
	pairs := 0
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		if pairs++; pairs > maxFormPairs {
			return nil, fmt.Errorf("more than %d fields", maxFormPairs)
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("field %d: bad escape in the key", pairs)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("field %q: bad escape in the value", key)
		}
		path, err := splitBracketKey(key)
		if err != nil {
			return nil, err
		}
		if err := root.insert(path, value); err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
	}
	return root, nil
}

// splitBracketKey splits "a[b][0]" into a, b, 0.
func splitBracketKey(key string) ([]string, error) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		if key == "" {
			return nil, errors.New("empty field name")
		}
		return []string{key}, nil
	}
	if i == 0 {
		return nil, fmt.Errorf("field %q: no name before [", key)
	}
	path := []string{key[:i]}
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("field %q: text after ]", key)
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("field %q: unclosed [", key)
		}
		path = append(path, rest[1:j])
		rest = rest[j+1:]
		if len(path) > maxFormDepth {
			return nil, fmt.Errorf("field %q: nested deeper than %d", key, maxFormDepth)
		}
	}
	return path, nil
}

func (n *formNode) insert(path []string, value string) error {
	for i, seg := range path {
		if seg == "" {
			seg = strconv.Itoa(len(n.keys))
		}
		child, ok := n.kids[seg]
		last := i == len(path)-1
		switch {
		case !ok && last:
			n.kids[seg] = &formNode{path: n.child(seg), leaf: true, value: value}
			n.keys = append(n.keys, seg)
			return nil
		case !ok:
			child = newFormBranch(n.child(seg))
			n.kids[seg] = child
			n.keys = append(n.keys, seg)
		case last && child.leaf:
			child.value = value
			return nil
		case last || child.leaf:
			return errors.New("used both as a value and as a list")
		}
		n = child
	}
	return nil
}

// list returns the branch children of n: in numeric order when every key is
// a number, else in the order first seen. Leaves are skipped.
func (n *formNode) list() []*formNode {
	keys := append([]string(nil), n.keys...)
	numeric := true
	for _, k := range keys {
		if _, err := strconv.ParseUint(k, 10, 63); err != nil {
			numeric = false
			break
		}
	}
	if numeric {
		sort.SliceStable(keys, func(a, b int) bool {
			x, _ := strconv.ParseUint(keys[a], 10, 63)
			y, _ := strconv.ParseUint(keys[b], 10, 63)
			return x < y
		})
	}
	out := make([]*formNode, 0, len(keys))
	for _, k := range keys {
		if c := n.kids[k]; !c.leaf {
			out = append(out, c)
		}
	}
	return out
}

// formDecoder reads typed fields of form nodes and keeps the first error.
type formDecoder struct {
	err error
}

func (d *formDecoder) fail(n *formNode, key, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", n.child(key), fmt.Sprintf(format, args...))
	}
}

// str returns the leaf key of n ("" when absent).
func (d *formDecoder) str(n *formNode, key string) string {
	c, ok := n.kids[key]
	if !ok {
		return ""
	}
	if !c.leaf {
		d.fail(n, key, "a list where a value belongs")
		return ""
	}
	return c.value
}

func (d *formDecoder) int(n *formNode, key string) int64 {
	s := strings.TrimSpace(d.str(n, key))
	if s == "" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.fail(n, key, "%q is not an integer", s)
	}
	return v
}

func (d *formDecoder) bool(n *formNode, key string) bool {
	switch s := strings.TrimSpace(d.str(n, key)); s {
	case "", "0", "false":
		return false
	case "1", "true":
		return true
	default:
		d.fail(n, key, "%q is not a boolean", s)
		return false
	}
}

// branch returns the list or object key of n, nil when absent or empty.
func (d *formDecoder) branch(n *formNode, key string) *formNode {
	c, ok := n.kids[key]
	if !ok {
		return nil
	}
	if c.leaf {
		if c.value != "" {
			d.fail(n, key, "a value where a list belongs")
		}
		return nil
	}
	return c
}

// template reads one item of the add list.
func (d *formDecoder) template(n *formNode) ChatTemplate {
	t := ChatTemplate{
		ID:             d.int(n, "id"),
		AccountID:      d.int(n, "account_id"),
		Name:           d.str(n, "name"),
		Content:        d.str(n, "content"),
		Editable:       d.bool(n, "is_editable"),
		Type:           TemplateType(d.str(n, "type")),
		ExternalID:     d.str(n, "external_id"),
		WABACategory:   WABACategory(d.str(n, "waba_category")),
		WABALanguage:   d.str(n, "waba_language"),
		WABAHeader:     d.str(n, "waba_header"),
		WABAHeaderType: d.str(n, "waba_header_type"),
		WABAFooter:     d.str(n, "waba_footer"),
		CreatedAt:      unixTime(d.int(n, "created_at"), 0),
		UpdatedAt:      unixTime(d.int(n, "updated_at"), 0),
		ReviewStatus:   ReviewStatus(d.str(n, "review_status")),
		OnReview:       d.bool(n, "is_on_review"),
	}
	if b := d.branch(n, "buttons"); b != nil {
		for _, bn := range b.list() {
			t.Buttons = append(t.Buttons, TemplateButton{Type: ButtonType(d.str(bn, "type")), Text: d.str(bn, "text"), URL: d.str(bn, "url")})
		}
	}
	if a := d.branch(n, "attachment"); a != nil {
		t.Attachment = &TemplateAttachment{ID: d.str(a, "id"), Name: d.str(a, "name"), Type: d.str(a, "type"), IsExternal: d.bool(a, "is_external")}
	}
	if ex := d.branch(n, "waba_examples"); ex != nil {
		for _, k := range ex.keys {
			if v := ex.kids[k]; v.leaf {
				if t.WABAExamples == nil {
					t.WABAExamples = map[string]string{}
				}
				t.WABAExamples[k] = v.value
			}
		}
	}
	if r := d.branch(n, "reviews"); r != nil {
		for _, rn := range r.list() {
			t.Reviews = append(t.Reviews, TemplateReview{
				ID: d.int(rn, "id"), SourceID: d.int(rn, "source_id"),
				Status: ReviewStatus(d.str(rn, "status")), RejectReason: d.str(rn, "reject_reason"),
			})
		}
	}
	return t
}
