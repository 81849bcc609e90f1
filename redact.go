package amojo

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file keeps secrets and server-controlled text out of what the SDK
// prints: formatted values, error messages.

// formatRedacted prints desc, a description of a value that leaves out its
// secret, for every fmt verb: quoted for %q, as text for all the others (%x
// of a token would print the token in hex, %#v its Go syntax).
func formatRedacted(f fmt.State, verb rune, desc string) {
	v := 's'
	if verb == 'q' {
		v = 'q'
	}
	fmt.Fprintf(f, fmt.FormatString(f, v), desc)
}

// redactedText replaces a credential the server echoed.
const redactedText = "[redacted]"

// minRedactLen is the shortest credential searched for in an answer. A real
// token or signature is far longer; replacing a string of a few letters would
// garble the server's text.
const minRedactLen = 8

// credentials returns the secret values among a request's headers: the
// Bearer token and the X-Signature.
func credentials(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Authorization") {
		if tok := strings.TrimSpace(strings.TrimPrefix(v, "Bearer ")); len(tok) >= minRedactLen {
			out = append(out, tok)
		}
	}
	for _, v := range h.Values("X-Signature") {
		if len(v) >= minRedactLen {
			out = append(out, v)
		}
	}
	return out
}

// redactBytes replaces every occurrence of secrets in b.
func redactBytes(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(redactedText))
		}
	}
	return b
}

func redactString(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redactedText)
	}
	return s
}

// redact replaces secrets in every text field decoded from the answer (a JSON
// escape in the body can hide them from redactBytes).
func (e *APIError) redact(secrets []string) {
	if len(secrets) == 0 {
		return
	}
	for _, p := range []*string{&e.Code, &e.Message, &e.Title, &e.Type, &e.Detail, &e.Location, &e.Hint, &e.RequestID} {
		*p = redactString(*p, secrets)
	}
	for i := range e.ValidationErrors {
		item := &e.ValidationErrors[i]
		item.RequestID = redactString(item.RequestID, secrets)
		for j := range item.Errors {
			fe := &item.Errors[j]
			fe.Code, fe.Path, fe.Detail = redactString(fe.Code, secrets), redactString(fe.Path, secrets), redactString(fe.Detail, secrets)
		}
	}
}

const (
	// maxErrorText caps each piece of server text in an error message.
	maxErrorText = 512
	// maxErrorMessage is the length after which an error message lists no
	// more validation errors, only how many are left.
	maxErrorMessage = 4 << 10
)

// writeClean writes server text s to b as cleanText makes it.
func writeClean(b *strings.Builder, s string) {
	b.WriteString(cleanText(s, maxErrorText))
}

// writeItemErrors writes the validation errors as "; item ID: PATH: DETAIL
// (CODE)" until the message reaches maxErrorMessage, then how many are left.
func writeItemErrors(b *strings.Builder, items []ItemErrors) {
	left := 0
	for _, item := range items {
		left += len(item.Errors)
	}
	for _, item := range items {
		for _, fe := range item.Errors {
			if b.Len() >= maxErrorMessage {
				fmt.Fprintf(b, "; and %d more", left)
				return
			}
			b.WriteString("; item ")
			writeClean(b, item.RequestID)
			b.WriteString(": ")
			writeClean(b, fe.Path)
			b.WriteString(": ")
			writeClean(b, fe.Detail)
			if fe.Code != "" {
				b.WriteString(" (")
				writeClean(b, fe.Code)
				b.WriteByte(')')
			}
			left--
		}
	}
}

// cleanText makes server text fit on one line of a terminal or a log: line
// breaks and tabs become spaces; ANSI escape sequences, other control
// characters and bidirectional controls are dropped; invalid UTF-8 becomes
// U+FFFD; the result is cut at limit bytes, marked with "…".
func cleanText(s string, limit int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == 0x1b:
			// ESC [ parameters final: a CSI sequence (colours, cursor moves).
			if i < len(s) && s[i] == '[' {
				j := i + 1
				for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
					j++
				}
				if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
					i = j + 1
				}
			}
			continue
		case r == '\t' || r == '\n' || r == '\r' || unicode.In(r, unicode.Zl, unicode.Zp):
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			continue
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
