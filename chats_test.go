package amojo

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// phpJSON re-escapes compact JSON the way PHP's json_encode does by default:
// "/" as "\/" and every non-ASCII character as \uXXXX (UTF-16).
func phpJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/':
			b.WriteString(`\/`)
		case r < 0x80:
			b.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		}
	}
	return b.String()
}

// TestCreateChatVector6 pins the signature of the documented create-chat body
// (PHP escaping), signed with the package's Signature and ContentMD5.
func TestCreateChatVector6(t *testing.T) {
	t.Parallel()
	body := phpJSON(`{"conversation_id":"my_int-8e3e7640-49af-4448-a2c6-d5a421f7f217","source":{"external_id":"78001234567"},"user":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af9","avatar":"https://example.com/users/avatar.png","name":"Имя клиента","profile":{"phone":"+79151112233","email":"example.client@example.com"},"profile_link":"https://example.com/profile/example.client"}}`)
	md := ContentMD5([]byte(body))
	require.Equal(t, "5139e573382c0eae38f476822abb2014", md, "Content-MD5")
	sig := Signature(vecSecret, "POST", md, ContentTypeJSON, "Thu, 16 Dec 2021 23:22:49 +0000", "/v2/origin/custom/"+vecScopeID+"/chats")
	assert.Equal(t, "a601e486d694c8e7e8a5b637660f949f8bb7efaf", sig, "X-Signature")
}

func vecChatRequest() CreateChatRequest {
	return CreateChatRequest{
		ConversationID: "my_int-8e3e7640-49af-4448-a2c6-d5a421f7f217",
		Source:         &Source{ExternalID: "78001234567"},
		User: Participant{
			ID:          "my_int-1376265f-86df-4c49-a0c3-a4816df41af9",
			Avatar:      "https://example.com/users/avatar.png",
			Name:        "Имя клиента",
			Profile:     &Profile{Phone: "+79151112233", Email: "example.client@example.com"},
			ProfileLink: "https://example.com/profile/example.client",
		},
	}
}

func TestCreateChat(t *testing.T) {
	t.Parallel()
	want := Chat{
		ID: "6cbab3d5-c4c1-46ff-b710-ad59ad10805f",
		User: ChatUser{
			ID:       "86a0caef-41ec-49ac-814b-b27da2cea267",
			ClientID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af9",
			Name:     "Имя клиента",
			Avatar:   "https://example.com/users/avatar.png",
			Phone:    "+79151112233",
			Email:    "example.client@example.com",
		},
	}
	for _, fixture := range []string{"create_chat.json", "create_chat_profile.json"} {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Thu, 16 Dec 2021 23:22:49 +0000")
			s := newWireServer(t, now, answerFile(t, fixture))
			chat, err := s.client.CreateChat(t.Context(), vecScopeID, vecChatRequest())
			require.NoError(t, err)
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/chats", "", now)
			checkGolden(t, "create_chat.json", r.Body)
			assert.Equal(t, want, *chat)
		})
	}
}

func TestCreateChatOmitsEmptyObjects(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Thu, 16 Dec 2021 23:22:49 +0000")
	s := newWireServer(t, now, answerFile(t, "create_chat.json"))
	_, err := s.client.CreateChat(t.Context(), vecScopeID, CreateChatRequest{
		ConversationID: "c-1",
		Source:         &Source{},
		User:           Participant{RefID: "86a0caef-41ec-49ac-814b-b27da2cea267", Profile: &Profile{}},
	})
	require.NoError(t, err)
	r := s.only()
	checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID+"/chats", "", now)
	checkGolden(t, "create_chat_ref_only.json", r.Body)
}

func TestCreateChatValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecDate(t, "Thu, 16 Dec 2021 23:22:49 +0000"), refuseAll(t))
	mod := func(f func(*CreateChatRequest)) CreateChatRequest {
		r := vecChatRequest()
		f(&r)
		return r
	}
	tests := []struct {
		name  string
		scope string
		req   CreateChatRequest
		field string
	}{
		{"no scope", "", vecChatRequest(), "scopeID"},
		{"scope with newline", "a\nb", vecChatRequest(), "scopeID"},
		{"no conversation", vecScopeID, mod(func(r *CreateChatRequest) { r.ConversationID = "" }), "ConversationID"},
		{"no user id", vecScopeID, mod(func(r *CreateChatRequest) { r.User.ID = "" }), "User.ID"},
		{"no user name", vecScopeID, mod(func(r *CreateChatRequest) { r.User.Name = " " }), "User.Name"},
		{"external id too long", vecScopeID, mod(func(r *CreateChatRequest) { r.Source.ExternalID = strings.Repeat("1", 41) }), "Source.ExternalID"},
		{"external id not ascii", vecScopeID, mod(func(r *CreateChatRequest) { r.Source.ExternalID = "номер" }), "Source.ExternalID"},
		{"external id control", vecScopeID, mod(func(r *CreateChatRequest) { r.Source.ExternalID = "a\tb" }), "Source.ExternalID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.client.CreateChat(t.Context(), tt.scope, tt.req)
			wantValidation(t, err, tt.field)
		})
	}
	assert.Empty(t, s.requests(), "requests sent for invalid input")
	// The boundaries are accepted.
	ok := mod(func(r *CreateChatRequest) { r.Source.ExternalID = strings.Repeat("~", 39) + " " })
	assert.NoError(t, ok.Validate(), "40 printable characters")
	refOnly := CreateChatRequest{ConversationID: "c", User: Participant{RefID: "x"}}
	assert.NoError(t, refOnly.Validate(), "RefID only")
}

// TestScopeIDIsEscaped checks every scope-based call percent-encodes the scope
// id as one path segment and signs the escaped path.
func TestScopeIDIsEscaped(t *testing.T) {
	t.Parallel()
	const scope, escaped = "a/b?c#d", "a%2Fb%3Fc%23d"
	calls := []struct {
		name string
		path string
		call func(c *Client) error
	}{
		{"CreateChat", "/chats", func(c *Client) error {
			_, err := c.CreateChat(t.Context(), scope, vecChatRequest())
			return err
		}},
		{"SendMessage", "", func(c *Client) error {
			_, err := c.SendMessage(t.Context(), scope, vecIncoming(Text{Text: "x"}))
			return err
		}},
		{"EditMessage", "", func(c *Client) error {
			_, err := c.EditMessage(t.Context(), scope, MessageEdit{MsgID: "m", ConversationID: "c", Content: Text{Text: "x"}})
			return err
		}},
		{"Typing", "/typing", func(c *Client) error {
			return c.Typing(t.Context(), scope, TypingRequest{ConversationID: "c", SenderID: "u"})
		}},
		{"React", "/react", func(c *Client) error { return c.React(t.Context(), scope, vecReaction()) }},
		{"SetDeliveryStatus", "/m%2F1/delivery_status", func(c *Client) error {
			return c.SetDeliveryStatus(t.Context(), scope, "m/1", DeliveryStatus{Status: DeliveryRead})
		}},
		{"History", "/chats/x%2Fy/history", func(c *Client) error {
			_, err := c.History(t.Context(), scope, "x/y", HistoryOptions{})
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newWireServer(t, vecMsgTime, answer(http.StatusOK, `{"id":"x"}`))
			require.NoError(t, tt.call(s.client))
			r := s.only()
			method, query := "POST", ""
			if tt.name == "History" {
				method, query = "GET", "limit=50&offset=0"
			}
			checkWire(t, r, method, "/v2/origin/custom/"+escaped+tt.path, query, vecMsgTime)
		})
	}
}
