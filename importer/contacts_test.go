package importer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// quickRetry retries at once, also after a 429 without Retry-After (a
// policy with zero delays would keep the default ones).
func quickRetry() amojo.Option {
	return amojo.WithRetry(amojo.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Nanosecond, MaxDelay: time.Nanosecond})
}

// fileRun imports convs with a fresh importer on the checkpoint file at
// path, as one run of a program would.
func fileRun(t *testing.T, srv *amojotest.Server, path string, convs []*importer.Conversation, clientOpts []amojo.Option, opts ...importer.Option) (*importer.BatchResult, error) {
	t.Helper()
	cp, err := importer.NewFileCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	co := append([]amojo.Option{quickRetry()}, clientOpts...)
	im, err := importer.New(srv.Client(co...), srv.CRMClient(co...), append([]importer.Option{importer.WithVerifyWait(0), importer.WithCheckpoint(cp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return im.ImportAll(t.Context(), importer.ConversationsOf(convs))
}

// unconfirmed returns the conversations that failed with
// ErrContactUnconfirmed and checks that each error contains want.
func unconfirmed(t *testing.T, res *importer.BatchResult, want string) []string {
	t.Helper()
	var ids []string
	for _, f := range res.Failures {
		if !errors.Is(f, importer.ErrContactUnconfirmed) || f.Step != "create contact" || !strings.Contains(f.Error(), want) {
			t.Errorf("failure %v, want ErrContactUnconfirmed with %q", f, want)
		}
		ids = append(ids, f.ConversationID)
	}
	slices.Sort(ids)
	return ids
}

// TestImportUnconfirmedContactSearchFails: when the search after a lost
// answer fails too, the conversations stop with ErrContactUnconfirmed; the
// next run searches again and adopts the contacts.
func TestImportUnconfirmedContactSearchFails(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	convs := manyConversations(t, 4, 2)
	srv.DropNextResponse(amojotest.RouteContacts, 1)
	srv.FailNext(amojotest.RouteFindContacts, 2, http.StatusInternalServerError, "")
	res, err := fileRun(t, srv, path, convs, nil)
	if !errors.Is(err, importer.ErrContactUnconfirmed) || res.ConversationsFailed != 2 || res.ConversationsDone != 2 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	if ids := unconfirmed(t, res, "looking for it failed (GET /api/v4/contacts: 500"); !slices.Equal(ids, []string{"conv-0", "conv-2"}) {
		t.Errorf("failed %v", ids)
	}
	res, err = fileRun(t, srv, path, convs, nil)
	if err != nil || res.ConversationsDone != 4 {
		t.Fatalf("next run: err = %v, result %+v", err, res.Progress)
	}
	if n := len(srv.RequestsTo(amojotest.RouteContacts)); n != 1 {
		t.Errorf("%d contact requests", n)
	}
	checkImported(t, srv, convs)
}

// TestImportUnconfirmedContactAmbiguous: two contacts that fit, created
// since the request left, cannot be told apart: the conversation stops with
// ErrContactUnconfirmed naming both, until the user names one.
func TestImportUnconfirmedContactAmbiguous(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	convs := manyConversations(t, 4, 2)
	// Someone created conv-0's client by hand a moment ago.
	twin, err := srv.CRMClient().CreateContact(t.Context(), amojo.NewContact{Name: convs[0].Contact.Name, Phones: []amojo.ContactPhone{{Value: convs[0].Contact.Phones[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.DropNextResponse(amojotest.RouteContacts, 1)
	res, err := fileRun(t, srv, path, convs, nil)
	if !errors.Is(err, importer.ErrContactUnconfirmed) || res.ConversationsFailed != 1 || res.ConversationsDone != 3 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	created := srv.Contacts() // the twin, then the contacts of conv-0 and conv-2
	want := fmt.Sprintf("2 contacts created since fit it (ids %d, %d)", twin, created[1].ID)
	if ids := unconfirmed(t, res, want); !slices.Equal(ids, []string{"conv-0"}) {
		t.Errorf("failed %v", ids)
	}
	// Runs again stop the same way, creating nothing.
	res, _ = fileRun(t, srv, path, convs, nil)
	if ids := unconfirmed(t, res, want); !slices.Equal(ids, []string{"conv-0"}) || len(srv.Contacts()) != 3 {
		t.Errorf("failed %v, %d contacts", ids, len(srv.Contacts()))
	}
	convs[0].Contact = &importer.ContactSpec{ID: int64(created[1].ID)}
	if res, err := fileRun(t, srv, path, convs, nil); err != nil || res.ConversationsDone != 4 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	if n := len(srv.Contacts()); n != 3 {
		t.Errorf("%d contacts", n)
	}
}

// TestImportUnconfirmedTwinContacts: two conversations with the same
// contact, both lost in one request, get one of the two contacts each; a
// contact of the same kind already linked to another chat is not a
// candidate.
func TestImportUnconfirmedTwinContacts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	convs := manyConversations(t, 3, 1)
	for _, c := range convs {
		c.Contact = &importer.ContactSpec{FirstName: "Ann", LastName: "Twin", Emails: []string{"ann@example.com"}}
	}
	// The first conversation goes alone and keeps its contact.
	if res, err := fileRun(t, srv, path, convs[:1], nil); err != nil || res.ConversationsDone != 1 {
		t.Fatalf("err = %v, %+v", err, res)
	}
	srv.DropNextResponse(amojotest.RouteContacts, 1)
	res, err := fileRun(t, srv, path, convs, nil)
	if err != nil || res.ConversationsDone != 3 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	checkImported(t, srv, convs)
	seen := map[int]bool{}
	for _, l := range srv.Links() {
		if seen[l.ContactID] {
			t.Errorf("contact %d linked twice: %+v", l.ContactID, srv.Links())
		}
		seen[l.ContactID] = true
	}
}

// TestImportUnconfirmedOldCheckpoint: a pending mark without its time (a
// checkpoint written before it was recorded) cannot bound the search: the
// conversation stops as before, and WithRecreateContacts creates it.
func TestImportUnconfirmedOldCheckpoint(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	convs := manyConversations(t, 1, 1)
	cp := importer.NewMemoryCheckpoint()
	if err := cp.Record(t.Context(), "conv-0", importer.CheckpointEntry{ContactPending: true}); err != nil {
		t.Fatal(err)
	}
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	_, err := im.ImportConversation(t.Context(), convs[0])
	if !errors.Is(err, importer.ErrContactUnconfirmed) || !strings.Contains(err.Error(), "does not say when") {
		t.Fatalf("err = %v", err)
	}
	im = newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithRecreateContacts(true))
	if res, err := im.ImportConversation(t.Context(), convs[0]); err != nil || !res.ContactCreated {
		t.Fatalf("res %+v, err %v", res, err)
	}
	checkImported(t, srv, convs)
}

// eventLog is a record of what the importer and the network did, in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(slices.Compact(slices.Clone(l.events)), " ")
}

// loggedCheckpoint logs the contact entries recorded.
type loggedCheckpoint struct {
	importer.Checkpoint
	log *eventLog
}

func (c loggedCheckpoint) Record(ctx context.Context, id string, e importer.CheckpointEntry) error {
	switch {
	case e.ContactPending:
		if e.ContactPendingAt.IsZero() {
			c.log.add("pending-without-time")
		}
		c.log.add("pending")
	case e.ContactNotCreated:
		c.log.add("not-created")
	case e.ContactID != 0 && !e.Linked:
		c.log.add("created")
	}
	return c.Checkpoint.Record(ctx, id, e)
}

// contactsTransport logs the contact creations sent and their answers, and
// can cancel the run when one is answered with a 429.
type contactsTransport struct {
	next     http.RoundTripper
	log      *eventLog
	cancelOn func(status int) bool
	cancel   context.CancelFunc
}

func (c *contactsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v4/contacts" {
		return c.next.RoundTrip(r)
	}
	c.log.add("send")
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		c.log.add("answer-%d", resp.StatusCode)
		if c.cancelOn != nil && c.cancelOn(resp.StatusCode) {
			c.cancel()
		}
	}
	return resp, err
}

// TestImportContactPendingMarkedWhenSent: the pending mark is written right
// before each attempt leaves, after the back-off of a 429, not before the
// waits; a run stopped while it waits leaves nothing pending.
func TestImportContactPendingMarkedWhenSent(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	convs := manyConversations(t, 4, 1)
	log := &eventLog{}
	cp := loggedCheckpoint{Checkpoint: importer.NewMemoryCheckpoint(), log: log}
	tr := &contactsTransport{next: srv.HTTPClient().Transport, log: log}
	im := newImporter(t, srv, []amojo.Option{quickRetry(), amojo.WithHTTPClient(&http.Client{Transport: tr})}, importer.WithCheckpoint(cp))
	srv.FailNext(amojotest.RouteContacts, 1, http.StatusTooManyRequests, "")
	if _, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	if got, want := log.String(), "pending send answer-429 pending send answer-200 created"; got != want {
		t.Errorf("events %q\nwant   %q", got, want)
	}
	checkImported(t, srv, convs)

	// Stopped during the back-off: the retry is not sent, the mark is
	// taken back, the conversations are interrupted, not failed. (Here
	// every conversation has a contact to create: one without would send
	// its messages before the contacts are done, and finish.)
	convs = manyConversations(t, 4, 1)
	for i, c := range convs {
		c.Contact = &importer.ContactSpec{Name: fmt.Sprintf("Client %d", i), Phones: []string{fmt.Sprintf("+7900%07d", i)}}
	}
	srv2 := newServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log2 := &eventLog{}
	mem := importer.NewMemoryCheckpoint()
	tr2 := &contactsTransport{next: srv2.HTTPClient().Transport, log: log2, cancel: cancel, cancelOn: func(s int) bool { return s == http.StatusTooManyRequests }}
	im2 := newImporter(t, srv2, []amojo.Option{quickRetry(), amojo.WithHTTPClient(&http.Client{Transport: tr2})}, importer.WithCheckpoint(loggedCheckpoint{Checkpoint: mem, log: log2}))
	srv2.FailNext(amojotest.RouteContacts, 1, http.StatusTooManyRequests, "")
	res, err := im2.ImportAll(ctx, importer.ConversationsOf(convs))
	if !errors.Is(err, context.Canceled) || res.ConversationsFailed != 0 || res.ConversationsInterrupted != 4 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	if got, want := log2.String(), "pending send answer-429 not-created"; got != want {
		t.Errorf("events %q\nwant   %q", got, want)
	}
	if st, _ := mem.Load(t.Context(), "conv-0"); st.ContactPending {
		t.Errorf("state %+v", st)
	}
	im2 = newImporter(t, srv2, nil, importer.WithCheckpoint(mem))
	if _, err := im2.ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	checkImported(t, srv2, convs)
	if n := len(srv2.RequestsTo(amojotest.RouteFindContacts)); n != 0 {
		t.Errorf("%d searches for contacts nothing was sent for", n)
	}
}

// TestImportLostAnswerNothingCreated: a 502 from a proxy before amoCRM did
// anything looks like a lost answer. The search right after finds nothing;
// as amoCRM may not show a new contact yet, that run leaves the
// conversations for the next, which finds nothing again and creates them.
func TestImportLostAnswerNothingCreated(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	path := filepath.Join(t.TempDir(), "cp.jsonl")
	convs := manyConversations(t, 4, 2)
	srv.FailNext(amojotest.RouteContacts, 1, http.StatusBadGateway, "")
	res, err := fileRun(t, srv, path, convs, nil)
	if !errors.Is(err, importer.ErrContactUnconfirmed) || res.ConversationsFailed != 2 {
		t.Fatalf("err = %v, result %+v", err, res.Progress)
	}
	if ids := unconfirmed(t, res, "shows no such contact yet; the next run looks for it again"); !slices.Equal(ids, []string{"conv-0", "conv-2"}) {
		t.Errorf("failed %v", ids)
	}
	if n := len(srv.Contacts()); n != 0 {
		t.Fatalf("%d contacts", n)
	}
	res, err = fileRun(t, srv, path, convs, nil)
	if err != nil || res.ConversationsDone != 4 {
		t.Fatalf("next run: err = %v, result %+v", err, res.Progress)
	}
	if n := len(srv.RequestsTo(amojotest.RouteFindContacts)); n != 4 {
		t.Errorf("%d searches, want 2 per run", n)
	}
	checkImported(t, srv, convs)
}
