package amojo

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. An *APIError matches the one that fits its status code with
// errors.Is, so callers can branch without looking at numbers:
//
//	if errors.Is(err, amojo.ErrNotFound) { … }
var (
	// ErrInvalidSignature reports a signature that does not match: a webhook whose
	// X-Signature is wrong, or an amojo answer 403 (wrong secret, tampered body,
	// clock skew beyond the 15-minute window).
	ErrInvalidSignature = errors.New("amojo: invalid signature")
	// ErrNotFound reports a 404: unknown channel, scope, chat or message.
	ErrNotFound = errors.New("amojo: not found")
	// ErrRateLimited reports a 429 Too Many Requests.
	ErrRateLimited = errors.New("amojo: rate limited")
	// ErrUnauthorized reports a 401 from the REST API: missing, expired or revoked token.
	ErrUnauthorized = errors.New("amojo: unauthorized")
	// ErrAccountBlocked reports a REST v4 403 whose body is not JSON (an
	// empty body is a plain 403): the
	// HTML "403 Forbidden" page amoCRM's front servers show when they block
	// an account or IP address, typically after sustained 429s. It is never
	// retried; stop calling the account and tell its operator (see
	// APIError.Error for the text).
	ErrAccountBlocked = errors.New("amojo: account blocked by amoCRM")
)

// maxErrorBody is how much of an error response body an APIError keeps.
const maxErrorBody = 4 << 10

// maxErrorDecode is how much of an error response body is read and decoded:
// a REST v4 answer naming 250 invalid items runs well past maxErrorBody.
const maxErrorDecode = 1 << 20

// APIError is a response with a status code outside 2xx. It carries what amoCRM
// said: the status, amojo's error code and message when the body has them, the
// problem+json fields and per-item validation errors of the REST API (decoded
// from up to 1 MiB of body), the Retry-After delay, the Location of a redirect,
// and the raw body (truncated to 4 KiB). Should the server echo the request's
// token or signature, they are replaced by "[redacted]" in every field.
type APIError struct {
	StatusCode int
	Method     string
	Path       string // request path, without host and query
	Code       string // machine-readable code from the body, when there is one
	Message    string // human-readable message from the body, when there is one
	RetryAfter time.Duration
	Body       []byte // raw response body, truncated

	// Title, Type and Detail are the fields of a REST v4 problem+json body.
	Title  string
	Type   string
	Detail string
	// ValidationErrors lists the per-item errors of a REST v4 400 answer,
	// from its "validation-errors" key and from the "errors" key some batch
	// calls (such as deleting sources) use instead.
	ValidationErrors []ItemErrors
	// Location is where a 3xx answer points. Clients never follow redirects:
	// the signed request or the token would go to that other server.
	Location string
	// Hint is the problem+json "hint" (OAuth errors): English text, unlike
	// Title and Detail, and the best field to branch on.
	Hint string
	// RequestID is the X-Request-Id header of the answer, when amoCRM sent
	// one: what amoCRM support can trace. Answers that never reached the API
	// (such as the HTML block page) have none.
	RequestID string
	// ContentType is the answer's Content-Type header, which tells an HTML
	// page from a JSON error.
	ContentType string

	rest bool // the answer came from the REST v4 API, which signs nothing
	json bool // the body is JSON
}

// ItemErrors are the validation errors of one item of a REST v4 batch; RequestID
// is the item's request_id (its index in the batch when none was sent). It
// decodes both shapes amoCRM uses: "errors" as an array of FieldError
// ("validation-errors") or as one object (the "errors" key of batch deletes).
type ItemErrors struct {
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors"`
}

// UnmarshalJSON reads request_id as a string or a number and errors as an
// array or a single object.
func (it *ItemErrors) UnmarshalJSON(data []byte) error {
	var w struct {
		RequestID flexString      `json:"request_id"`
		Errors    json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	it.RequestID, it.Errors = string(w.RequestID), nil
	raw := bytes.TrimSpace(w.Errors)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		var fe FieldError
		if err := json.Unmarshal(raw, &fe); err != nil {
			return err
		}
		it.Errors = []FieldError{fe}
	default:
		if err := json.Unmarshal(raw, &it.Errors); err != nil {
			return err
		}
	}
	return nil
}

