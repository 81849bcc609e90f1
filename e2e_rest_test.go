package amojo_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err)
	require.Len(t, added, 60)
	require.Equal(t, in[59].ExternalID, added[59].ExternalID)
	require.NotZero(t, added[0].ID)
	require.True(t, added[0].Default, "added %+v", added[0])
	assert.Len(t, srv.Requests(), 2, "requests for 60 sources")
	wa, err := crm.GetSource(ctx, added[1].ID)
	require.NoError(t, err)
	want := amojo.LeadSource{ID: added[1].ID, Name: in[1].Name, ExternalID: in[1].ExternalID, PipelineID: amojotest.DefaultPipelineID,
		OriginCode: amojotest.DefaultChannelCode, Services: in[1].Services}
	assert.Equal(t, want, *wa, "GetSource")
	list, err := crm.Sources(ctx, amojo.SourceFilter{ExternalIDs: []string{in[1].ExternalID, in[2].ExternalID}})
	require.NoError(t, err)
	require.Len(t, list, 2, "filtered list")
	yes := true
	up, err := crm.UpdateSource(ctx, added[2].ID, amojo.SourceUpdate{Name: "Renamed", Default: &yes})
	require.NoError(t, err)
	require.Equal(t, "Renamed", up.Name)
	require.True(t, up.Default, "update %+v", up)
	first, err := crm.GetSource(ctx, added[0].ID)
	require.NoError(t, err)
	assert.False(t, first.Default, "the old default is still default")
	// A duplicate external id is named by the fake; the batch error maps it.
	_, err = crm.AddSources(ctx, []amojo.NewSource{{Name: "ok", ExternalID: "fresh"}, {Name: "dup", ExternalID: in[3].ExternalID}})
	var be *amojo.BatchError
	var ae *amojo.APIError
	if assert.ErrorAs(t, err, &be, "duplicate") {
		assert.Equal(t, []int{1}, be.Failed, "duplicate")
	}
	if assert.ErrorAs(t, err, &ae, "duplicate") {
		assert.NotEmpty(t, ae.RequestID, "duplicate")
	}
	// Deleting an unknown id: the "errors" key, inner object.
	err = crm.DeleteSources(ctx, []int64{added[4].ID, 1})
	if assert.ErrorAs(t, err, &be, "delete unknown") {
		assert.Equal(t, []int{1}, be.Failed, "delete unknown")
	}
	if assert.ErrorAs(t, err, &ae, "delete unknown") && assert.NotEmpty(t, ae.ValidationErrors) && assert.NotEmpty(t, ae.ValidationErrors[0].Errors) {
		assert.Equal(t, amojotest.CodeEntityNotFound, ae.ValidationErrors[0].Errors[0].Code, "delete unknown")
	}
	ids := make([]int64, 0, 59)
	for _, s := range added[1:] {
		ids = append(ids, s.ID)
	}
	require.NoError(t, crm.DeleteSources(ctx, ids))
	require.NoError(t, crm.DeleteSource(ctx, added[0].ID))
	_, err = crm.GetSource(ctx, added[0].ID)
	assert.ErrorIs(t, err, amojo.ErrNotFound, "deleted source")
	assert.ErrorIs(t, crm.DeleteSource(ctx, added[0].ID), amojo.ErrNotFound, "delete twice")
	left, err := crm.Sources(ctx, amojo.SourceFilter{})
	assert.NoError(t, err)
	assert.Empty(t, left, "sources left")
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
	require.Error(t, err, "want the lost answer's network error")
	require.NotErrorAs(t, err, &re, "want the lost answer's network error")
	require.NotErrorAs(t, err, &ae, "want the lost answer's network error")
	assert.Len(t, srv.Sources(), 1, "sources stored")
}

func TestChatTemplatesAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
	t.Cleanup(srv.Close)
	crm := srv.CRMClient(amojo.WithRateLimit(0, 0), amojo.WithRetry(amojo.NoRetry()))
	ctx := t.Context()
	waba, err := crm.AddSource(ctx, amojo.NewSource{Name: "WABA", ExternalID: "wa-1", Services: []amojo.SourceService{{Type: amojo.ServiceWhatsApp, WABA: true}}})
	require.NoError(t, err)
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
	require.NoError(t, err)
	require.Len(t, added, 53)
	order := added[0]
	assert.Equal(t, amojo.TemplateWABA, order.Type, "order")
	assert.Equal(t, "Order update", order.WABAHeader, "order")
	assert.Len(t, order.Buttons, 2, "order")
	assert.Equal(t, "Anna", order.WABAExamples["{{contact.name}}"], "order")
	assert.False(t, order.Editable, "order")
	assert.Equal(t, amojo.TemplateAmoCRM, added[1].Type, "canned")
	assert.True(t, added[1].Editable, "canned")
	assert.Nil(t, added[1].WABAExamples, "canned")
	n := 0
	for tpl, err := range crm.AllChatTemplates(ctx, amojo.ChatTemplateListOptions{WithReviews: true}) {
		require.NoError(t, err)
		n++
		if tpl.ID == order.ID {
			assert.Empty(t, tpl.ReviewStatus, "draft")
			assert.False(t, tpl.OnReview, "draft")
		}
	}
	assert.Equal(t, 53, n, "templates iterated")
	page, err := crm.ChatTemplates(ctx, amojo.ChatTemplateListOptions{ExternalIDs: []string{"tpl-order"}})
	require.NoError(t, err)
	require.Len(t, page.Templates, 1, "filtered")
	require.False(t, page.Next, "filtered")
	reviews, err := crm.SendChatTemplateForReview(ctx, order.ID)
	require.NoError(t, err)
	require.Len(t, reviews, 1)
	require.Equal(t, waba.ID, reviews[0].SourceID)
	require.Equal(t, amojo.ReviewPending, reviews[0].Status)
	// On review it cannot change.
	_, err = crm.UpdateChatTemplate(ctx, order.ID, amojo.ChatTemplateUpdate{Content: "x"})
	assert.Error(t, err, "edited a template on review")
	got, err := crm.GetChatTemplate(ctx, order.ID)
	require.NoError(t, err)
	require.Equal(t, amojo.ReviewPending, got.ReviewStatus, "on review")
	require.True(t, got.OnReview, "on review")
	r, err := crm.SetChatTemplateReviewStatus(ctx, order.ID, reviews[0].ID, amojo.ReviewDecision{Status: amojo.ReviewRejected, RejectReason: "markers"})
	require.NoError(t, err)
	require.Equal(t, amojo.ReviewRejected, r.Status)
	require.Equal(t, "markers", r.RejectReason)
	got, err = crm.GetChatTemplate(ctx, order.ID)
	require.NoError(t, err)
	assert.Equal(t, amojo.ReviewRejected, got.ReviewStatus, "after decision")
	assert.False(t, got.OnReview, "after decision")
	no := false
	ups, err := crm.UpdateChatTemplates(ctx, []amojo.ChatTemplateUpdate{{ID: added[1].ID, Name: "Renamed", Editable: &no}, {ID: added[2].ID, Buttons: []amojo.TemplateButton{}}})
	require.NoError(t, err)
	require.Len(t, ups, 2)
	require.Equal(t, "Renamed", ups[0].Name)
	require.False(t, ups[0].Editable)
	require.Equal(t, "Canned", ups[1].Name)
	require.NoError(t, crm.DeleteChatTemplates(ctx, []int64{added[1].ID, added[2].ID}))
	require.NoError(t, crm.DeleteChatTemplate(ctx, order.ID))
	_, err = crm.GetChatTemplate(ctx, order.ID)
	assert.ErrorIs(t, err, amojo.ErrNotFound, "deleted")
	assert.Len(t, srv.ChatTemplates(), 50, "templates left")
}

// newChatWithContact starts a chat with a client's message and links it to a
// new contact.
func newChatWithContact(t *testing.T, srv *amojotest.Server, chats *amojo.Client, crm *amojo.CRMClient, scopeID, conv string) (string, int64) {
	t.Helper()
	client := amojo.Participant{ID: "client-" + conv, Name: "Client " + conv}
	sent, err := chats.SendMessage(t.Context(), scopeID, amojo.IncomingMessage("in-"+conv, conv, time.Now(), client, amojo.Text{Text: "Hello"}))
	require.NoError(t, err)
	contactID, err := crm.CreateContact(t.Context(), amojo.NewContact{Name: client.Name})
	require.NoError(t, err)
	_, err = crm.LinkChat(t.Context(), sent.ConversationID, contactID)
	require.NoError(t, err)
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
	require.Len(t, talks, 1)
	talk, err := crm.GetTalk(t.Context(), int64(talks[0].ID))
	require.NoError(t, err)
	assert.Equal(t, chatID, talk.ChatID)
	assert.Equal(t, contactID, talk.ContactID)
	assert.True(t, talk.InWork, "talk in work")
	assert.Equal(t, amojotest.DefaultChannelCode, talk.Origin)
	assert.Equal(t, int64(amojotest.DefaultAccountNum), talk.AccountID)
	srv.SetNPSBot(true)
	res, err := crm.CloseTalk(t.Context(), talk.ID, amojo.CloseTalkOptions{})
	require.NoError(t, err)
	require.Equal(t, amojo.TalkClose{TalkID: talk.ID}, *res, "close, not forced")
	// Accepted, not done: the NPS bot runs; closing again meets the 422.
	again, err := crm.GetTalk(t.Context(), talk.ID)
	require.NoError(t, err)
	assert.True(t, again.InWork, "closed before the bot finished")
	_, err = crm.CloseTalk(t.Context(), talk.ID, amojo.CloseTalkOptions{Force: true})
	var closed *amojo.TalkClosedError
	require.ErrorAs(t, err, &closed, "second close")
	require.ErrorIs(t, err, amojo.ErrTalkClosed, "second close")
	require.Equal(t, talk.ID, closed.TalkID, "second close")
	require.NoError(t, srv.RateTalk(int(talk.ID), 10))
	done, err := crm.GetTalk(t.Context(), talk.ID)
	require.NoError(t, err)
	assert.False(t, done.InWork, "after the bot")
	assert.Equal(t, 10, done.Rate, "after the bot")
	_, err = crm.GetTalk(t.Context(), 1)
	assert.ErrorIs(t, err, amojo.ErrNotFound, "unknown talk")
}

