package importer_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// TestImportAllPreparesWhileSending: chunks are prepared while the
// conversations before them send their messages: the third chunk's chats
// are created, and its contact looked up, before the first chunk's
// conversations are over, as a conversation holds a slot of the
// concurrency only while its request is in flight. (A conversation that
// held its slot from start to end kept the chats of the next chunks waiting
// for it.)
func TestImportAllPreparesWhileSending(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(amojotest.AllRoutes, time.Millisecond)
	im := newImporter(t, srv, []amojo.Option{amojo.WithRateLimit(0, 0)}, importer.WithConcurrency(2), importer.WithChunkSize(2))
	convs := manyConversations(t, 8, 30) // conv-0 … conv-7, the even ones with contacts
	if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	left := map[string]int{"conv-0": 30, "conv-1": 30}
	for _, r := range srv.Requests() {
		switch r.Route {
		case amojotest.RouteMessage:
			if id := payloadConversation(t, r); left[id] > 0 {
				if left[id]--; left[id] == 0 {
					seen = append(seen, id+" done")
				}
			}
		case amojotest.RouteCreateChat:
			var body struct {
				ConversationID string `json:"conversation_id"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, "chat "+body.ConversationID)
		case amojotest.RouteListLinks:
			seen = append(seen, "lookup")
		}
	}
	first := slices.IndexFunc(seen, func(s string) bool { return strings.HasSuffix(s, " done") })
	for _, want := range []string{"chat conv-4", "chat conv-5"} {
		if i := slices.Index(seen, want); i < 0 || i > first {
			t.Errorf("%q not before the first chunk's first conversation ended: %q", want, seen)
		}
	}
	// One lookup for each chunk's contact.
	if n := strings.Count(strings.Join(seen[:first], " "), "lookup"); n < 3 {
		t.Errorf("%d contact lookups before the first chunk's first conversation ended: %q", n, seen)
	}
	checkImported(t, srv, convs)
}
