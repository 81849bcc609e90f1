package amojo

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnectVector1(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000")
	s := newWireServer(t, now, answerFile(t, "connect.json"))

	conn, err := s.client.Connect(t.Context(), ConnectRequest{AccountID: vecAccountID, Title: "ChatsIntegration"})
	require.NoError(t, err)
	r := s.only()
	checkWire(t, r, "POST", "/v2/origin/custom/"+vecChannelID+"/connect", "", now)
	const body = `{"account_id":"52e591f7-c98f-4255-8495-827210138c81","title":"ChatsIntegration","hook_api_version":"v2"}`
	assert.Equal(t, body, string(r.Body))
	// The documented answer of the step-by-step page.
	assert.Equal(t, "2fbcb3c652b61e24e004daddfc73d0ce", r.Header.Get("Content-MD5"))
	assert.Equal(t, "81211856ce0c5095f3e1a90c0a38dc9d736cfd55", r.Header.Get("X-Signature"))
	want := Connection{AccountID: vecAccountID, ScopeID: vecScopeID, Title: "ChatsIntegration", HookAPIVersion: "v2", TimeWindowDisabled: true}
	assert.Equal(t, want, *conn)
}

func TestConnectOptionalFields(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000")
	s := newWireServer(t, now, answerFile(t, "connect_seed.json"))

	conn, err := s.client.Connect(t.Context(), ConnectRequest{
		AccountID: vecAccountID, Title: "Чат / Chat", HookAPIVersion: "v1", TimeWindowDisabled: true,
	})
	require.NoError(t, err)
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
	assert.Equal(t, want, *conn)
}

func TestConnectFillsMissingScopeID(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Wed, 15 Dec 2021 23:12:55 +0000"), answer(http.StatusOK, `{}`))
	conn, err := s.client.Connect(t.Context(), ConnectRequest{AccountID: vecAccountID, Title: "T"})
	require.NoError(t, err)
	assert.Equal(t, vecScopeID, conn.ScopeID)
	assert.Equal(t, vecAccountID, conn.AccountID)
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
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

func TestDisconnectVector2(t *testing.T) {
	t.Parallel()
	for _, resp := range []string{"", "{}"} {
		t.Run("answer "+resp, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Wed, 15 Dec 2021 23:59:28 +0000")
			s := newWireServer(t, now, answer(http.StatusOK, resp))
			require.NoError(t, s.client.Disconnect(t.Context(), vecAccountID))
			r := s.only()
			checkWire(t, r, "DELETE", "/v2/origin/custom/"+vecChannelID+"/disconnect", "", now)
			assert.Equal(t, `{"account_id":"52e591f7-c98f-4255-8495-827210138c81"}`, string(r.Body))
			assert.Equal(t, "271fa2e4fb0ff84a3ef9689027bd1f38", r.Header.Get("Content-MD5"))
			assert.Equal(t, "e1678e3b6aa674b5127f4feb448e6200ce0bfc72", r.Header.Get("X-Signature"))
		})
	}
}

func TestDisconnectValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Wed, 15 Dec 2021 23:59:28 +0000"), refuseAll(t))
	wantValidation(t, s.client.Disconnect(t.Context(), ""), "accountID")
	assert.Empty(t, s.requests(), "requests sent")
}