func TestChatEventsAgainstTheFake(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer(amojotest.WithWebhookURL(downHook(t)))
	t.Cleanup(srv.Close)
	chats, crm := srv.Client(), srv.CRMClient()
	scopeID := connectFake(t, srv, chats)
	start := time.Now().Add(-time.Second)
	chatID, contactID := newChatWithContact(t, srv, chats, crm, scopeID, "c1")
	_, err := srv.ManagerReply(t.Context(), scopeID, chatID, amojotest.ManagerMessage{UserID: amojotest.DefaultManagerAmojoID, Text: "Hi"})
	require.Error(t, err, "webhook delivered")
	talk := srv.Talks()[0]
	require.NoError(t, srv.LinkTalkToLead(talk.ID, 99120))
	_, err = srv.ManagerReply(t.Context(), scopeID, chatID, amojotest.ManagerMessage{Text: "Bot here"})
	require.Error(t, err, "webhook delivered")
	var got []amojo.ChatEvent
	for e, err := range crm.AllChatEvents(t.Context(), amojo.ChatEventFilter{Since: start, ContactIDs: []int64{contactID}, Limit: 2}) {
		require.NoError(t, err)
		got = append(got, e)
	}
	stored, _ := srv.Chat(chatID)
	require.Len(t, got, 3, "events")
	require.Len(t, stored.Messages, 3, "messages")
	byMessage := map[string]amojo.ChatEvent{}
	for _, e := range got {
		byMessage[e.MessageID] = e
	}
	in, reply, bot := byMessage[stored.Messages[0].ID], byMessage[stored.Messages[1].ID], byMessage[stored.Messages[2].ID]
	assert.Equal(t, amojo.EventIncomingChat, in.Type, "incoming")
	assert.Equal(t, "contact", in.EntityType, "incoming")
	assert.Equal(t, contactID, in.ContactID, "incoming")
	assert.Equal(t, int64(amojotest.DefaultAccountNum), in.AccountID, "incoming")
	assert.Equal(t, amojo.EventOutgoingChat, reply.Type, "reply")
	assert.Equal(t, int64(amojotest.DefaultManagerID), reply.CreatedBy, "reply")
	assert.Equal(t, contactID, reply.ContactID, "reply")
	// Filed under the lead, found by the contact filter, resolved to the contact.
	assert.Equal(t, "lead", bot.EntityType, "bot")
	assert.Equal(t, int64(99120), bot.EntityID, "bot")
	assert.Equal(t, contactID, bot.LinkedTalkContactID, "bot")
	assert.Equal(t, contactID, bot.ContactID, "bot")
	assert.Zero(t, bot.CreatedBy, "bot")
	page, err := crm.ChatEvents(t.Context(), amojo.ChatEventFilter{Since: time.Now().Add(time.Hour)})
	require.NoError(t, err, "future window")
	assert.Empty(t, page.Events, "future window")
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
	_, err := chats.SendMessage(t.Context(), scopeID, amojo.ManagerMessage("out-1", "a", time.Now(), manager, client, amojo.Text{Text: "imported"}))
	require.NoError(t, err)
	mu.Lock()
	up = false
	mu.Unlock()
	reply(chatB, "lost")

	missed, err := catchUp(t.Context(), crm, chats, scopeID, since, time.Now().Add(time.Minute), func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return handled[id]
	})
	require.NoError(t, err)
	require.Len(t, missed, 1)
	require.Equal(t, "lost", missed[0].Message.Text)
	require.NotNil(t, missed[0].Receiver)
	require.Equal(t, "client-b", missed[0].Receiver.ClientID)
	stored, _ := srv.Chat(chatB)
	assert.Equal(t, stored.Messages[1].ID, missed[0].Message.ID, "message id")
	assert.Len(t, srv.Events(), 5, "events")
	assert.NotZero(t, contactA)
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
	require.ErrorIs(t, err, amojo.ErrAccountBlocked)
	require.True(t, srv.Blocked(amojotest.DefaultAccountID), "the fake has not blocked the account")
	var ae *amojo.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 403, ae.StatusCode)
	assert.Equal(t, "text/html", ae.ContentType)
	assert.Empty(t, ae.RequestID)
	assert.Contains(t, err.Error(), "blocked")
	before := len(srv.Requests())
	_, err = srv.CRMClient().Sources(t.Context(), amojo.SourceFilter{})
	assert.ErrorIs(t, err, amojo.ErrAccountBlocked, "default policy")
	assert.Len(t, srv.Requests(), before+1, "default policy: never retried")
}
