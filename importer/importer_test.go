package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/internal/importtest"
)

// fastRetry retries at once: the tests inject faults and must not sleep.
var fastRetry = amojo.WithRetry(amojo.RetryPolicy{MaxAttempts: 3})

// newServer starts a fake amoCRM. Tests that use several CRM clients one
// after the other (each with its own 7/s limiter, as separate processes
// would have) turn the server's limit off.
func newServer(t *testing.T, opts ...amojotest.Option) *amojotest.Server {
	t.Helper()
	srv := amojotest.NewServer(append([]amojotest.Option{amojotest.WithRateLimit(0, 0)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// importSetup starts a fake amoCRM and returns it with an importer wired to
// it. Extra client options (such as a transport) come first.
func importSetup(t *testing.T, clientOpts []amojo.Option, opts ...importer.Option) (*amojotest.Server, *importer.Importer) {
	t.Helper()
	srv := newServer(t)
	return srv, newImporter(t, srv, clientOpts, opts...)
}

func newImporter(t *testing.T, srv *amojotest.Server, clientOpts []amojo.Option, opts ...importer.Option) *importer.Importer {
	t.Helper()
	co := append([]amojo.Option{fastRetry}, clientOpts...)
	im, err := importer.New(srv.Client(co...), srv.CRMClient(co...), append([]importer.Option{importer.WithVerifyWait(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func readSeed(t testing.TB) *importer.Conversation {
	t.Helper()
	f, err := os.Open("testdata/conversations/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := importer.ReadConversation(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestImportSeed(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	seed := readSeed(t)
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.ScopeID != srv.ScopeID() || res.ChatID == "" || res.ContactID == 0 || !res.ContactCreated || !res.Linked ||
		res.Sent != 2 || res.Skipped != 0 || res.HistoryCount != 2 || res.AlreadyDone {
		t.Errorf("result = %+v", res)
	}

	// The walk-through's requests, in its order.
	var routes []string
	for _, r := range srv.Requests() {
		routes = append(routes, string(r.Route))
	}
	want := "account connect create_chat list_links contacts link_chats history message message history"
	if got := strings.Join(routes, " "); got != want {
		t.Errorf("requests\n got %s\nwant %s", got, want)
	}
	// Every message was imported silently.
	for _, r := range srv.RequestsTo(amojotest.RouteMessage) {
		var body struct {
			Payload struct {
				Silent *bool `json:"silent"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || body.Payload.Silent == nil || !*body.Payload.Silent {
			t.Errorf("message not silent: %s", r.Body)
		}
	}
	// The contact and its link.
	contacts := srv.Contacts()
	if len(contacts) != 1 || contacts[0].FirstName != "Jack200803" || contacts[0].LastName != "Tester" || int64(contacts[0].ID) != res.ContactID {
		t.Errorf("contacts = %+v", contacts)
	}
	links := srv.Links()
	if len(links) != 1 || links[0].ChatID != res.ChatID || int64(links[0].ContactID) != res.ContactID {
		t.Errorf("links = %+v", links)
	}
	// The history reads as the conversation did.
	hist, err := srv.Client().History(t.Context(), res.ScopeID, res.ChatID, amojo.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, h := range slices.Backward(hist) {
		lines = append(lines, fmt.Sprintf("%s %s %s: %s", h.Time.UTC().Format(time.DateTime), h.Message.ClientID, h.Sender.Name, h.Message.Text))
	}
	wantLines := []string{
		"2020-08-03 16:06:48 5f283618af2c8 Example Client: Можно ли оплатить заказ при получении ?",
		"2020-08-03 16:09:12 skm-5f2836a8ca468 Менеджер Василий: Да, конечно. Вы можете оплатить наличными и картой курьеру при получении.",
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("history\n got %q\nwant %q", lines, wantLines)
	}
}

func TestImportRerunImportsNothingTwice(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	seed := readSeed(t)
	if _, err := im.ImportConversation(t.Context(), seed); err != nil {
		t.Fatal(err)
	}
	// Same importer and checkpoint: nothing at all is asked.
	srv.ResetRequests()
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyDone || res.Sent != 0 || res.Skipped != 2 || len(srv.Requests()) != 0 {
		t.Errorf("second run: %+v, %d requests", res, len(srv.Requests()))
	}
	// A new importer without the checkpoint: amoCRM's own answers keep it
	// from creating a second contact or message.
	im2 := newImporter(t, srv, nil)
	res, err = im2.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 0 || res.Skipped != 2 || res.ContactCreated || res.Linked || res.HistoryCount != 2 {
		t.Errorf("third run: %+v", res)
	}
	if n := len(srv.RequestsTo(amojotest.RouteContacts)) + len(srv.RequestsTo(amojotest.RouteMessage)); n != 0 {
		t.Errorf("%d contacts or messages sent again", n)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
	// A conversation that gained a message: only the new one is sent.
	more := readSeed(t)
	more.Messages = append(more.Messages, importer.ConversationMessage{
		MsgID: "5f28400000001", Time: time.Date(2020, 8, 3, 16, 20, 0, 0, time.UTC), From: importer.FromClient,
		Content: amojo.Text{Text: "Спасибо!"},
	})
	res, err = im.ImportConversation(t.Context(), more)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || res.Skipped != 2 || res.HistoryCount != 3 || res.AlreadyDone {
		t.Errorf("grown conversation: %+v", res)
	}
}

func TestImportExistingContact(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	id, err := srv.CRMClient().CreateContact(t.Context(), amojo.NewContact{Name: "Known"})
	if err != nil {
		t.Fatal(err)
	}
	seed := readSeed(t)
	seed.Contact = &importer.ContactSpec{ID: id}
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.ContactID != id || res.ContactCreated || !res.Linked {
		t.Errorf("result = %+v", res)
	}
	if n := len(srv.Contacts()); n != 1 {
		t.Errorf("%d contacts", n)
	}
	// Without a contact, no REST call but the account lookup is made.
	srv.ResetRequests()
	seed.ID += "-2"
	seed.Contact = nil
	for i := range seed.Messages {
		seed.Messages[i].MsgID += "-2"
	}
	im2 := newImporter(t, srv, nil, importer.WithAccountID(srv.Account().AmojoID))
	if _, err := im2.ImportConversation(t.Context(), seed); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			t.Errorf("REST call %s %s", r.Method, r.Path)
		}
	}
}

func TestImportNotifyNewestAndBot(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	seed := readSeed(t)
	seed.Messages = append(seed.Messages, importer.ConversationMessage{
		MsgID: "bot-1", Time: time.Date(2020, 8, 3, 16, 10, 0, 0, time.UTC), From: importer.FromBot,
		Content: amojo.Text{Text: "Оцените ответ"},
	})
	// Out of order on input; sent in time order.
	seed.Messages[0], seed.Messages[2] = seed.Messages[2], seed.Messages[0]

	// Without the bot id the conversation is refused before any request.
	im := newImporter(t, srv, nil)
	_, err := im.ImportConversation(t.Context(), seed)
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Messages[0].Sender.RefID" || !strings.Contains(err.Error(), `message "bot-1"`) {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests before validation failed", n)
	}

	im = newImporter(t, srv, nil, importer.WithBotRefID(srv.Channel().Bot.ID), importer.WithNotifyNewest(true))
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	chat, ok := srv.Chat(res.ChatID)
	if !ok || len(chat.Messages) != 3 {
		t.Fatalf("chat = %+v", chat)
	}
	var got []string
	for _, m := range chat.Messages {
		got = append(got, fmt.Sprintf("%s %s silent=%v", m.ClientID, m.Sender.Name, m.Silent))
	}
	want := []string{
		"5f283618af2c8 Example Client silent=true",
		"skm-5f2836a8ca468 Менеджер Василий silent=true",
		"bot-1 " + srv.Channel().Bot.Name + " silent=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("messages\n got %q\nwant %q", got, want)
	}
}

func TestImportInvalidConversation(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	seed := readSeed(t)
	seed.Messages[1].Content = amojo.Text{}
	_, err := im.ImportConversation(t.Context(), seed)
	var ve *amojo.ValidationError
	var ce *importer.ConversationError
	if !errors.As(err, &ve) || !errors.As(err, &ce) || ce.ConversationID != seed.ID || ce.MsgID != "skm-5f2836a8ca468" {
		t.Fatalf("err = %v", err)
	}
	want := `amojo: conversation "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217", message "skm-5f2836a8ca468": invalid Messages[1].Content.Text: required`
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestImportAuthErrors(t *testing.T) {
	t.Parallel()
	t.Run("expired token", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		crm, err := amojo.NewCRMClient(srv.CRMURL, amojo.StaticToken("expired"), amojo.WithHTTPClient(srv.HTTPClient()))
		if err != nil {
			t.Fatal(err)
		}
		im, err := importer.New(srv.Client(), crm)
		if err != nil {
			t.Fatal(err)
		}
		_, err = im.ImportConversation(t.Context(), readSeed(t))
		var ce *importer.ConversationError
		if !errors.Is(err, amojo.ErrUnauthorized) || !errors.As(err, &ce) || ce.ConversationID == "" {
			t.Fatalf("err = %v", err)
		}
		if !strings.HasPrefix(err.Error(), `amojo: conversation "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217": connect: GET /api/v4/account: 401`) {
			t.Errorf("err = %q", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		chats, err := amojo.NewClient(srv.Channel().ID, strings.Repeat("0", 40), amojo.WithBaseURL(srv.URL), amojo.WithHTTPClient(srv.HTTPClient()))
		if err != nil {
			t.Fatal(err)
		}
		im, err := importer.New(chats, srv.CRMClient())
		if err != nil {
			t.Fatal(err)
		}
		// A batch stops at the first such failure.
		convs := manyConversations(t, 120, 2)
		res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
		if !errors.Is(err, amojo.ErrInvalidSignature) || !strings.Contains(err.Error(), "connect: POST /v2/origin/custom/") {
			t.Fatalf("err = %v", err)
		}
		if res.ConversationsDone != 0 || res.ConversationsFailed > 50 {
			t.Errorf("result = %+v", res.Progress)
		}
		if n := len(srv.RequestsTo(amojotest.RouteConnect)); n != 1 {
			t.Errorf("%d connects", n)
		}
	})
}

// manyConversations makes n conversations of m messages each; every other
// one has a contact to create.
func manyConversations(t testing.TB, n, m int) []*importer.Conversation {
	t.Helper()
	out := make([]*importer.Conversation, n)
	for i := range n {
		out[i] = conversationN(t, i, m)
	}
	return out
}

// conversationN returns conversation i of manyConversations, with m
// messages, alternately from the client and a manager, and a contact to
// create when i is even.
func conversationN(t testing.TB, i, m int) *importer.Conversation {
	t.Helper()
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	c := &importer.Conversation{
		ID:     fmt.Sprintf("conv-%d", i),
		Client: amojo.Participant{ID: fmt.Sprintf("client-%d", i), Name: fmt.Sprintf("Client %d", i)},
	}
	if i%2 == 0 {
		c.Contact = &importer.ContactSpec{Name: fmt.Sprintf("Client %d", i), Phones: []string{fmt.Sprintf("+7900%07d", i)}}
	}
	for k := range m {
		msg := importer.ConversationMessage{
			MsgID: fmt.Sprintf("conv-%d-m-%d", i, k), Time: start.Add(time.Duration(k) * time.Minute),
			From: importer.FromClient, Content: amojo.Text{Text: fmt.Sprintf("message %d", k)},
		}
		if k%2 == 1 {
			msg.From = importer.FromManager
			msg.Sender = &amojo.Participant{ID: "mgr", RefID: amojotest.DefaultManagerAmojoID, Name: amojotest.DefaultManagerName}
		}
		c.Messages = append(c.Messages, msg)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// jsonLines returns convs as a JSON Lines file and where each line starts.
func jsonLines(t testing.TB, convs []*importer.Conversation) ([]byte, []int64) {
	t.Helper()
	var b bytes.Buffer
	var starts []int64
	for _, c := range convs {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, int64(b.Len()))
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.Bytes(), starts
}

// payloadConversation returns the conversation_id of a message request.
func payloadConversation(t testing.TB, r amojotest.Request) string {
	t.Helper()
	var body struct {
		Payload struct {
			ConversationID string `json:"conversation_id"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.Payload.ConversationID
}

func TestImportAllChunksRESTCalls(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var last importer.Progress
	calls := 0
	// The server enforces amoCRM's 7 requests per second here.
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	im := newImporter(t, srv, nil, importer.WithConcurrency(4), importer.WithProgress(func(p importer.Progress) {
		mu.Lock()
		defer mu.Unlock()
		last = p
		calls++
	}))
	convs := manyConversations(t, 120, 3)
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	if err != nil {
		t.Fatal(err)
	}
	want := importer.Progress{Conversations: 120, ConversationsDone: 120, Messages: 360, MessagesSent: 360}
	if res.Progress != want || last != want || len(res.Failures) != 0 {
		t.Errorf("result %+v\nlast progress %+v", res.Progress, last)
	}
	if calls < 480 {
		t.Errorf("%d progress calls", calls)
	}
	// One lookup, one creation and one link request per chunk of 50.
	for route, n := range map[amojotest.Route]int{
		amojotest.RouteAccount: 1, amojotest.RouteConnect: 1, amojotest.RouteListLinks: 3,
		amojotest.RouteContacts: 3, amojotest.RouteLinkChats: 3, amojotest.RouteCreateChat: 120, amojotest.RouteMessage: 360,
	} {
		if got := len(srv.RequestsTo(route)); got != n {
			t.Errorf("%s: %d requests, want %d", route, got, n)
		}
	}
	if n := len(srv.Contacts()); n != 60 {
		t.Errorf("%d contacts", n)
	}
	if n := len(srv.Links()); n != 60 {
		t.Errorf("%d links", n)
	}
	checkImported(t, srv, convs)
}

// checkImported asserts that every conversation's chat holds each of its
// msgids exactly once, in time order, and that each conversation with a
// contact has exactly one, linked.
func checkImported(t *testing.T, srv *amojotest.Server, convs []*importer.Conversation) {
	t.Helper()
	importtest.CheckImported(t, srv, convs)
}

func TestImportResumesAfterFaults(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cpPath := filepath.Join(t.TempDir(), "checkpoint.jsonl")
	convs := manyConversations(t, 6, 5)
	faults := []func(){
		func() { srv.FailNext(amojotest.RouteMessage, 3, http.StatusServiceUnavailable, "") }, // beyond the retries
		func() { srv.FailNext(amojotest.RouteContacts, 3, http.StatusTooManyRequests, "") },   // refused: nothing created
		func() { srv.FailNext(amojotest.RouteLinkChats, 1, http.StatusBadRequest, "") },
		func() { srv.DropNext(amojotest.RouteHistory, 3) },
		func() { srv.FailNext(amojotest.RouteCreateChat, 3, http.StatusGatewayTimeout, "") },
	}
	for i, inject := range faults {
		inject()
		cp, err := importer.NewFileCheckpoint(cpPath)
		if err != nil {
			t.Fatal(err)
		}
		im := newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithConcurrency(1))
		res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
		cp.Close()
		if err == nil && res.ConversationsDone != len(convs) {
			t.Fatalf("fault %d: no error but %+v", i, res.Progress)
		}
		if err != nil && res.ConversationsFailed == 0 {
			t.Fatalf("fault %d: %v but no failure counted", i, err)
		}
	}
	srv.ResetFaults()
	cp, err := importer.NewFileCheckpoint(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	if err != nil {
		t.Fatal(err)
	}
	if res.ConversationsDone != len(convs) {
		t.Errorf("final run: %+v", res.Progress)
	}
	checkImported(t, srv, convs)
}

// lossyTransport forwards requests to the fake and, for the chosen routes,
// throws the answer away, as when the network fails after the server acted.
type lossyTransport struct {
	next http.RoundTripper
	lose func(r *http.Request) bool
}

func (l lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && l.lose(r) {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("connection reset after the request was handled")
	}
	return resp, err
}

func TestImportLostAnswerIsNotDuplicated(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	var lost atomic.Int32
	hc := &http.Client{Transport: lossyTransport{next: srv.HTTPClient().Transport, lose: func(r *http.Request) bool {
		// Lose the answer to the first message: amojo has it, the importer
		// does not know. Its retry is refused as a duplicate.
		return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v2/") && strings.Count(r.URL.Path, "/") == 4 && lost.Add(1) == 1
	}}}
	im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(hc)})
	seed := readSeed(t)
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 1 || res.Skipped != 1 || res.HistoryCount != 2 {
		t.Errorf("result = %+v", res)
	}
	msgs := srv.RequestsTo(amojotest.RouteMessage)
	if len(msgs) != 3 || msgs[1].StatusCode != http.StatusBadRequest {
		t.Errorf("message requests: %d", len(msgs))
	}
	checkImported(t, srv, []*importer.Conversation{seed})
}

func TestImportMsgIDOfAnotherChat(t *testing.T) {
	t.Parallel()
	_, im := importSetup(t, nil)
	seed := readSeed(t)
	if _, err := im.ImportConversation(t.Context(), seed); err != nil {
		t.Fatal(err)
	}
	other := readSeed(t)
	other.ID = "another-conversation"
	other.Contact = nil
	_, err := im.ImportConversation(t.Context(), other)
	var ce *importer.ConversationError
	if !errors.As(err, &ce) || ce.MsgID != "5f283618af2c8" || ce.Step != "send" || !strings.Contains(err.Error(), "already used in another chat") {
		t.Fatalf("err = %v", err)
	}
}

// cancelTransport cancels the run before its k-th request is sent.
type cancelTransport struct {
	next   http.RoundTripper
	k      int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.n.Add(1) == c.k {
		c.cancel()
		if r.Method == http.MethodPost && r.URL.Path == "/api/v4/contacts" {
			// The importer sees a contact creation through (its context
			// is not cancelled with the run's).
			return c.next.RoundTrip(r)
		}
		return nil, context.Canceled
	}
	return c.next.RoundTrip(r)
}

// TestImportCancelledAtRandomPoints stops an import after a random number
// of requests, then resumes it in a new importer with the checkpoint file
// reopened, as after a kill and a restart. Nothing may be lost or doubled.
func TestImportCancelledAtRandomPoints(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 20 {
		k := 1 + rng.IntN(45)
		conc := 1 + rng.IntN(4)
		t.Run(fmt.Sprintf("run%d_k%d_c%d", run, k, conc), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			convs := manyConversations(t, 5, 6)
			cpPath := filepath.Join(t.TempDir(), "cp.jsonl")

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			tr := &cancelTransport{next: srv.HTTPClient().Transport, k: int64(k), cancel: cancel}
			cp, err := importer.NewFileCheckpoint(cpPath)
			if err != nil {
				t.Fatal(err)
			}
			im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: tr})},
				importer.WithCheckpoint(cp), importer.WithConcurrency(conc), importer.WithChunkSize(2))
			_, err = im.ImportAll(ctx, importer.ConversationsOf(convs))
			cp.Close()
			if tr.n.Load() >= int64(k) && err == nil {
				t.Fatal("cancelled run reported success")
			}

			cp, err = importer.NewFileCheckpoint(cpPath)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			im = newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithConcurrency(conc), importer.WithChunkSize(2))
			res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
			if err != nil {
				t.Fatal(err)
			}
			if res.ConversationsDone != len(convs) || res.MessagesSent+res.MessagesSkipped != 30 {
				t.Errorf("resumed run: %+v", res.Progress)
			}
			checkImported(t, srv, convs)
		})
	}
}

func TestImportAllReadsLinesAndReportsBadOnes(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	var buf bytes.Buffer
	for _, c := range manyConversations(t, 3, 2) {
		b, _ := json.Marshal(c)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	buf.WriteString(`{"conversation_id":"broken"` + "\n")
	res, err := im.ImportAll(t.Context(), importer.ReadConversations(&buf))
	var ce *importer.ConversationError
	if !errors.As(err, &ce) || ce.Line != 4 || ce.Step != "read" {
		t.Fatalf("err = %v", err)
	}
	if res.ConversationsDone != 3 || res.ConversationsFailed != 1 || len(res.Failures) != 1 {
		t.Errorf("result = %+v", res.Progress)
	}
	if n := len(srv.Chats(srv.ScopeID())); n != 3 {
		t.Errorf("%d chats", n)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	chats := srv.Client()
	for name, tt := range map[string]struct {
		crm  *amojo.CRMClient
		opts []importer.Option
	}{
		"nil crm":         {nil, nil},
		"zero workers":    {srv.CRMClient(), []importer.Option{importer.WithConcurrency(0)}},
		"huge chunk":      {srv.CRMClient(), []importer.Option{importer.WithChunkSize(251)}},
		"foreign scope":   {srv.CRMClient(), []importer.Option{importer.WithScopeID("other_scope")}},
		"nil checkpoint":  {srv.CRMClient(), []importer.Option{importer.WithCheckpoint(nil)}},
		"blank title":     {srv.CRMClient(), []importer.Option{importer.WithChannelTitle(" ")}},
		"nil option":      {srv.CRMClient(), []importer.Option{nil}},
		"negative wait":   {srv.CRMClient(), []importer.Option{importer.WithVerifyWait(-1)}},
		"nil progress fn": {srv.CRMClient(), []importer.Option{importer.WithProgress(nil)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := importer.New(chats, tt.crm, tt.opts...)
			var ve *amojo.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("err = %v", err)
			}
		})
	}
	if _, err := importer.New(nil, srv.CRMClient()); err == nil {
		t.Error("nil chats client accepted")
	}
	if _, err := importer.New(chats, nil, importer.WithScopeID(srv.ScopeID())); err != nil {
		t.Errorf("scope without CRM: %v", err)
	}
}

func TestImportWithScopeID(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	scopeID, err := srv.Connect(srv.Channel().ID, srv.Account().AmojoID)
	if err != nil {
		t.Fatal(err)
	}
	// No CRM client is needed without contacts.
	im, err := importer.New(srv.Client(), nil, importer.WithScopeID(scopeID), importer.WithVerifyWait(0))
	if err != nil {
		t.Fatal(err)
	}
	seed := readSeed(t)
	if _, err := im.ImportConversation(t.Context(), seed); err == nil || !strings.Contains(err.Error(), "invalid Contact: the importer has no CRMClient") {
		t.Fatalf("err = %v", err)
	}
	seed.Contact = nil
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil {
		t.Fatal(err)
	}
	if res.ScopeID != scopeID || res.Sent != 2 {
		t.Errorf("result = %+v", res)
	}
	if n := len(srv.RequestsTo(amojotest.RouteConnect)) + len(srv.RequestsTo(amojotest.RouteAccount)); n != 0 {
		t.Errorf("%d connect or account requests", n)
	}
}

// TestImportAllStreams checks that ImportAll reads its input as it goes:
// it never holds more than three chunks of conversations that are not done,
// plus those it reads ahead (WithLookahead) to start the longest first.
func TestImportAllStreams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ lookahead, min, max int64 }{{1, 5, 15}, {20, 20, 15 + 19}} {
		t.Run(fmt.Sprintf("lookahead=%d", tt.lookahead), func(t *testing.T) {
			t.Parallel()
			var finished atomic.Int64
			// Many small chunks mean many REST calls: lift the client's 7/s here.
			srv, im := importSetup(t, []amojo.Option{amojo.WithRateLimit(0, 0)}, importer.WithChunkSize(5), importer.WithConcurrency(3),
				importer.WithLookahead(int(tt.lookahead)), importer.WithProgress(func(p importer.Progress) {
					finished.Store(int64(p.ConversationsDone + p.ConversationsFailed))
				}))
			convs := manyConversations(t, 60, 2)
			maxAhead := int64(0)
			seq := func(yield func(*importer.Conversation, error) bool) {
				for i, c := range convs {
					maxAhead = max(maxAhead, int64(i)-finished.Load())
					if !yield(c, nil) {
						return
					}
				}
			}
			res, err := im.ImportAll(t.Context(), seq)
			if err != nil {
				t.Fatal(err)
			}
			if res.ConversationsDone != 60 {
				t.Errorf("result = %+v", res.Progress)
			}
			if maxAhead > tt.max || maxAhead < tt.min {
				t.Errorf("read up to %d conversations ahead of those done, want %d..%d", maxAhead, tt.min, tt.max)
			}
			checkImported(t, srv, convs)
		})
	}
}

func TestImportAllRepeatedConversation(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil)
	convs := manyConversations(t, 3, 2)
	convs = append(convs, convs[0]) // the same conversation twice in one chunk
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	var ce *importer.ConversationError
	if !errors.As(err, &ce) || ce.ConversationID != "conv-0" || ce.Index != 3 || !strings.Contains(err.Error(), "being imported already") {
		t.Fatalf("err = %v", err)
	}
	if res.ConversationsDone != 3 || res.ConversationsFailed != 1 {
		t.Errorf("result = %+v", res.Progress)
	}
	checkImported(t, srv, convs[:3])
	// Once done, it can be imported again (and is found done).
	res2, err := im.ImportConversation(t.Context(), convs[0])
	if err != nil || !res2.AlreadyDone {
		t.Errorf("again: %+v, %v", res2, err)
	}
}

func TestImportWithoutVerify(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil, importer.WithVerify(false))
	res, err := im.ImportConversation(t.Context(), readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.HistoryCount != 0 {
		t.Errorf("result = %+v", res)
	}
	// Only the read before sending, none after.
	if n := len(srv.RequestsTo(amojotest.RouteHistory)); n != 1 {
		t.Errorf("%d history requests", n)
	}
}

// TestImportLostContactAnswer loses amoCRM's answer to a contact creation:
// amoCRM created the contacts, the importer never learned their ids. It
// finds them by searching amoCRM (contacts created since it sent the
// request that fit the conversation) and links them: no conversation fails
// and no contact is created twice. (An earlier version failed these
// conversations with ErrContactUnconfirmed on every run until told which
// contact to use.)
func TestImportLostContactAnswer(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cpPath := filepath.Join(t.TempDir(), "cp.jsonl")
	convs := manyConversations(t, 4, 2) // conv-0 and conv-2 have contacts to create
	run := func(opts ...importer.Option) (*importer.BatchResult, error) {
		t.Helper()
		cp, err := importer.NewFileCheckpoint(cpPath)
		if err != nil {
			t.Fatal(err)
		}
		defer cp.Close()
		im := newImporter(t, srv, nil, append([]importer.Option{importer.WithCheckpoint(cp)}, opts...)...)
		return im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	}

	srv.DropNextResponse(amojotest.RouteContacts, 1)
	res, err := run()
	if err != nil || res.ConversationsDone != 4 || res.ConversationsFailed != 0 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	created := srv.Contacts()
	if len(created) != 2 {
		t.Fatalf("%d contacts after the lost answer, want 2", len(created))
	}
	if n := len(srv.RequestsTo(amojotest.RouteContacts)); n != 1 {
		t.Errorf("%d contact requests, want 1", n)
	}
	// One search per conversation, by its phone, from about when the
	// request left.
	finds := srv.RequestsTo(amojotest.RouteFindContacts)
	sent := srv.RequestsTo(amojotest.RouteContacts)[0].Time
	for i, f := range finds {
		from, _ := strconv.ParseInt(f.Query.Get("filter[created_at][from]"), 10, 64)
		if q := f.Query.Get("query"); q != fmt.Sprintf("+7900%07d", 2*i) || from > sent.Unix() || from < sent.Add(-2*time.Minute).Unix() {
			t.Errorf("search %s (request sent at %d)", f.RawQuery, sent.Unix())
		}
	}
	if len(finds) != 2 {
		t.Errorf("%d searches, want 2", len(finds))
	}
	linkOf := map[string]int{}
	for _, l := range srv.Links() {
		linkOf[l.ChatID] = l.ContactID
	}
	chat0, _ := srv.ChatByConversation(srv.ScopeID(), "conv-0")
	chat2, _ := srv.ChatByConversation(srv.ScopeID(), "conv-2")
	if linkOf[chat0.ID] != created[0].ID || linkOf[chat2.ID] != created[1].ID {
		t.Errorf("links %v, contacts %+v", linkOf, created)
	}
	checkImported(t, srv, convs)

	// A second run finds everything done (it only connects).
	srv.ResetRequests()
	res, err = run()
	if err != nil || res.ConversationsSkipped != 4 || len(srv.Requests()) != 2 {
		t.Errorf("second run: %v %+v, %d requests", err, res.Progress, len(srv.Requests()))
	}
}

// TestImportRefusedContactIsRetried: a contact amoCRM refused was not
// created, so the next run creates it.
func TestImportRefusedContactIsRetried(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := importer.NewMemoryCheckpoint()
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	seed := readSeed(t)
	srv.FailNext(amojotest.RouteContacts, 1, http.StatusBadRequest, "")
	if _, err := im.ImportConversation(t.Context(), seed); err == nil || errors.Is(err, importer.ErrContactUnconfirmed) {
		t.Fatalf("err = %v", err)
	}
	if st, _ := cp.Load(t.Context(), seed.ID); st.ContactPending {
		t.Errorf("state %+v", st)
	}
	res, err := im.ImportConversation(t.Context(), seed)
	if err != nil || !res.ContactCreated {
		t.Fatalf("res %+v, err %v", res, err)
	}
	checkImported(t, srv, []*importer.Conversation{seed})
}

// inFlightTransport counts the chats API requests in flight and keeps the
// highest count seen.
type inFlightTransport struct {
	next     http.RoundTripper
	now, max atomic.Int64
}

func (c *inFlightTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/v2/") {
		return c.next.RoundTrip(r)
	}
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	return c.next.RoundTrip(r)
}

// TestImportAllBoundsChatsRequests: creating the next chunk's chats shares
// the bound with the conversations sending messages.
func TestImportAllBoundsChatsRequests(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(amojotest.AllRoutes, 2*time.Millisecond)
	tr := &inFlightTransport{next: srv.HTTPClient().Transport}
	im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: tr}), amojo.WithRateLimit(0, 0)},
		importer.WithConcurrency(2), importer.WithChunkSize(4))
	convs := manyConversations(t, 40, 6)
	if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	if n := tr.max.Load(); n > 2 || n < 1 {
		t.Errorf("up to %d chats API requests in flight, want at most 2", n)
	}
	checkImported(t, srv, convs)
}

