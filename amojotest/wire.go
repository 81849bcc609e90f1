package amojotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// The error_code values of amojo error bodies. amoCRM does not document the
// body of its 400 and 404 answers; the fake answers
//
//	{"error_code":"duplicate_msgid","error_description":"payload.msgid: duplicate msgid \"m-1\" in this scope"}
//
// so a client can tell the problems apart. A 403 (signature) has an empty
// text/plain body, as Kommo shows.
const (
	ErrCodeInvalidJSON    = "invalid_json"        // body is not a JSON object
	ErrCodeInvalidField   = "invalid_field"       // a field is missing, of the wrong type or value
	ErrCodeDuplicateMsgID = "duplicate_msgid"     // payload.msgid already used in this scope (400)
	ErrCodeUnknownSender  = "unknown_sender"      // outgoing sender.ref_id is no user of the account nor the channel bot (400)
	ErrCodeConflict       = "conflict"            // ids that contradict stored ones (400)
	ErrCodeNotFound       = "not_found"           // channel, scope, chat or message not found (404)
	ErrCodeNotConnected   = "scope_not_connected" // the scope's channel is not connected to the account (404)
	ErrCodeContentType    = "unsupported_content_type"
	ErrCodeInjected       = "injected" // a failure queued with FailNext
)

// apiError is an amojo error answer.
type apiError struct {
	status int
	code   string
	desc   string
}

func (e *apiError) Error() string { return e.desc }

func badField(path, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: ErrCodeInvalidField, desc: path + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: ErrCodeNotFound, desc: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeEmpty answers status without a body: 403 as text/plain (as Kommo
// shows), other answers as application/json.
func writeEmpty(w http.ResponseWriter, status int) {
	if status != http.StatusNoContent {
		ct := "application/json"
		if status == http.StatusForbidden {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}

func writeAmojoError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, "application/json", map[string]string{"error_code": code, "error_description": desc})
}

// obj is a JSON object read field by field, with the path of the object for
// error messages. The fake parses the wire format itself instead of reusing
// the SDK's types, so a mistake in those is caught rather than mirrored.
type obj struct {
	path string
	m    map[string]json.RawMessage
}

func parseObject(raw []byte, path string) (obj, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if path == "" {
			return obj{}, &apiError{status: http.StatusBadRequest, code: ErrCodeInvalidJSON, desc: "body must be a JSON object"}
		}
		return obj{}, badField(path, "must be an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return obj{}, &apiError{status: http.StatusBadRequest, code: ErrCodeInvalidJSON, desc: "invalid JSON: " + err.Error()}
	}
	return obj{path: path, m: m}, nil
}

func (o obj) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// raw returns the field's JSON, nil when absent or null.
func (o obj) raw(key string) json.RawMessage {
	v := bytes.TrimSpace(o.m[key])
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return v
}

func (o obj) has(key string) bool { return o.raw(key) != nil }

func (o obj) str(key string) (string, *apiError) {
	v := o.raw(key)
	if v == nil {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", badField(o.field(key), "must be a string")
	}
	return s, nil
}

func (o obj) reqStr(key string) (string, *apiError) {
	s, err := o.str(key)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", badField(o.field(key), "required")
	}
	return s, nil
}

// integer reads a JSON integer (a number without fraction).
func (o obj) integer(key string) (int64, bool, *apiError) {
	v := o.raw(key)
	if v == nil {
		return 0, false, nil
	}
	var n json.Number
	if v[0] == '"' || json.Unmarshal(v, &n) != nil {
		return 0, false, badField(o.field(key), "must be an integer")
	}
	i, err := n.Int64()
	if err != nil {
		return 0, false, badField(o.field(key), "must be an integer")
	}
	return i, true, nil
}

func (o obj) number(key string) (float64, bool, *apiError) {
	v := o.raw(key)
	if v == nil {
		return 0, false, nil
	}
	var f float64
	if json.Unmarshal(v, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, badField(o.field(key), "must be a number")
	}
	return f, true, nil
}

func (o obj) boolean(key string) (bool, *apiError) {
	v := o.raw(key)
	if v == nil {
		return false, nil
	}
	var b bool
	if json.Unmarshal(v, &b) != nil {
		return false, badField(o.field(key), "must be a boolean")
	}
	return b, nil
}

// object returns the nested object key; ok is false when it is absent.
func (o obj) object(key string) (obj, bool, *apiError) {
	v := o.raw(key)
	if v == nil {
		return obj{}, false, nil
	}
	sub, err := parseObject(v, o.field(key))
	if err != nil {
		return obj{}, false, err
	}
	return sub, true, nil
}
