package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/amojo-go/amojo"
)

// importJob is one conversation of a run.
type importJob struct {
	conv  *Conversation
	index int
	state CheckpointState
	res   Result
	err   *ConversationError
	// claimed: the job holds its conversation id in Importer.active (and,
	// with a Claimer, its claim).
	claimed bool
	// readFirst: amoCRM may hold messages of it that the checkpoint does
	// not list, so its history is read before sending: the conversation was
	// finished before and gained messages (a finished conversation keeps
	// only a digest of its msgids), or the importer has no checkpoint of
	// its own (WithCheckpoint) and this one is new to it, so it cannot tell
	// a new conversation from one an earlier run imported.
	readFirst bool
	// lostCause is why the answer to its contact's creation never arrived.
	lostCause error
}

// importRun is one call of ImportConversation or ImportAll.
type importRun struct {
	im     *Importer
	ctx    context.Context
	cancel context.CancelCauseFunc
	// sem holds a slot for each chats API request in flight (chat
	// creations, messages, history reads): at most WithConcurrency.
	sem chan struct{}

	mu       sync.Mutex
	p        Progress
	failures []*ConversationError
	fatal    error
	first    *ConversationError
	claimed  map[string]bool // conversation ids this run holds; guarded by im.activeMu
	// taken holds the contacts this run adopted for a conversation after a
	// search (prepare runs one chunk at a time, so it needs no lock).
	taken map[int64]bool

	// connecting is closed when the connect connectAhead started is over,
	// with its outcome in scopeID and scopeErr.
	connecting chan struct{}
	scopeID    string
	scopeErr   error
}

func (im *Importer) newRun(ctx context.Context) *importRun {
	ctx, cancel := context.WithCancelCause(ctx)
	return &importRun{im: im, ctx: ctx, cancel: cancel, sem: make(chan struct{}, im.cfg.concurrency), claimed: make(map[string]bool), taken: make(map[int64]bool)}
}

// stop ends the run and frees the conversations it still holds.
func (r *importRun) stop() {
	r.cancel(nil)
	if r.connecting != nil {
		<-r.connecting
	}
	r.im.activeMu.Lock()
	ids := slices.Collect(maps.Keys(r.claimed))
	r.im.activeMu.Unlock()
	for _, id := range ids {
		r.releaseClaim(id)
	}
	r.im.activeMu.Lock()
	defer r.im.activeMu.Unlock()
	for _, id := range ids {
		delete(r.im.active, id)
	}
	clear(r.claimed)
}

// call makes one chats API request (fn) in one of the run's slots,
// waiting for a free one first. A conversation holds a slot only while its
// request is in flight, so the next chunk's chat creations wait for a
// request to end, not for a conversation.
func (r *importRun) call(fn func() error) error {
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	defer func() { <-r.sem }()
	return fn()
}

// claim marks j's conversation as being imported and, when the checkpoint
// is a Claimer, claims it there; it returns why the conversation cannot be
// imported now: another import of it is under way in this Importer, or
// (ErrClaimed) in another importer. It is the one place a conversation is
// claimed: prepare calls it when the conversation starts, before its
// checkpoint is loaded and before its first request; release (from finish
// or fail, or stop for those a stopped run never got to) frees it.
func (r *importRun) claim(j *importJob) *ConversationError {
	id := j.conv.ID
	r.im.activeMu.Lock()
	if r.im.active[id] {
		r.im.activeMu.Unlock()
		return &ConversationError{ConversationID: id, Step: "validate",
			Err: errors.New("amojo: this conversation is being imported already (is its conversation_id repeated in the input?)")}
	}
	r.im.active[id] = true
	r.claimed[id] = true
	r.im.activeMu.Unlock()
	if cl, ok := r.im.cfg.checkpoint.(Claimer); ok {
		if err := cl.Claim(r.ctx, id); err != nil {
			r.im.activeMu.Lock()
			delete(r.im.active, id)
			delete(r.claimed, id)
			r.im.activeMu.Unlock()
			step := "checkpoint"
			if errors.Is(err, ErrClaimed) {
				step = "claim"
			}
			return &ConversationError{ConversationID: id, Step: step, Err: err}
		}
	}
	j.claimed = true
	return nil
}

// release frees j's conversation once its import is over.
func (r *importRun) release(j *importJob) {
	if !j.claimed {
		return
	}
	j.claimed = false
	r.releaseClaim(j.conv.ID)
	r.im.activeMu.Lock()
	defer r.im.activeMu.Unlock()
	delete(r.im.active, j.conv.ID)
	delete(r.claimed, j.conv.ID)
}

// releaseClaim releases the conversation's claim when the checkpoint is a
// Claimer. A claim left behind ends by itself, so a failure is only logged.
func (r *importRun) releaseClaim(id string) {
	cl, ok := r.im.cfg.checkpoint.(Claimer)
	if !ok {
		return
	}
	if err := cl.Release(context.WithoutCancel(r.ctx), id); err != nil {
		r.im.cfg.logger.LogAttrs(r.ctx, slog.LevelWarn, "amojo import: releasing a claim failed",
			slog.String("conversation", id), slog.String("error", err.Error()))
	}
}

