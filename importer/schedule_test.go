package importer_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// sized returns conversations without contacts, conversation i with
// sizes[i] messages, named by their size ("c5-1": the conversation of 5
// messages at index 1).
func sized(t *testing.T, sizes ...int) []*importer.Conversation {
	t.Helper()
	out := make([]*importer.Conversation, len(sizes))
	for i, n := range sizes {
		c := conversationN(t, i, n)
		c.ID, c.Contact = fmt.Sprintf("c%d-%d", n, i), nil
		for k := range c.Messages {
			c.Messages[k].MsgID = fmt.Sprintf("%s-m%d", c.ID, k)
		}
		out[i] = c
	}
	return out
}

// startOrder returns the conversations in the order their first message
// reached the server.
func startOrder(t *testing.T, srv *amojotest.Server) []string {
	t.Helper()
	var order []string
	for _, r := range srv.RequestsTo(amojotest.RouteMessage) {
		id := payloadConversation(t, r)
		if !slices.Contains(order, id) {
			order = append(order, id)
		}
	}
	return order
}

// TestImportAllStartsLongestFirst: ImportAll starts the longest of the
// conversations it reads ahead first (in input order among equals), so a
// long one met late does not run alone at the end.
func TestImportAllStartsLongestFirst(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lookahead int
		want      string
	}{
		{1, "c1-0 c5-1 c2-2 c8-3 c3-4 c5-5"},
		{3, "c5-1 c8-3 c3-4 c5-5 c2-2 c1-0"},
		{importer.DefaultLookahead, "c8-3 c5-1 c5-5 c3-4 c2-2 c1-0"},
	} {
		t.Run(fmt.Sprint(tt.lookahead), func(t *testing.T) {
			t.Parallel()
			srv, im := importSetup(t, nil, importer.WithConcurrency(1), importer.WithLookahead(tt.lookahead))
			convs := sized(t, 1, 5, 2, 8, 3, 5)
			if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(startOrder(t, srv), " "); got != tt.want {
				t.Errorf("started %s\n   want %s", got, tt.want)
			}
			checkImported(t, srv, convs)
		})
	}
}

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

// TestImportAllFirstMessageSoon: the first message leaves after the
// requests it needs (account, connect, its chat), not after the whole
// first chunk is prepared.
func TestImportAllFirstMessageSoon(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, []amojo.Option{amojo.WithRateLimit(0, 0)}, importer.WithConcurrency(4))
	convs := manyConversations(t, 100, 2)
	if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	var before []string
	for _, r := range srv.Requests() {
		if r.Route == amojotest.RouteMessage {
			break
		}
		before = append(before, string(r.Route))
	}
	chats := 0
	for _, r := range before {
		if r == string(amojotest.RouteCreateChat) {
			chats++
		}
	}
	if before[0] != "account" || before[1] != "connect" || chats == 0 || chats > 4 {
		t.Errorf("before the first message: %q, want the account, the connect and at most 4 chats", before)
	}
	checkImported(t, srv, convs)
}

// connectSignal closes connected when a connect request is sent.
type connectSignal struct {
	next      http.RoundTripper
	once      sync.Once
	connected chan struct{}
}

func (c *connectSignal) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/connect") {
		c.once.Do(func() { close(c.connected) })
	}
	return c.next.RoundTrip(r)
}

// TestImportConnectsWhileReading: once a conversation to import is read,
// the channel is connected while the rest of the first chunk is read (and
// ImportFile's are decoded), not after.
func TestImportConnectsWhileReading(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tr := &connectSignal{next: srv.HTTPClient().Transport, connected: make(chan struct{})}
	im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: tr})})
	convs := manyConversations(t, 20, 2)
	seq := func(yield func(*importer.Conversation, error) bool) {
		for i, c := range convs {
			if i == 1 {
				select {
				case <-tr.connected:
				case <-time.After(10 * time.Second):
					t.Error("no connect while the input was read")
				}
			}
			if !yield(c, nil) {
				return
			}
		}
	}
	if _, err := im.ImportAll(t.Context(), seq); err != nil {
		t.Fatal(err)
	}
	checkImported(t, srv, convs)
}
