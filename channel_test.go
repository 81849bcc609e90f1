package amojo

import (
	"net/http"
	"testing"
)

func TestConnectVector1(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000")
	s := newWireServer(t, now, answerFile(t, "connect.json"))

	conn, err := s.client.Connect(t.Context(), ConnectRequest{AccountID: vecAccountID, Title: "ChatsIntegration"})
	if err != nil {
		t.Fatal(err)
	}
	r := s.only()
	checkWire(t, r, "POST", "/v2/origin/custom/"+vecChannelID+"/connect", "", now)
	const body = `{"account_id":"52e591f7-c98f-4255-8495-827210138c81","title":"ChatsIntegration","hook_api_version":"v2"}`
	if string(r.Body) != body {
		t.Errorf("body = %s, want %s", r.Body, body)
	}
	// The documented answer of the step-by-step page.
	if got := r.Header.Get("Content-MD5"); got != "2fbcb3c652b61e24e004daddfc73d0ce" {
		t.Errorf("Content-MD5 = %s", got)
	}
	if got := r.Header.Get("X-Signature"); got != "81211856ce0c5095f3e1a90c0a38dc9d736cfd55" {
		t.Errorf("X-Signature = %s", got)
	}
	want := Connection{AccountID: vecAccountID, ScopeID: vecScopeID, Title: "ChatsIntegration", HookAPIVersion: "v2", TimeWindowDisabled: true}
	if *conn != want {
		t.Errorf("connection = %+v, want %+v", *conn, want)
	}
}

func TestConnectOptionalFields(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000")
	s := newWireServer(t, now, answerFile(t, "connect_seed.json"))

	conn, err := s.client.Connect(t.Context(), ConnectRequest{
		AccountID: vecAccountID, Title: "Чат / Chat", HookAPIVersion: "v1", TimeWindowDisabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.only()
	checkWire(t, r, "POST", "/v2/origin/custom/"+vecChannelID+"/connect", "", now)
	checkGolden(t, "connect_time_window.json", r.Body)
	// An answer without is_time_window_disabled (older servers) decodes to false.
	want := Connection{
		AccountID:      "af9945ff-1490-4cad-807d-945c15d88bec",
		ScopeID:        "f90ba33d-c9d9-44da-b76c-c349b0ecbe41_af9945ff-1490-4cad-807d-945c15d88bec",
		Title:          "ChatIntegration",
		HookAPIVersion: "v2",
	}
	if *conn != want {
		t.Errorf("connection = %+v, want %+v", *conn, want)
	}
}

func TestConnectFillsMissingScopeID(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000"), answer(http.StatusOK, `{}`))
	conn, err := s.client.Connect(t.Context(), ConnectRequest{AccountID: vecAccountID, Title: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if conn.ScopeID != vecScopeID || conn.AccountID != vecAccountID {
		t.Errorf("connection = %+v", *conn)
	}
}

func TestConnectValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000"), refuseAll(t))
	tests := []struct {
		name  string
		req   ConnectRequest
		field string
	}{
		{"no account", ConnectRequest{Title: "T"}, "AccountID"},
		{"account with space", ConnectRequest{AccountID: "a b", Title: "T"}, "AccountID"},
		{"no title", ConnectRequest{AccountID: vecAccountID}, "Title"},
		{"blank title", ConnectRequest{AccountID: vecAccountID, Title: "  "}, "Title"},
		{"bad version", ConnectRequest{AccountID: vecAccountID, Title: "T", HookAPIVersion: "v 2"}, "HookAPIVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.client.Connect(t.Context(), tt.req)
			wantValidation(t, err, tt.field)
		})
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}

func TestDisconnectVector2(t *testing.T) {
	t.Parallel()
	for _, resp := range []string{"", "{}"} {
		t.Run("answer "+resp, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Wed, 15 Dec 2021 23:59:28 +0000")
			s := newWireServer(t, now, answer(http.StatusOK, resp))
			if err := s.client.Disconnect(t.Context(), vecAccountID); err != nil {
				t.Fatal(err)
			}
			r := s.only()
			checkWire(t, r, "DELETE", "/v2/origin/custom/"+vecChannelID+"/disconnect", "", now)
			if string(r.Body) != `{"account_id":"52e591f7-c98f-4255-8495-827210138c81"}` {
				t.Errorf("body = %s", r.Body)
			}
			if got := r.Header.Get("Content-MD5"); got != "271fa2e4fb0ff84a3ef9689027bd1f38" {
				t.Errorf("Content-MD5 = %s", got)
			}
			if got := r.Header.Get("X-Signature"); got != "e1678e3b6aa674b5127f4feb448e6200ce0bfc72" {
				t.Errorf("X-Signature = %s", got)
			}
		})
	}
}

func TestDisconnectValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Wed, 15 Dec 2021 23:59:28 +0000"), refuseAll(t))
	wantValidation(t, s.client.Disconnect(t.Context(), ""), "accountID")
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