// add registers a conversation read from the input (or the error reading
// it): it counts it in the progress and checks it (see check).
func (r *importRun) add(c *Conversation, readErr error, index int) *importJob {
	r.counted(c)
	return r.check(c, readErr, index)
}

// counted adds c (nil: a conversation that could not be read) to the
// conversations and messages read.
func (r *importRun) counted(c *Conversation) {
	r.mu.Lock()
	r.p.Conversations++
	if c != nil {
		r.p.Messages += len(c.Messages)
	}
	r.mu.Unlock()
}

// check returns the job of a conversation read from the input, failed when
// reading or validating it failed. Its claim comes later, when its import
// starts (prepare).
func (r *importRun) check(c *Conversation, readErr error, index int) *importJob {
	j := &importJob{conv: c, index: index}
	if c != nil {
		j.res.ConversationID = c.ID
	}
	switch {
	case readErr != nil:
		var ce *ConversationError
		if !errors.As(readErr, &ce) {
			ce = &ConversationError{Step: "read", Err: readErr}
		}
		ce.Index = index
		r.fail(j, ce)
	case c == nil:
		r.fail(j, &ConversationError{Index: index, Step: "validate", Err: invalid("Conversation", "nil")})
	default:
		if err := r.validate(c); err != nil {
			var ce *ConversationError
			errors.As(err, &ce)
			ce.Index = index
			r.fail(j, ce)
		}
	}
	return j
}

// validate checks c and what the importer needs to send it.
func (r *importRun) validate(c *Conversation) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for i := range c.Messages {
		m := &c.Messages[i]
		if m.From == FromBot && r.im.cfg.botRefID == "" && (m.Sender == nil || m.Sender.RefID == "") {
			return &ConversationError{ConversationID: c.ID, MsgID: m.MsgID, Index: -1, Step: "validate",
				Err: invalid(fmt.Sprintf("Messages[%d].Sender.RefID", i), "a bot message needs the bot id (WithBotRefID)")}
		}
	}
	if c.Contact != nil && r.im.crm == nil {
		return &ConversationError{ConversationID: c.ID, Index: -1, Step: "validate", Err: invalid("Contact", "the importer has no CRMClient")}
	}
	return nil
}

// fail records j's failure; an error that every other conversation would
// meet too stops the run.
func (r *importRun) fail(j *importJob, ce *ConversationError) {
	if j.err != nil {
		return
	}
	if ce.ConversationID == "" && j.conv != nil {
		ce.ConversationID = j.conv.ID
	}
	ce.Index = j.index
	j.err = ce
	r.release(j)
	if errors.Is(ce.Err, ErrClaimed) {
		// Another importer holds it: left to that one.
		r.mu.Lock()
		r.p.ConversationsClaimedElsewhere++
		r.report()
		r.mu.Unlock()
		r.im.cfg.logger.LogAttrs(r.ctx, slog.LevelInfo, "amojo import left to another importer",
			slog.String("conversation", ce.ConversationID), slog.String("step", ce.Step))
		return
	}
	if r.ctx.Err() != nil && (errors.Is(ce.Err, context.Canceled) || errors.Is(ce.Err, context.DeadlineExceeded)) {
		// Stopped, not failed: left for the next run.
		r.mu.Lock()
		r.p.ConversationsInterrupted++
		r.report()
		r.mu.Unlock()
		r.im.cfg.logger.LogAttrs(r.ctx, slog.LevelInfo, "amojo import interrupted",
			slog.String("conversation", ce.ConversationID), slog.String("step", ce.Step))
		return
	}
	fatal := isFatal(ce)
	r.mu.Lock()
	r.p.ConversationsFailed++
	r.p.LastError = ce
	if r.first == nil {
		r.first = ce
	}
	if len(r.failures) < maxBatchFailures {
		r.failures = append(r.failures, ce)
	}
	if fatal && r.fatal == nil && r.ctx.Err() == nil {
		r.fatal = ce
		r.cancel(ce)
	}
	r.report()
	r.mu.Unlock()
	r.im.cfg.logger.LogAttrs(r.ctx, slog.LevelInfo, "amojo import failed",
		slog.String("conversation", ce.ConversationID), slog.String("msgid", ce.MsgID), slog.String("step", ce.Step), slog.String("error", ce.Error()))
}

// isFatal reports errors that no other conversation can escape: bad
// credentials, a failed connect or checkpoint, a cancelled context.
func isFatal(ce *ConversationError) bool {
	switch ce.Step {
	case "connect", "checkpoint":
		return true
	case "read", "validate":
		return false
	}
	if errors.Is(ce.Err, context.Canceled) || errors.Is(ce.Err, context.DeadlineExceeded) {
		return true
	}
	var ae *amojo.APIError
	if errors.As(ce.Err, &ae) {
		return ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusPaymentRequired
	}
	return false
}

