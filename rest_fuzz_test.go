package amojo

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeREST feeds arbitrary bytes to the REST v4 decoders: the
// problem+json error body, the HAL answers of account, users, contacts and
// chat links, and the request_id matching built on them. None may panic.
func FuzzDecodeREST(f *testing.F) {
	addCorpusFiles(f, "rest")
	f.Add([]byte(`{"validation-errors":[{"request_id":7,"errors":null}],"title":1}`))
	f.Add([]byte(`{"_embedded":{"contacts":[{"id":"1","request_id":null}],"chats":[{"request_id":1.5e3}]}}`))
	f.Add([]byte(`{"_links":{"next":{"href":""}},"_embedded":{"users":[{"id":-1}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Retry-After": {string(data[:min(len(data), 40)])}}}
		e := newAPIError("POST", "/api/v4/contacts", resp, data, time.Unix(0, 0))
		msg := e.Error()
		if !strings.HasPrefix(msg, "amojo: POST /api/v4/contacts: 400") {
			t.Fatalf("message %q", msg)
		}
		if len(e.Body) > maxErrorBody {
			t.Fatalf("kept %d bytes of body", len(e.Body))
		}
		_ = e.Is(ErrUnauthorized)

		ids := []string{"0", "1", "2"}
		be := newBatchError("create contacts", 0, len(ids), ids, e)
		for _, i := range be.Failed {
			if i < 0 || i >= len(ids) {
				t.Fatalf("failed index %d out of range", i)
			}
		}
		_ = be.Error()

		var a accountBody
		if json.Unmarshal(data, &a) == nil {
			_ = a.account()
		}
		var u halUsers
		if json.Unmarshal(data, &u) == nil {
			_ = u.Links.hasNext()
		}
		var hc halContacts
		if json.Unmarshal(data, &hc) == nil {
			answered := make([]string, len(hc.Embedded.Contacts))
			for j, c := range hc.Embedded.Contacts {
				answered[j] = string(c.RequestID)
			}
			restCheckMatch(t, ids, answered)
		}
		var ch halChats
		if json.Unmarshal(data, &ch) == nil {
			answered := make([]string, len(ch.Embedded.Chats))
			for j, c := range ch.Embedded.Chats {
				answered[j] = string(c.RequestID)
			}
			restCheckMatch(t, ids, answered)
		}
		var fs flexString
		_ = json.Unmarshal(data, &fs)
	})
}

// restCheckMatch asserts that a successful match points every id at an answer
// item that carries it (or, when no item carries any, at the same position).
func restCheckMatch(t *testing.T, ids, answered []string) {
	pos, err := matchByRequestID(ids, answered)
	if err != nil {
		return
	}
	for i, j := range pos {
		if j < 0 || j >= len(answered) {
			t.Fatalf("ids[%d] matched to %d of %d", i, j, len(answered))
		}
		if answered[j] != ids[i] && answered[j] != "" {
			t.Fatalf("ids[%d]=%q matched to %q", i, ids[i], answered[j])
		}
	}
}
