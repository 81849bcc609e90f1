package importer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// claimingCheckpoint is a MemoryCheckpoint that is a Claimer, as a
// checkpoint shared with other importers is. It checks that the importer
// claims each conversation before its first request and records nothing
// for a conversation it does not hold.
type claimingCheckpoint struct {
	*importer.MemoryCheckpoint
	t   *testing.T
	srv *amojotest.Server

	mu        sync.Mutex
	held      map[string]bool
	elsewhere map[string]bool // held by another importer
	lost      map[string]bool // its claim is lost once its chat is recorded
	claimErr  error           // Claim fails with it
	claims    map[string]int  // since the last checkReleased
	releases  map[string]int
	ever      map[string]bool // claimed at least once
}

func newClaimingCheckpoint(t *testing.T, srv *amojotest.Server) *claimingCheckpoint {
	return &claimingCheckpoint{MemoryCheckpoint: importer.NewMemoryCheckpoint(), t: t, srv: srv,
		held: map[string]bool{}, elsewhere: map[string]bool{}, lost: map[string]bool{}, claims: map[string]int{}, releases: map[string]int{}, ever: map[string]bool{}}
}

var _ importer.Claimer = (*claimingCheckpoint)(nil)

func (c *claimingCheckpoint) Claim(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimErr != nil {
		return c.claimErr
	}
	if c.elsewhere[id] {
		return fmt.Errorf("test: %s: %w", id, importer.ErrClaimed)
	}
	if c.held[id] {
		c.t.Errorf("%s claimed twice", id)
	}
	if _, ok := c.srv.ChatByConversation(c.srv.ScopeID(), id); ok && !c.ever[id] {
		c.t.Errorf("%s: its chat was created before it was claimed", id)
	}
	c.held[id] = true
	c.ever[id] = true
	c.claims[id]++
	return nil
}

func (c *claimingCheckpoint) Release(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held[id] {
		c.t.Errorf("%s released, not held", id)
	}
	delete(c.held, id)
	c.releases[id]++
	return nil
}

func (c *claimingCheckpoint) Load(ctx context.Context, id string) (importer.CheckpointState, error) {
	c.mu.Lock()
	if !c.held[id] {
		c.t.Errorf("%s loaded while not claimed", id)
	}
	c.mu.Unlock()
	return c.MemoryCheckpoint.Load(ctx, id)
}

func (c *claimingCheckpoint) Record(ctx context.Context, id string, e importer.CheckpointEntry) error {
	c.mu.Lock()
	held, lost := c.held[id], c.lost[id]
	c.mu.Unlock()
	if !held {
		c.t.Errorf("%s: %+v recorded while not claimed", id, e)
	}
	if lost && e.ChatID == "" {
		return fmt.Errorf("test: %s: the claim was lost: %w", id, importer.ErrClaimed)
	}
	return c.MemoryCheckpoint.Record(ctx, id, e)
}

// checkReleased reports claims still held, and conversations claimed other
// than once or not released once.
func (c *claimingCheckpoint) checkReleased(t *testing.T, ids ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) > 0 {
		t.Errorf("claims still held after the run: %v", c.held)
	}
	for _, id := range ids {
		if c.claims[id] != 1 || c.releases[id] != 1 {
			t.Errorf("%s claimed %d times, released %d times; want once each", id, c.claims[id], c.releases[id])
		}
	}
	clear(c.claims)
	clear(c.releases)
}

func ids(convs []*importer.Conversation) []string {
	var out []string
	for _, c := range convs {
		out = append(out, c.ID)
	}
	return out
}

// TestImportAllLeavesConversationsClaimedElsewhere: conversations another
// importer holds are left to it, without a request: counted apart, not
// failed, and the run's error says so. Once the other importer is done
// with them, a run imports them.
func TestImportAllLeavesConversationsClaimedElsewhere(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := newClaimingCheckpoint(t, srv)
	cp.elsewhere["conv-1"], cp.elsewhere["conv-4"] = true, true
	var mu sync.Mutex
	var last importer.Progress
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithConcurrency(3), importer.WithChunkSize(2),
		importer.WithProgress(func(p importer.Progress) { mu.Lock(); last = p; mu.Unlock() }))
	convs := manyConversations(t, 6, 3)
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	if !errors.Is(err, importer.ErrClaimed) || err.Error() != "amojo: 2 of 6 conversations left to another importer: "+importer.ErrClaimed.Error() {
		t.Fatalf("err = %v", err)
	}
	want := importer.Progress{Conversations: 6, ConversationsDone: 4, ConversationsClaimedElsewhere: 2, Messages: 18, MessagesSent: 12}
	if res.Progress != want || last != want || len(res.Failures) != 0 {
		t.Errorf("progress %+v (last reported %+v), failures %v; want %+v", res.Progress, last, res.Failures, want)
	}
	for _, id := range []string{"conv-1", "conv-4"} {
		if _, ok := srv.ChatByConversation(srv.ScopeID(), id); ok {
			t.Errorf("%s, claimed elsewhere, has a chat", id)
		}
	}
	done := slices.DeleteFunc(ids(convs), func(id string) bool { return cp.elsewhere[id] })
	cp.checkReleased(t, done...)

	// The other importer gave them up unfinished: this one takes them.
	clear(cp.elsewhere)
	res, err = im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	if err != nil || res.ConversationsDone != 6 || res.ConversationsSkipped != 4 || res.ConversationsClaimedElsewhere != 0 {
		t.Fatalf("second run: %+v, %v", res.Progress, err)
	}
	cp.checkReleased(t, ids(convs)...)
	checkImported(t, srv, convs)
}