// FieldError is one validation error of a REST v4 item.
type FieldError struct {
	Code   string `json:"code"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Error returns "amojo: METHOD PATH: STATUS: message", or for a REST v4
// problem+json body "amojo: METHOD PATH: STATUS TITLE: DETAIL", followed by
// the hint as " (hint: HINT)", each validation error as
// "; item REQUEST_ID: PATH: DETAIL (CODE)", for a redirect "; redirect to
// LOCATION not followed", and the request id as " (request id ID)". It is one
// line: the server's text goes in without control characters, each piece cut
// at 512 bytes and the validation errors after 4 KiB. An answer that matches
// ErrAccountBlocked says so and what to do instead of repeating the HTML
// page. It never contains request
// headers, so no secret, token or signature can leak through it.
func (e *APIError) Error() string {
	if e.Is(ErrAccountBlocked) {
		return e.withRequestID("amojo: " + e.Method + " " + e.Path + ": 403 Forbidden: " + blockedMessage)
	}
	var b strings.Builder
	b.WriteString("amojo: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Title != "" && e.Message == "" && e.Detail != "" && e.Detail != e.Title {
		// problem+json: "402 Payment Required: <detail>"
		b.WriteByte(' ')
		writeClean(&b, e.Title)
	}
	msg := e.Message
	if msg == "" {
		msg = e.Detail
	}
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" [")
		writeClean(&b, e.Code)
		b.WriteByte(']')
	}
	if msg != "" {
		b.WriteString(": ")
		writeClean(&b, msg)
	}
	if e.Hint != "" && e.Hint != msg {
		b.WriteString(" (hint: ")
		writeClean(&b, e.Hint)
		b.WriteByte(')')
	}
	if e.Location != "" {
		b.WriteString("; redirect to ")
		writeClean(&b, e.Location)
		b.WriteString(" not followed")
	}
	writeItemErrors(&b, e.ValidationErrors)
	return e.withRequestID(b.String())
}

// blockedMessage is the text of an ErrAccountBlocked answer.
const blockedMessage = "amoCRM has blocked this account or IP address (it answered an HTML page instead of the API, " +
	"which follows sustained 429 Too Many Requests or traffic it finds suspicious); " +
	"stop every call to this account, keep under 7 requests per second once it works again, " +
	"and ask amoCRM support to lift the block if it lasts"

// withRequestID appends the request id, when there is one.
func (e *APIError) withRequestID(s string) string {
	if e.RequestID == "" {
		return s
	}
	return s + " (request id " + e.RequestID + ")"
}

// Is maps the status code onto the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidSignature:
		// amojo answers 403 to a bad signature; REST v4 uses 403 for
		// "forbidden" instead, which carries a problem+json body.
		return e.StatusCode == http.StatusForbidden && !e.rest && e.Title == "" && e.Type == ""
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrAccountBlocked:
		// REST v4 answers "forbidden" with problem+json; a page that is
		// not JSON comes from the front servers' block.
		return e.StatusCode == http.StatusForbidden && e.rest && !e.json && len(bytes.TrimSpace(e.Body)) > 0
	}
	return false
}

// ValidationError reports input that breaks a rule of the API. It is returned
// before anything is sent.
type ValidationError struct {
	Field  string // the offending field: a Go path such as "Content.FileName", or the JSON path a file used ("messages[2].message.file_name")
	Reason string
}

// Error returns "amojo: invalid FIELD: REASON".
func (e *ValidationError) Error() string {
	return "amojo: invalid " + e.Field + ": " + e.Reason
}

func invalid(field, reason string) *ValidationError {
	return &ValidationError{Field: field, Reason: reason}
}

// newAPIError builds an APIError from a response and its body, which it
// decodes whole and keeps the first maxErrorBody bytes of. secrets are the
// request's credentials, replaced wherever the answer repeats them.
func newAPIError(method, path string, resp *http.Response, body []byte, now time.Time, secrets ...string) *APIError {
	e := &APIError{
		StatusCode:  resp.StatusCode,
		Method:      method,
		Path:        path,
		RetryAfter:  parseRetryAfter(resp.Header.Get("Retry-After"), now),
		RequestID:   headerText(resp.Header.Get("X-Request-Id"), maxRequestIDLen),
		ContentType: headerText(resp.Header.Get("Content-Type"), maxRequestIDLen),
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		e.Location = resp.Header.Get("Location")
		if loc, err := resp.Location(); err == nil {
			e.Location = loc.String()
		}
	}
	body = redactBytes(body, secrets)
	if len(body) > 0 {
		e.Body = bytes.Clone(body[:min(len(body), maxErrorBody)])
	}
	decodeErrorBody(e, body)
	e.redact(secrets)
	return e
}

// errorBody is the union of the error shapes seen from amojo and REST v4.
type errorBody struct {
	// amojo (undocumented; shapes seen in client libraries)
	ErrorCode        json.RawMessage `json:"error_code"`
	ErrorType        string          `json:"error_type"`
	ErrorDescription string          `json:"error_description"`
	Error            json.RawMessage `json:"error"`
	Code             json.RawMessage `json:"code"`
	Message          string          `json:"message"`
	// REST v4 problem+json
	Title            string       `json:"title"`
	Type             string       `json:"type"`
	Detail           string       `json:"detail"`
	Hint             string       `json:"hint"`
	ValidationErrors []ItemErrors `json:"validation-errors"`
	BatchErrors      []ItemErrors `json:"errors"`
}

// decodeErrorBody fills the code, message and problem fields of e from body.
// A body that is not JSON, or JSON of another shape, leaves them empty.
func decodeErrorBody(e *APIError, body []byte) {
	var eb errorBody
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return
	}
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &eb) != nil {
		// JSON of another shape (not an object, a field of an unexpected
		// type) is still amoCRM's API talking, not a block page.
		e.json = json.Valid(trimmed)
		return
	}
	e.json = true
	e.Title, e.Type, e.Detail, e.Hint = eb.Title, eb.Type, eb.Detail, eb.Hint
	e.ValidationErrors = append(eb.ValidationErrors, eb.BatchErrors...)
	e.Code = firstNonEmpty(rawScalar(eb.ErrorCode), rawScalar(eb.Code), eb.ErrorType)
	e.Message = firstNonEmpty(eb.ErrorDescription, eb.Message, rawScalar(eb.Error))
}

// rawScalar renders a JSON string or number as text; other JSON gives "".
func rawScalar(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// maxRequestIDLen bounds the header values an APIError keeps.
const maxRequestIDLen = 200

// headerText returns v with anything but printable ASCII removed, cut to max
// bytes, so a header can never break an error message.
func headerText(v string, max int) string {
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < max; i++ {
		if c := v[i]; c >= ' ' && c <= '~' {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// parseRetryAfter reads a Retry-After value given in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
