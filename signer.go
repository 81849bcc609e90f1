package amojo

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"time"
)

// ContentTypeJSON is the only Content-Type amojo accepts; it is part of the
// signed string, so it is sent exactly so, without a charset.
const ContentTypeJSON = "application/json"

// emptyMD5 is ContentMD5(nil): what a GET (no body) signs.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// ContentMD5 returns the lowercase hex MD5 of body, the Content-MD5 header value
// amojo expects (32 characters, not base64). An empty body gives the MD5 of the
// empty string.
func ContentMD5(body []byte) string {
	if len(body) == 0 {
		return emptyMD5
	}
	sum := md5.Sum(body)
	var dst [md5.Size * 2]byte
	hex.Encode(dst[:], sum[:])
	return string(dst[:])
}

// Signature returns the X-Signature of an amojo request: the lowercase hex
// HMAC-SHA1, keyed with the channel secret, of the five lines method,
// contentMD5, contentType, date and path joined by "\n". The method must be
// uppercase and the path must not carry the query string; both are signed as
// given.
func Signature(secret, method, contentMD5, contentType, date, path string) string {
	// HMAC-SHA1 (RFC 2104) by hand over stack buffers: crypto/hmac allocates
	// its state on every call, and this runs once per request attempt.
	var key [sha1.BlockSize]byte
	if len(secret) > sha1.BlockSize {
		sum := sha1.Sum([]byte(secret))
		copy(key[:], sum[:])
	} else {
		copy(key[:], secret)
	}

	var inner [sha1.BlockSize + 256]byte
	buf := inner[:sha1.BlockSize]
	for i, k := range key {
		buf[i] = k ^ 0x36
	}
	buf = append(buf, method...)
	buf = append(buf, '\n')
	buf = append(buf, contentMD5...)
	buf = append(buf, '\n')
	buf = append(buf, contentType...)
	buf = append(buf, '\n')
	buf = append(buf, date...)
	buf = append(buf, '\n')
	buf = append(buf, path...)
	innerSum := sha1.Sum(buf)

	var outer [sha1.BlockSize + sha1.Size]byte
	for i, k := range key {
		outer[i] = k ^ 0x5c
	}
	copy(outer[sha1.BlockSize:], innerSum[:])
	mac := sha1.Sum(outer[:])

	var dst [sha1.Size * 2]byte
	hex.Encode(dst[:], mac[:])
	return string(dst[:])
}

// SignRequest sets the four headers amojo requires on req: Date (now in UTC,
// RFC 1123 with a numeric zone, e.g. "Thu, 16 Dec 2021 13:15:29 +0000"),
// Content-Type application/json, Content-MD5 of body, and X-Signature over
// req.Method and req.URL's escaped path. body must be the exact bytes req sends
// (nil for GET).
func SignRequest(req *http.Request, body []byte, secret string, now time.Time) {
	date := now.UTC().Format(time.RFC1123Z)
	md := ContentMD5(body)
	h := req.Header
	if h == nil {
		h = make(http.Header, 4)
		req.Header = h
	}
	h["Date"] = []string{date}
	h["Content-Type"] = []string{ContentTypeJSON}
	h["Content-Md5"] = []string{md}
	h["X-Signature"] = []string{Signature(secret, req.Method, md, ContentTypeJSON, date, req.URL.EscapedPath())}
}
