package amojo_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The sources, templates, talks and events calls against amojotest, whose
// checks are written independently of the SDK.

func TestSourcesAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	crm := srv.CRMClient(amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))
	ctx := t.Context()
	in := make([]amojo.NewSource, 60)
	for i := range in {
		in[i] = amojo.NewSource{Name: "Number " + string(rune('A'+i%26)), ExternalID: "wa-" + strings.Repeat("9", i%5) + string(rune('a'+i%26)) + string(rune('0'+i/26))}
	}
	in[0].Default = true
	in[1].Services = []amojo.SourceService{{Type: amojo.ServiceWhatsApp, WABA: true, ListMessage: true, Pages: []amojo.SourcePage{{ID: "p1", Name: "Sales", Link: "+79990001122"}}}}
	in[1].OriginCode = amojotest.DefaultChannelCode
	added, err := crm.AddSources(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 60 || added[59].ExternalID != in[59].ExternalID || added[0].ID == 0 || !added[0].Default {
		t.Fatalf("added %d: %+v", len(added), added[0])
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests for 60 sources, want 2", n)
	}
	wa, err := crm.GetSource(ctx, added[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := amojo.LeadSource{ID: added[1].ID, Name: in[1].Name, ExternalID: in[1].ExternalID, PipelineID: amojotest.DefaultPipelineID,
		OriginCode: amojotest.DefaultChannelCode, Services: in[1].Services}
	if !reflect.DeepEqual(*wa, want) {
		t.Errorf("GetSource\n got %+v\nwant %+v", *wa, want)
	}
	list, err := crm.Sources(ctx, amojo.SourceFilter{ExternalIDs: []string{in[1].ExternalID, in[2].ExternalID}})
	if err != nil || len(list) != 2 {
		t.Fatalf("filtered list %v, %v", list, err)
	}
	yes := true
	up, err := crm.UpdateSource(ctx, added[2].ID, amojo.SourceUpdate{Name: "Renamed", Default: &yes})
	if err != nil || up.Name != "Renamed" || !up.Default {
		t.Fatalf("update %+v, %v", up, err)
	}
	if first, _ := crm.GetSource(ctx, added[0].ID); first.Default {
		t.Error("the old default is still default")
	}
	// A duplicate external id is named by the fake; the batch error maps it.
	_, err = crm.AddSources(ctx, []amojo.NewSource{{Name: "ok", ExternalID: "fresh"}, {Name: "dup", ExternalID: in[3].ExternalID}})
	var be *amojo.BatchError
	var ae *amojo.APIError
	if !errors.As(err, &be) || !reflect.DeepEqual(be.Failed, []int{1}) || !errors.As(err, &ae) || ae.RequestID == "" {
		t.Errorf("duplicate: %v (%+v)", err, be)
	}
	// Deleting an unknown id: the "errors" key, inner object.
	err = crm.DeleteSources(ctx, []int64{added[4].ID, 1})
	if !errors.As(err, &be) || !reflect.DeepEqual(be.Failed, []int{1}) || !errors.As(err, &ae) || ae.ValidationErrors[0].Errors[0].Code != amojotest.CodeEntityNotFound {
		t.Errorf("delete unknown: %v", err)
	}
	ids := make([]int64, 0, 59)
	for _, s := range added[1:] {
		ids = append(ids, s.ID)
	}
	if err := crm.DeleteSources(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := crm.DeleteSource(ctx, added[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := crm.GetSource(ctx, added[0].ID); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("deleted source: %v", err)
	}
	if err := crm.DeleteSource(ctx, added[0].ID); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if left, err := crm.Sources(ctx, amojo.SourceFilter{}); err != nil || len(left) != 0 {
		t.Errorf("left %v, %v", left, err)
	}
}

// A lost answer to an add is not repeated: the fake stored the source once.
func TestAddSourceLostAnswerAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	srv.DropNextResponse(amojotest.RouteAddSources, 1)
	crm := srv.CRMClient()
	_, err := crm.AddSource(t.Context(), amojo.NewSource{Name: "n", ExternalID: "once"})
	// A repeat would have met the stored external id (400) after a
	// *RetryError's first attempt; the caller gets the network error.
	var re *amojo.RetryError
	var ae *amojo.APIError
	if err == nil || errors.As(err, &re) || errors.As(err, &ae) {
		t.Fatalf("err = %v, want the lost answer's network error", err)
	}
	if got := srv.Sources(); len(got) != 1 {
		t.Errorf("%d sources stored", len(got))
	}
}

func TestChatTemplatesAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	crm := srv.CRMClient(amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))
	ctx := t.Context()
	waba, err := crm.AddSource(ctx, amojo.NewSource{Name: "WABA", ExternalID: "wa-1", Services: []amojo.SourceService{{Type: amojo.ServiceWhatsApp, WABA: true}}})
	if err != nil {
		t.Fatal(err)
	}
	in := make([]amojo.NewChatTemplate, 53)
	for i := range in {
		in[i] = amojo.NewChatTemplate{Name: "Canned", Content: "Thanks, {{contact.name}}!", Editable: true}
	}
	in[0] = amojo.NewChatTemplate{
		Name: "Order ready", Content: "Hello {{contact.name}}, your order is ready.", Type: amojo.TemplateWABA, ExternalID: "tpl-order",
		Buttons:      []amojo.TemplateButton{{Type: amojo.ButtonURL, Text: "Track", URL: "https://example.com/track"}, {Type: amojo.ButtonInline, Text: "Thanks"}},
		WABACategory: amojo.CategoryUtility, WABALanguage: "en", WABAHeader: "Order update", WABAHeaderType: amojo.HeaderText,
		WABAFooter: "Reply STOP to opt out", WABAExamples: map[string]string{"{{contact.name}}": "Anna"},
	}
	added, err := crm.AddChatTemplates(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 53 {
		t.Fatalf("%d added", len(added))
	}
	order := added[0]
	if order.Type != amojo.TemplateWABA || order.WABAHeader != "Order update" || len(order.Buttons) != 2 || order.WABAExamples["{{contact.name}}"] != "Anna" || order.Editable {
		t.Errorf("order %+v", order)
	}
	if added[1].Type != amojo.TemplateAmoCRM || !added[1].Editable || added[1].WABAExamples != nil {
		t.Errorf("canned %+v", added[1])
	}
	n := 0
	for tpl, err := range crm.AllChatTemplates(ctx, amojo.ChatTemplateListOptions{WithReviews: true}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if tpl.ID == order.ID && (tpl.ReviewStatus != "" || tpl.OnReview) {
			t.Errorf("draft %+v", tpl)
		}
	}
	if n != 53 {
		t.Errorf("iterated %d templates", n)
	}
	page, err := crm.ChatTemplates(ctx, amojo.ChatTemplateListOptions{ExternalIDs: []string{"tpl-order"}})
	if err != nil || len(page.Templates) != 1 || page.Next {
		t.Fatalf("filtered %+v, %v", page, err)
	}
	reviews, err := crm.SendChatTemplateForReview(ctx, order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 1 || reviews[0].SourceID != waba.ID || reviews[0].Status != amojo.ReviewPending {
		t.Fatalf("reviews %+v", reviews)
	}
	// On review it cannot change.
	if _, err := crm.UpdateChatTemplate(ctx, order.ID, amojo.ChatTemplateUpdate{Content: "x"}); err == nil {
		t.Error("edited a template on review")
	}
	got, err := crm.GetChatTemplate(ctx, order.ID)
	if err != nil || got.ReviewStatus != amojo.ReviewPending || !got.OnReview {
		t.Fatalf("on review %+v, %v", got, err)
	}
	r, err := crm.SetChatTemplateReviewStatus(ctx, order.ID, reviews[0].ID, amojo.ReviewDecision{Status: amojo.ReviewRejected, RejectReason: "markers"})
	if err != nil || r.Status != amojo.ReviewRejected || r.RejectReason != "markers" {
		t.Fatalf("set %+v, %v", r, err)
	}
	if got, _ := crm.GetChatTemplate(ctx, order.ID); got.ReviewStatus != amojo.ReviewRejected || got.OnReview {
		t.Errorf("after decision %+v", got)
	}
	no := false
	ups, err := crm.UpdateChatTemplates(ctx, []amojo.ChatTemplateUpdate{{ID: added[1].ID, Name: "Renamed", Editable: &no}, {ID: added[2].ID, Buttons: []amojo.TemplateButton{}}})
	if err != nil || ups[0].Name != "Renamed" || ups[0].Editable || ups[1].Name != "Canned" {
		t.Fatalf("updates %+v, %v", ups, err)
	}
	if err := crm.DeleteChatTemplates(ctx, []int64{added[1].ID, added[2].ID}); err != nil {
		t.Fatal(err)
	}
	if err := crm.DeleteChatTemplate(ctx, order.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := crm.GetChatTemplate(ctx, order.ID); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	if n := len(srv.ChatTemplates()); n != 50 {
		t.Errorf("%d templates left", n)
	}
}

// newChatWithContact starts a chat with a client's message and links it to a
// new contact.
func newChatWithContact(t *testing.T, srv *amojotest.Server, chats *amojo.Client, crm *amojo.CRMClient, scopeID, conv string) (string, int64) {
	t.Helper()
	client := amojo.Participant{ID: "client-" + conv, Name: "Client " + conv}
	sent, err := chats.SendMessage(t.Context(), scopeID, amojo.IncomingMessage("in-"+conv, conv, time.Now(), client, amojo.Text{Text: "Hello"}))
	if err != nil {
		t.Fatal(err)
	}
	contactID, err := crm.CreateContact(t.Context(), amojo.NewContact{Name: client.Name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crm.LinkChat(t.Context(), sent.ConversationID, contactID); err != nil {
		t.Fatal(err)
	}
	return sent.ConversationID, contactID
}

func TestTalksAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	chats, crm := srv.Client(), srv.CRMClient()
	scopeID := connectFake(t, srv, chats)
	chatID, contactID := newChatWithContact(t, srv, chats, crm, scopeID, "c1")
	talks := srv.Talks()
	if len(talks) != 1 {
		t.Fatalf("talks %+v", talks)
	}
	talk, err := crm.GetTalk(t.Context(), int64(talks[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	if talk.ChatID != chatID || talk.ContactID != contactID || !talk.InWork || talk.Origin != amojotest.DefaultChannelCode || talk.AccountID != amojotest.DefaultAccountNum {
		t.Errorf("talk %+v", talk)
	}
	srv.SetNPSBot(true)
	res, err := crm.CloseTalk(t.Context(), talk.ID, amojo.CloseTalkOptions{})
	if err != nil || res.TalkID != talk.ID || res.Forced {
		t.Fatalf("close %+v, %v", res, err)
	}
	// Accepted, not done: the NPS bot runs; closing again meets the 422.
	if again, _ := crm.GetTalk(t.Context(), talk.ID); !again.InWork {
		t.Error("closed before the bot finished")
	}
	_, err = crm.CloseTalk(t.Context(), talk.ID, amojo.CloseTalkOptions{Force: true})
	var closed *amojo.TalkClosedError
	if !errors.As(err, &closed) || !errors.Is(err, amojo.ErrTalkClosed) || closed.TalkID != talk.ID {
		t.Fatalf("second close: %v", err)
	}
	if err := srv.RateTalk(int(talk.ID), 10); err != nil {
		t.Fatal(err)
	}
	if done, _ := crm.GetTalk(t.Context(), talk.ID); done.InWork || done.Rate != 10 {
		t.Errorf("after the bot %+v", done)
	}
	if _, err := crm.GetTalk(t.Context(), 1); !errors.Is(err, amojo.ErrNotFound) {
		t.Errorf("unknown talk: %v", err)
	}
}

func TestChatEventsAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithWebhookURL(downHook(t)))
	t.Cleanup(srv.Close)
	chats, crm := srv.Client(), srv.CRMClient()
	scopeID := connectFake(t, srv, chats)
	start := time.Now().Add(-time.Second)
	chatID, contactID := newChatWithContact(t, srv, chats, crm, scopeID, "c1")
	if _, err := srv.ManagerReply(t.Context(), scopeID, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Hi"}); err == nil {
		t.Fatal("webhook delivered")
	}
	talk := srv.Talks()[0]
	if err := srv.LinkTalkToLead(talk.ID, 99120); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ManagerReply(t.Context(), scopeID, chatID, amojotest.ManagerMessage{Text: "Bot here"}); err == nil {
		t.Fatal("webhook delivered")
	}
	var got []amojo.ChatEvent
	for e, err := range crm.AllChatEvents(t.Context(), amojo.ChatEventFilter{Since: start, ContactIDs: []int64{contactID}, Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	stored, _ := srv.Chat(chatID)
	if len(got) != 3 || len(stored.Messages) != 3 {
		t.Fatalf("%d events, %d messages", len(got), len(stored.Messages))
	}
	byMessage := map[string]amojo.ChatEvent{}
	for _, e := range got {
		byMessage[e.MessageID] = e
	}
	in, reply, bot := byMessage[stored.Messages[0].ID], byMessage[stored.Messages[1].ID], byMessage[stored.Messages[2].ID]
	if in.Type != amojo.EventIncomingChat || in.EntityType != "contact" || in.ContactID != contactID || in.AccountID != amojotest.DefaultAccountNum {
		t.Errorf("incoming %+v", in)
	}
	if reply.Type != amojo.EventOutgoingChat || reply.CreatedBy != amojotest.DefaultManagerID || reply.ContactID != contactID {
		t.Errorf("reply %+v", reply)
	}
	// Filed under the lead, found by the contact filter, resolved to the contact.
	if bot.EntityType != "lead" || bot.EntityID != 99120 || bot.LinkedTalkContactID != contactID || bot.ContactID != contactID || bot.CreatedBy != 0 {
		t.Errorf("bot %+v", bot)
	}
	page, err := crm.ChatEvents(t.Context(), amojo.ChatEventFilter{Since: time.Now().Add(time.Hour)})
	if err != nil || len(page.Events) != 0 {
		t.Errorf("future window %+v, %v", page, err)
	}
}

func downHook(t *testing.T) string {
	t.Helper()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	t.Cleanup(down.Close)
	return down.URL + "/amojo/webhook/:scope_id"
}

// The catch-up recipe finds the one manager message whose webhook never
// arrived, and skips: incoming messages, a reply whose webhook was handled,
// an outgoing message the integration sent itself, and the chats of other
// contacts.
func TestCatchUpFindsAnUndeliveredMessage(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	handled := map[string]bool{}
	up := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		ev, err := amojo.ParseWebhook(body)
		if err == nil && ev.Message != nil {
			handled[ev.Message.Message.ID] = true
		}
	}))
	t.Cleanup(hook.Close)
	srv := amojotest.NewServer(amojotest.WithWebhookURL(hook.URL + "/amojo/webhook/:scope_id"))
	t.Cleanup(srv.Close)
	chats, crm := srv.Client(), srv.CRMClient()
	scopeID := connectFake(t, srv, chats)
	since := time.Now().Add(-time.Minute)
	chatA, contactA := newChatWithContact(t, srv, chats, crm, scopeID, "a")
	chatB, _ := newChatWithContact(t, srv, chats, crm, scopeID, "b")
	reply := func(chatID, text string) {
		t.Helper()
		_, _ = srv.ManagerReply(t.Context(), scopeID, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: text})
	}
	reply(chatA, "delivered")
	// The integration itself imports a manager's message (it needs no delivery).
	manager := amojo.Participant{ID: "manager", RefID: amojotest.DefaultManagerAmojoID, Name: "Manager"}
	client := amojo.Participant{ID: "client-a", Name: "Client a"}
	if _, err := chats.SendMessage(t.Context(), scopeID, amojo.ManagerMessage("out-1", "a", time.Now(), manager, client, amojo.Text{Text: "imported"})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	up = false
	mu.Unlock()
	reply(chatB, "lost")

	missed, err := catchUp(t.Context(), crm, chats, scopeID, since, time.Now().Add(time.Minute), func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return handled[id]
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(missed) != 1 || missed[0].Message.Text != "lost" || missed[0].Receiver == nil || missed[0].Receiver.ClientID != "client-b" {
		t.Fatalf("missed %+v", missed)
	}
	stored, _ := srv.Chat(chatB)
	if missed[0].Message.ID != stored.Messages[1].ID {
		t.Errorf("message id %s, want %s", missed[0].Message.ID, stored.Messages[1].ID)
	}
	if len(srv.Events()) != 5 || contactA == 0 {
		t.Errorf("%d events", len(srv.Events()))
	}
}

// Sustained 429s get the account blocked; the SDK reports it once per call,
// never retries it, and says what to do.
func TestAccountBlockedAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(1, 1), amojotest.WithRateLimitBlock(3, time.Minute))
	t.Cleanup(srv.Close)
	crm := srv.CRMClient(amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))
	var err error
	for i := 0; i < 10 && !errors.Is(err, amojo.ErrAccountBlocked); i++ {
		_, err = crm.Account(t.Context())
	}
	if !errors.Is(err, amojo.ErrAccountBlocked) || !srv.Blocked(amojotest.DefaultAccountID) {
		t.Fatalf("err = %v", err)
	}
	var ae *amojo.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.ContentType != "text/html" || ae.RequestID != "" || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("%v (%+v)", err, ae)
	}
	before := len(srv.Requests())
	_, err = srv.CRMClient().Sources(t.Context(), amojo.SourceFilter{})
	if !errors.Is(err, amojo.ErrAccountBlocked) || len(srv.Requests()) != before+1 {
		t.Errorf("default policy: %v after %d requests", err, len(srv.Requests())-before)
	}
}