// report calls the progress callback; r.mu must be held.
func (r *importRun) report() {
	if r.im.cfg.progress != nil {
		r.im.cfg.progress(r.p)
	}
}

func (r *importRun) count(sent, skipped int) {
	r.mu.Lock()
	r.p.MessagesSent += sent
	r.p.MessagesSkipped += skipped
	r.report()
	r.mu.Unlock()
}

func (r *importRun) finish(j *importJob) {
	r.release(j)
	r.mu.Lock()
	r.p.ConversationsDone++
	if j.res.AlreadyDone {
		r.p.ConversationsSkipped++
		r.p.MessagesSkipped += len(j.conv.Messages)
	}
	r.report()
	r.mu.Unlock()
	r.im.cfg.logger.LogAttrs(r.ctx, slog.LevelInfo, "amojo conversation imported",
		slog.String("conversation", j.res.ConversationID), slog.String("chat", j.res.ChatID),
		slog.Int64("contact", j.res.ContactID), slog.Int("sent", j.res.Sent), slog.Int("skipped", j.res.Skipped),
		slog.Bool("already_done", j.res.AlreadyDone))
}

// result builds ImportAll's answer.
func (r *importRun) result() (*BatchResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		// Conversations read but never started were interrupted too.
		r.p.ConversationsInterrupted = r.p.Conversations - r.p.ConversationsDone - r.p.ConversationsFailed - r.p.ConversationsClaimedElsewhere
	}
	res := &BatchResult{Progress: r.p, Failures: r.failures}
	switch {
	case r.fatal != nil:
		return res, r.fatal
	case r.ctx.Err() != nil:
		return res, fmt.Errorf("amojo: import stopped: %w", context.Cause(r.ctx))
	case r.first != nil:
		return res, fmt.Errorf("amojo: %d of %d conversations failed; first: %w", r.p.ConversationsFailed, r.p.Conversations, r.first)
	case r.p.ConversationsClaimedElsewhere > 0:
		return res, fmt.Errorf("amojo: %d of %d conversations left to another importer: %w", r.p.ConversationsClaimedElsewhere, r.p.Conversations, ErrClaimed)
	}
	return res, nil
}

// ctxErr returns the reason the run stopped, preferring the fatal error that
// stopped it over the bare cancellation.
func (r *importRun) ctxErr(err error) error {
	if cause := context.Cause(r.ctx); cause != nil && r.ctx.Err() != nil {
		var ce *ConversationError
		if errors.As(cause, &ce) {
			return fmt.Errorf("amojo: stopped after an earlier failure: %w", r.ctx.Err())
		}
	}
	return err
}

func (r *importRun) failStep(j *importJob, step, msgID string, err error) {
	r.fail(j, &ConversationError{ConversationID: j.conv.ID, MsgID: msgID, Step: step, Err: r.ctxErr(err)})
}

func (r *importRun) record(j *importJob, e CheckpointEntry) bool {
	// Record what amoCRM confirmed even when the run is being cancelled.
	if err := r.im.cfg.checkpoint.Record(context.WithoutCancel(r.ctx), j.conv.ID, e); err != nil {
		r.failStep(j, "checkpoint", e.MsgID, err)
		return false
	}
	j.state.Apply(e)
	return true
}

// connectAhead connects the channel (see scope) in the background, once
// the run has a conversation to import, while the conversations of the
// first chunk are read and decoded: the chunk then finds it done. It is
// called by the goroutine that prepares, like runScope.
func (r *importRun) connectAhead() {
	if r.connecting != nil {
		return
	}
	r.connecting = make(chan struct{})
	go func() {
		defer close(r.connecting)
		r.scopeID, r.scopeErr = r.scope()
	}()
}

// runScope returns the scope id for prepare: the outcome of the connect
// connectAhead started, or else scope's.
func (r *importRun) runScope() (string, error) {
	if r.connecting == nil {
		return r.scope()
	}
	<-r.connecting
	return r.scopeID, r.scopeErr
}

// scope returns the scope id, connecting the channel on first use.
func (r *importRun) scope() (string, error) {
	im := r.im
	im.scopeMu.Lock()
	defer im.scopeMu.Unlock()
	if im.scopeID != "" {
		return im.scopeID, nil
	}
	accountID := im.cfg.accountID
	if accountID == "" {
		acc, err := im.crm.Account(r.ctx)
		if err != nil {
			return "", err
		}
		accountID = acc.AmojoID
	}
	conn, err := im.chats.Connect(r.ctx, amojo.ConnectRequest{AccountID: accountID, Title: im.cfg.title})
	if err != nil {
		return "", err
	}
	im.cfg.logger.LogAttrs(r.ctx, slog.LevelDebug, "amojo import connected", slog.String("scope", conn.ScopeID))
	im.scopeID = conn.ScopeID
	return conn.ScopeID, nil
}
