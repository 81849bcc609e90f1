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
	// ValidationErrors lists the per-item errors of a REST v4 400 answer.
	ValidationErrors []ItemErrors
	// Location is where a 3xx answer points. Clients never follow redirects:
	// the signed request or the token would go to that other server.
	Location string

	rest bool // the answer came from the REST v4 API, which signs nothing
}

// ItemErrors are the validation errors of one item of a REST v4 batch; RequestID
// is the item's request_id (its index in the batch when none was sent).
type ItemErrors struct {
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors"`
}

// FieldError is one validation error of a REST v4 item.
type FieldError struct {
	Code   string `json:"code"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Error returns "amojo: METHOD PATH: STATUS: message", or for a REST v4
// problem+json body "amojo: METHOD PATH: STATUS TITLE: DETAIL", followed by
// each validation error as "; item REQUEST_ID: PATH: DETAIL (CODE)" and, for a
// redirect, "; redirect to LOCATION not followed". It is one line: the
// server's text goes in without control characters, each piece cut at 512
// bytes and the validation errors after 4 KiB. It never contains request
// headers, so no secret, token or signature can leak through it.
func (e *APIError) Error() string {
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
	if e.Location != "" {
		b.WriteString("; redirect to ")
		writeClean(&b, e.Location)
		b.WriteString(" not followed")
	}
	writeItemErrors(&b, e.ValidationErrors)
	return b.String()
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
	}
	return false
}

// ValidationError reports input that breaks a rule of the API. It is returned
// before anything is sent.
type ValidationError struct {
	Field  string // the offending field, as a Go path such as "Content.FileName"
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
		StatusCode: resp.StatusCode,
		Method:     method,
		Path:       path,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
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
	ValidationErrors []ItemErrors `json:"validation-errors"`
}

// decodeErrorBody fills the code, message and problem fields of e from body.
// A body that is not JSON, or JSON of another shape, leaves them empty.
func decodeErrorBody(e *APIError, body []byte) {
	var eb errorBody
	if len(body) == 0 || json.Unmarshal(body, &eb) != nil {
		return
	}
	e.Title, e.Type, e.Detail = eb.Title, eb.Type, eb.Detail
	e.ValidationErrors = eb.ValidationErrors
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
