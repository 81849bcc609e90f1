package amojo

import (
	"net/http"
	"testing"
)

func vecReaction() Reaction {
	return Reaction{
		ConversationID: "my_int-d5a421f7f218",
		MsgID:          "my_int-5f2836a8ca481",
		User:           ParticipantRef{ID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"},
		Emoji:          "😍",
	}
}

func TestReactAndUnreact(t *testing.T) {
	t.Parallel()
	manager := vecReaction()
	manager.ConversationID, manager.ConversationRefID = "", vecChatRef
	manager.MsgID, manager.ID = "", "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc"
	manager.User = ParticipantRef{ID: "my_int-manager-1", RefID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5"}
	tests := []struct {
		golden string
		react  bool
		r      Reaction
		answer string
	}{
		{"react.json", true, vecReaction(), ""},
		{"unreact.json", false, vecReaction(), "{}"},
		{"react_by_ref_ids.json", true, manager, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			s := newWireServer(t, vecMsgTime, answer(http.StatusOK, tt.answer))
			call := s.client.Unreact
			if tt.react {
				call = s.client.React
			}
			if err := call(t.Context(), vecScopeID, tt.r); err != nil {
				t.Fatal(err)
			}
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/react", "", vecMsgTime)
			checkGolden(t, tt.golden, r.Body)
		})
	}
}

func TestReactionValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	with := func(f func(*Reaction)) Reaction { r := vecReaction(); f(&r); return r }
	tests := []struct {
		name  string
		react bool
		r     Reaction
		field string
	}{
		{"no conversation", true, with(func(r *Reaction) { r.ConversationID = "" }), "ConversationID"},
		{"no message", true, with(func(r *Reaction) { r.MsgID = "" }), "MsgID"},
		{"no user", true, with(func(r *Reaction) { r.User = ParticipantRef{} }), "User.ID"},
		{"react without emoji", true, with(func(r *Reaction) { r.Emoji = "" }), "Emoji"},
		{"unreact without message", false, with(func(r *Reaction) { r.MsgID = "" }), "MsgID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := s.client.Unreact
			if tt.react {
				call = s.client.React
			}
			wantValidation(t, call(t.Context(), vecScopeID, tt.r), tt.field)
		})
	}
	wantValidation(t, s.client.React(t.Context(), "", vecReaction()), "scopeID")
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}