// TestImportAllLongConversationDoesNotStall imports two conversations of
// 300 messages, each in its own chunk, among 100 short ones: while the long
// ones go on, the short ones keep the other workers busy, chunk after chunk,
// instead of waiting for the long ones' chunks to finish.
func TestImportAllLongConversationDoesNotStall(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.SetLatency(amojotest.AllRoutes, 2*time.Millisecond)
	const chunk = 20
	im := newImporter(t, srv, []amojo.Option{amojo.WithRateLimit(0, 0)}, importer.WithConcurrency(4), importer.WithChunkSize(chunk), importer.WithVerify(false))
	long := manyConversations(t, 2, 300)
	for k, c := range long {
		c.ID = fmt.Sprintf("long-%d", k)
		for i := range c.Messages {
			c.Messages[i].MsgID = fmt.Sprintf("long-%d-m-%d", k, i)
		}
	}
	short := manyConversations(t, 100, 1)
	convs := slices.Concat(long[:1], short[:chunk-1], long[1:], short[chunk-1:])
	if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	// Walk the message requests in the order the server received them and
	// count the short conversations sent while both long ones were under way.
	longSent := map[string]int{}
	during := map[string]bool{}
	for _, r := range srv.RequestsTo(amojotest.RouteMessage) {
		id := payloadConversation(t, r)
		if strings.HasPrefix(id, "long-") {
			longSent[id]++
			continue
		}
		n0, n1 := longSent["long-0"], longSent["long-1"]
		if n0 > 0 && n0 < 300 && n1 > 0 && n1 < 300 {
			during[id] = true
		}
	}
	// Were a chunk to wait for its slowest conversation, only the rest of
	// the two long ones' chunks could run beside them.
	if len(during) < 2*chunk+10 {
		t.Errorf("%d short conversations sent while the long ones were under way, want at least %d", len(during), 2*chunk+10)
	}
	checkImported(t, srv, convs)
}

// TestImportAllInterruptedIsNotFailed: conversations left unfinished by a
// cancelled run are reported as interrupted, not as failures.
func TestImportAllInterruptedIsNotFailed(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	tr := &cancelTransport{next: srv.HTTPClient().Transport, k: 40, cancel: cancel}
	im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: tr})},
		importer.WithConcurrency(4), importer.WithChunkSize(5))
	res, err := im.ImportAll(ctx, importer.ConversationsOf(manyConversations(t, 20, 4)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	p := res.Progress
	if p.ConversationsFailed != 0 || len(res.Failures) != 0 || p.ConversationsInterrupted == 0 ||
		p.ConversationsInterrupted != p.Conversations-p.ConversationsDone {
		t.Errorf("progress %+v, failures %v", p, res.Failures)
	}
}
