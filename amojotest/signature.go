package amojotest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
)

// SignatureWindow is how long a signed request stays valid around its Date
// header, in both directions: a Date older or newer than this is refused.
const SignatureWindow = 15 * time.Minute

// parseDate reads a signed Date header value. It accepts RFC 2822 / RFC 1123
// with a numeric zone (what amoCRM documents), with a one- or two-digit day
// and with or without the weekday, and RFC 1123 with "GMT" (what browsers'
// toUTCString and some clients send).
func parseDate(v string) (time.Time, bool) {
	for _, layout := range [...]string{
		time.RFC1123Z,
		"Mon, 2 Jan 2006 15:04:05 -0700",
		"2 Jan 2006 15:04:05 -0700", // RFC 2822 allows leaving out the weekday

		"Mon, 02 Jan 2006 15:04:05 GMT",
		"Mon, 2 Jan 2006 15:04:05 GMT",
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// hexMD5 is the Content-MD5 amojo expects: lowercase hex MD5 of the body.
func hexMD5(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

// signature computes the X-Signature of the five signed lines, as in
// chats-api §2: method, Content-MD5, Content-Type, Date and path joined by
// "\n", HMAC-SHA1 keyed with the channel secret, lowercase hex.
func signature(secret, method, contentMD5, contentType, date, path string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(strings.Join([]string{method, contentMD5, contentType, date, path}, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

// Reasons a signed request is refused; only the server's logger sees them.
var (
	errNoDate       = errors.New("amojotest: missing or unparsable Date header")
	errStale        = errors.New("amojotest: Date header outside the 15-minute window")
	errMD5          = errors.New("amojotest: Content-MD5 does not match the body")
	errSignature    = errors.New("amojotest: X-Signature does not match")
	errNoSignature  = errors.New("amojotest: missing X-Signature")
	errMultiHeader  = errors.New("amojotest: signed header sent more than once")
	errUnsignedBody = errors.New("amojotest: body sent without Content-MD5")
)

// verify checks an amojo request's Content-MD5, Date window and X-Signature
// against secret. path is the escaped path as sent, without the query.
func verify(secret string, r *http.Request, path string, body []byte, now time.Time) error {
	for _, h := range [...]string{"Date", "Content-Type", "Content-Md5", "X-Signature"} {
		if len(r.Header.Values(h)) > 1 {
			return errMultiHeader
		}
	}
	date := r.Header.Get("Date")
	ctype := r.Header.Get("Content-Type")
	md := r.Header.Get("Content-Md5")
	sig := r.Header.Get("X-Signature")
	if sig == "" {
		return errNoSignature
	}
	if md == "" && len(body) > 0 {
		return errUnsignedBody
	}
	if md != "" && md != hexMD5(body) {
		return errMD5
	}
	t, ok := parseDate(date)
	if !ok {
		return errNoDate
	}
	if d := now.Sub(t); d > SignatureWindow || d < -SignatureWindow {
		return errStale
	}
	want := signature(secret, r.Method, md, ctype, date, path)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return errSignature
	}
	return nil
}
