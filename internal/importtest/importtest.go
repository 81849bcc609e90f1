// Package importtest checks what an import left in the fake amoCRM.
package importtest

import (
	"slices"
	"testing"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// CheckImported fails t unless every conversation's chat holds each of its
// msgids exactly once, in time order, and each conversation with a contact
// is linked to one of its own, the fake holding one contact per such
// conversation.
func CheckImported(t testing.TB, srv *amojotest.Server, convs []*importer.Conversation) {
	t.Helper()
	linkOf := map[string]int{}
	for _, l := range srv.Links() {
		linkOf[l.ChatID] = l.ContactID
	}
	owner := map[int]string{}
	wantContacts := 0
	for _, c := range convs {
		chat, ok := srv.ChatByConversation(srv.ScopeID(), c.ID)
		if !ok {
			t.Errorf("%s: no chat", c.ID)
			continue
		}
		var got, want []string
		for _, m := range chat.Messages {
			got = append(got, m.ClientID)
		}
		for _, m := range c.Messages {
			want = append(want, m.MsgID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: messages %v, want %v", c.ID, got, want)
		}
		if c.Contact == nil {
			continue
		}
		wantContacts++
		contact := linkOf[chat.ID]
		if contact == 0 {
			t.Errorf("%s: chat not linked", c.ID)
			continue
		}
		if other, dup := owner[contact]; dup {
			t.Errorf("contact %d linked to %s and %s", contact, other, c.ID)
		}
		owner[contact] = c.ID
	}
	if n := len(srv.Contacts()); n != wantContacts {
		t.Errorf("%d contacts, want %d", n, wantContacts)
	}
}
