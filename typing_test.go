package amojo

import (
	"net/http"
	"testing"
	"time"
)

func TestTypingVector3(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusNoContent, http.StatusOK} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Thu, 16 Dec 2021 16:01:21 +0000")
			s := newWireServer(t, now, answer(code, ""))
			err := s.client.Typing(t.Context(), vecScopeID, TypingRequest{
				ConversationID: "my_int-d5a421f7f218",
				SenderID:       "my_int-1376265f-86df-4c49-a0c3-a4816df41af8",
			})
			if err != nil {
				t.Fatal(err)
			}
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/typing", "", now)
			const body = `{"conversation_id":"my_int-d5a421f7f218","sender":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af8"}}`
			if string(r.Body) != body {
				t.Errorf("body = %s\nwant %s", r.Body, body)
			}
			if got := r.Header.Get("Content-MD5"); got != "255a22566d68be207fa36804e78a523a" {
				t.Errorf("Content-MD5 = %s", got)
			}
			if got := r.Header.Get("X-Signature"); got != "e8263b1daf2b20396c02db6c8c846f95cc0f9540" {
				t.Errorf("X-Signature = %s", got)
			}
		})
	}
}

func TestTypingByRefIDsWithDuration(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Thu, 16 Dec 2021 16:01:21 +0000")
	s := newWireServer(t, now, answer(http.StatusNoContent, ""))
	err := s.client.Typing(t.Context(), vecScopeID, TypingRequest{
		ConversationRefID: vecChatRef,
		SenderRefID:       "86a0caef-41ec-49ac-814b-b27da2cea267",
		Duration:          7500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.only()
	checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/typing", "", now)
	checkGolden(t, "typing_ref_ids.json", r.Body)
}

func TestTypingValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	tests := []struct {
		name  string
		scope string
		req   TypingRequest
		field string
	}{
		{"no scope", "", TypingRequest{ConversationID: "c", SenderID: "u"}, "scopeID"},
		{"no conversation", vecScopeID, TypingRequest{SenderID: "u"}, "ConversationID"},
		{"no sender", vecScopeID, TypingRequest{ConversationID: "c"}, "SenderID"},
		{"negative duration", vecScopeID, TypingRequest{ConversationID: "c", SenderID: "u", Duration: -time.Second}, "Duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, s.client.Typing(t.Context(), tt.scope, tt.req), tt.field)
		})
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}
