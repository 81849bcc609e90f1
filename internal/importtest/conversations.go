package importtest

import (
	"fmt"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// Conversations makes n conversations of three messages (client, manager,
// client), each with a contact of its own to create.
func Conversations(n int) []*importer.Conversation {
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	out := make([]*importer.Conversation, n)
	for i := range n {
		c := &importer.Conversation{
			ID:      fmt.Sprintf("conv-%d", i),
			Client:  amojo.Participant{ID: fmt.Sprintf("client-%d", i), Name: fmt.Sprintf("Client %d", i)},
			Contact: &importer.ContactSpec{Name: fmt.Sprintf("Client %d", i), Phones: []string{fmt.Sprintf("+7900%07d", i)}},
		}
		for k := range 3 {
			m := importer.ConversationMessage{MsgID: fmt.Sprintf("conv-%d-m-%d", i, k), Time: start.Add(time.Duration(k) * time.Minute),
				From: importer.FromClient, Content: amojo.Text{Text: fmt.Sprintf("message %d", k)}}
			if k == 1 {
				m.From = importer.FromManager
				m.Sender = &amojo.Participant{ID: "mgr", RefID: amojotest.DefaultManagerAmojoID, Name: amojotest.DefaultManagerName}
			}
			c.Messages = append(c.Messages, m)
		}
		out[i] = c
	}
	return out
}