// TestImportConversationClaimedElsewhere: ImportConversation of a
// conversation another importer holds sends nothing and says why.
func TestImportConversationClaimedElsewhere(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := newClaimingCheckpoint(t, srv)
	seed := readSeed(t)
	cp.elsewhere[seed.ID] = true
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	_, err := im.ImportConversation(t.Context(), seed)
	var ce *importer.ConversationError
	if !errors.Is(err, importer.ErrClaimed) || !errors.As(err, &ce) || ce.ConversationID != seed.ID || ce.Step != "claim" {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests for a conversation claimed elsewhere", n)
	}
	cp.checkReleased(t)
}

// TestImportClaimsReleased: a claim is released when its conversation is
// done, when it fails, and when the run is interrupted.
func TestImportClaimsReleased(t *testing.T) {
	t.Parallel()
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		cp := newClaimingCheckpoint(t, srv)
		im := newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithConcurrency(1))
		convs := manyConversations(t, 3, 2)
		srv.FailNext(amojotest.RouteMessage, 1, http.StatusBadRequest, "")
		res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
		if err == nil || errors.Is(err, importer.ErrClaimed) || res.ConversationsFailed != 1 || res.ConversationsDone != 2 {
			t.Fatalf("%+v, %v", res.Progress, err)
		}
		cp.checkReleased(t, ids(convs)...)
	})
	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		cp := newClaimingCheckpoint(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		tr := &cancelTransport{next: srv.HTTPClient().Transport, k: 12, cancel: cancel}
		im := newImporter(t, srv, []amojo.Option{amojo.WithHTTPClient(&http.Client{Transport: tr})},
			importer.WithCheckpoint(cp), importer.WithConcurrency(2), importer.WithChunkSize(3))
		res, err := im.ImportAll(ctx, importer.ConversationsOf(manyConversations(t, 9, 3)))
		if !errors.Is(err, context.Canceled) || res.ConversationsInterrupted == 0 || res.ConversationsFailed != 0 {
			t.Fatalf("%+v, %v", res.Progress, err)
		}
		cp.checkReleased(t)
	})
}

// TestImportLostClaim: a Record that fails because the claim was lost
// leaves the conversation to the importer that took it over; the run goes
// on with the others.
func TestImportLostClaim(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := newClaimingCheckpoint(t, srv)
	cp.lost["conv-2"] = true
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp), importer.WithConcurrency(2), importer.WithChunkSize(2))
	convs := manyConversations(t, 5, 3)
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(convs))
	if !errors.Is(err, importer.ErrClaimed) {
		t.Fatalf("err = %v", err)
	}
	if res.ConversationsDone != 4 || res.ConversationsClaimedElsewhere != 1 || res.ConversationsFailed != 0 || res.ConversationsInterrupted != 0 {
		t.Errorf("progress %+v", res.Progress)
	}
	cp.checkReleased(t, ids(convs)...)
}

// TestImportClaimFailureStopsTheRun: a Claim that fails for another reason
// (the database is down) stops the run, as a failed checkpoint does.
func TestImportClaimFailureStopsTheRun(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := newClaimingCheckpoint(t, srv)
	cp.claimErr = errors.New("test: connection refused")
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	res, err := im.ImportAll(t.Context(), importer.ConversationsOf(manyConversations(t, 4, 2)))
	var ce *importer.ConversationError
	if !errors.As(err, &ce) || ce.Step != "checkpoint" || !errors.Is(err, cp.claimErr) {
		t.Fatalf("err = %v", err)
	}
	if res.ConversationsDone != 0 || res.ConversationsClaimedElsewhere != 0 {
		t.Errorf("progress %+v", res.Progress)
	}
	if n := len(srv.RequestsTo(amojotest.RouteCreateChat)); n != 0 {
		t.Errorf("%d chats created", n)
	}
}
