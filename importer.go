package amojo

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultImportTitle is the channel title the importer connects with unless
// WithChannelTitle or WithScopeID says otherwise.
const DefaultImportTitle = "ChatIntegration"

// DefaultImportConcurrency is how many conversations an Importer imports at
// once unless WithConcurrency says otherwise.
const DefaultImportConcurrency = 8

// DefaultImportChunk is how many conversations ImportAll prepares together:
// their contacts are looked up, created and linked with one REST request each.
const DefaultImportChunk = 50

// DefaultVerifyWait is how long the importer waits for amojo's asynchronous
// processing before a message missing from the chat history counts as lost.
const DefaultVerifyWait = 10 * time.Second

// maxBatchFailures bounds BatchResult.Failures.
const maxBatchFailures = 1000

// Importer imports conversations that already happened (see Conversation)
// into amoCRM without creating incoming leads, following amoCRM's import
// walk-through: connect the channel (once), create the chat, create or reuse
// the contact, link the chat to it, send every message in time order with
// silent set, and read the history back to check that every message arrived.
//
// It is idempotent: a chat, contact or message that exists is reused, never
// created twice (amojo refuses a second message with the same msgid, and such
// a refusal counts as done). With a Checkpoint it is also resumable: killing
// the process at any moment and starting again loses no message and
// duplicates none. The one step amoCRM cannot deduplicate is a contact's
// creation: a contact request already sent is seen through when ctx is
// cancelled so its id is recorded, which leaves only a kill -9 between
// amoCRM's answer and the checkpoint write (or an answer lost on the network)
// able to create a contact twice. An Importer is safe for concurrent use.
type Importer struct {
	chats *Client
	crm   *CRMClient
	cfg   importConfig

	scopeMu sync.Mutex
	scopeID string

	// active holds the ids of the conversations being imported, so the
	// same conversation is never imported twice at once.
	activeMu sync.Mutex
	active   map[string]bool
}

type importConfig struct {
	accountID    string
	scopeID      string
	title        string
	botRefID     string
	checkpoint   Checkpoint
	concurrency  int
	chunk        int
	notifyNewest bool
	verify       bool
	verifyWait   time.Duration
	progress     func(Progress)
	logger       *slog.Logger
}

// ImportOption configures an Importer.
type ImportOption func(*importConfig) error

// WithAccountID sets the account's amojo_id, so the importer does not ask
// the REST API for it (CRMClient.Account).
func WithAccountID(amojoID string) ImportOption {
	return func(c *importConfig) error {
		if err := checkID("AccountID", amojoID); err != nil {
			return err
		}
		c.accountID = amojoID
		return nil
	}
}

// WithScopeID uses an existing connection of the channel to the account
// instead of connecting (Client.Connect) first.
func WithScopeID(scopeID string) ImportOption {
	return func(c *importConfig) error {
		if err := checkID("ScopeID", scopeID); err != nil {
			return err
		}
		c.scopeID = scopeID
		return nil
	}
}

// WithChannelTitle sets the title the channel is connected with, its name in
// the account (default DefaultImportTitle).
func WithChannelTitle(title string) ImportOption {
	return func(c *importConfig) error {
		if isBlank(title) {
			return invalid("ChannelTitle", "empty")
		}
		c.title = title
		return nil
	}
}

// WithBotRefID sets the channel bot's id (issued with the channel), the
// sender of FromBot messages. Conversations with bot messages fail
// validation without it.
func WithBotRefID(id string) ImportOption {
	return func(c *importConfig) error {
		if err := checkID("BotRefID", id); err != nil {
			return err
		}
		c.botRefID = id
		return nil
	}
}

// WithCheckpoint records progress in cp, making imports resumable across
// processes (see NewFileCheckpoint). Without it an in-memory checkpoint is
// used: re-runs are still idempotent, through what amoCRM reports.
func WithCheckpoint(cp Checkpoint) ImportOption {
	return func(c *importConfig) error {
		if cp == nil {
			return invalid("Checkpoint", "nil")
		}
		c.checkpoint = cp
		return nil
	}
}

// WithConcurrency sets how many conversations are imported at once (default
// DefaultImportConcurrency). Messages of one conversation are always sent one
// after the other, in time order.
func WithConcurrency(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 1 {
			return invalid("Concurrency", "must be at least 1")
		}
		c.concurrency = n
		return nil
	}
}

// WithChunkSize sets how many conversations ImportAll prepares together
// (default DefaultImportChunk, at most 250): each chunk costs one REST
// request to look up existing links, one to create contacts and one to link
// chats, which keeps the REST API's 7 requests per second from limiting the
// import. Memory grows with the chunk size, not with the input.
func WithChunkSize(n int) ImportOption {
	return func(c *importConfig) error {
		if n < 1 || n > restBatchSize {
			return invalid("ChunkSize", "must be within [1, 250]")
		}
		c.chunk = n
		return nil
	}
}

// WithNotifyNewest sends the newest message of each conversation with
// silent false, so amoCRM creates one incoming lead (unless the chat is
// linked to a contact that has one) and notifies the users once. By default
// every message is silent.
func WithNotifyNewest(on bool) ImportOption {
	return func(c *importConfig) error {
		c.notifyNewest = on
		return nil
	}
}

// WithVerify turns the final history check on (the default) or off. With it
// a conversation is done only when the chat history holds every msgid.
func WithVerify(on bool) ImportOption {
	return func(c *importConfig) error {
		c.verify = on
		return nil
	}
}

// WithVerifyWait sets how long the history check waits for messages amojo is
// still processing (default DefaultVerifyWait); 0 checks once.
func WithVerifyWait(d time.Duration) ImportOption {
	return func(c *importConfig) error {
		if d < 0 {
			return invalid("VerifyWait", "negative")
		}
		c.verifyWait = d
		return nil
	}
}

// WithProgress calls fn after every message and every conversation with the
// counts so far. Calls never overlap; fn should return quickly.
func WithProgress(fn func(Progress)) ImportOption {
	return func(c *importConfig) error {
		if fn == nil {
			return invalid("Progress", "nil")
		}
		c.progress = fn
		return nil
	}
}

// WithImportLogger logs each conversation's steps at debug level and its
// outcome at info level (ids and counts only, never message content or
// personal data).
func WithImportLogger(l *slog.Logger) ImportOption {
	return func(c *importConfig) error {
		if l == nil {
			return invalid("Logger", "nil")
		}
		c.logger = l
		return nil
	}
}

// NewImporter returns an importer that uses chats for the chats API and crm
// for the REST API. crm may be nil when WithAccountID or WithScopeID is given
// and no conversation has a Contact.
func NewImporter(chats *Client, crm *CRMClient, opts ...ImportOption) (*Importer, error) {
	if chats == nil {
		return nil, invalid("chats", "nil Client")
	}
	cfg := importConfig{
		title:       DefaultImportTitle,
		concurrency: DefaultImportConcurrency,
		chunk:       DefaultImportChunk,
		verify:      true,
		verifyWait:  DefaultVerifyWait,
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if crm == nil && cfg.accountID == "" && cfg.scopeID == "" {
		return nil, invalid("crm", "nil CRMClient needs WithAccountID or WithScopeID")
	}
	if cfg.scopeID != "" {
		ch, _, ok := SplitScopeID(cfg.scopeID)
		if !ok || ch != chats.ChannelID() {
			return nil, invalid("ScopeID", "not a scope of the client's channel")
		}
	}
	if cfg.checkpoint == nil {
		cfg.checkpoint = NewMemoryCheckpoint()
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return &Importer{chats: chats, crm: crm, cfg: cfg, scopeID: cfg.scopeID, active: make(map[string]bool)}, nil
}

// Progress is the state of an import, reported through WithProgress.
// Conversations counts the conversations read so far (a stream's total is
// not known in advance) and Messages their messages.
type Progress struct {
	Conversations        int
	ConversationsDone    int // imported, including those skipped
	ConversationsSkipped int // already done according to the checkpoint
	ConversationsFailed  int
	Messages             int
	MessagesSent         int
	MessagesSkipped      int // already in amoCRM: recorded in the checkpoint or found in the history
	LastError            error
}

// ImportResult is the outcome of one conversation. ChatID is amojo's chat
// id; ContactID the linked contact (0 without a Contact). Sent counts the
// messages sent now, Skipped those amoCRM already had. HistoryCount is the
// number of messages in the chat's history after the import (0 when not
// verified). AlreadyDone reports a conversation the checkpoint had finished,
// which cost no request.
type ImportResult struct {
	ConversationID string
	ScopeID        string
	ChatID         string
	ContactID      int64
	ContactCreated bool
	Linked         bool // linked to the contact now (false when it already was)
	Sent           int
	Skipped        int
	HistoryCount   int
	AlreadyDone    bool
}

// BatchResult sums up ImportAll. Failures lists the conversations that
// failed (the first 1000), each a *ConversationError naming it.
type BatchResult struct {
	Progress
	Failures []*ConversationError
}

// ImportConversation imports one conversation: it validates it (nothing is
// sent when it is invalid), then connects (once per Importer), creates the
// chat, creates or reuses the contact, links them, sends the messages amoCRM
// does not have yet in time order and verifies the history. Errors are
// *ConversationError values naming the conversation, the message and the
// step, wrapping the cause (*ValidationError, *APIError, …); the result then
// tells how far the import got. A conversation that this Importer is
// importing already (in another goroutine) fails at once.
func (im *Importer) ImportConversation(ctx context.Context, c *Conversation) (*ImportResult, error) {
	r := im.newRun(ctx)
	defer r.stop()
	j := r.add(c, nil, 0)
	r.prepare([]*importJob{j})
	if j.err == nil {
		r.importMessages(j)
	}
	if j.err != nil {
		return &j.res, j.err
	}
	return &j.res, nil
}

// ImportAll imports every conversation of convs (such as
// ReadConversations), with up to the configured number at once. It reads the
// input one chunk at a time, so memory does not grow with it. A conversation
// that fails (invalid, or refused by amoCRM) is counted and reported in the
// result, and the others go on; an error that would fail every conversation
// (401, 403, the connect, the checkpoint, ctx) stops the run and is returned
// as it is, a *ConversationError. Otherwise the error is nil when every
// conversation was imported, or sums up the failures, wrapping the first
// *ConversationError.
func (im *Importer) ImportAll(ctx context.Context, convs iter.Seq2[*Conversation, error]) (*BatchResult, error) {
	r := im.newRun(ctx)
	defer r.stop()
	// At most two chunks are in flight: one sending its messages while the
	// next is prepared. Memory is bounded by the chunk size.
	chunks := make(chan struct{}, 2)
	var all sync.WaitGroup
	flush := func(batch []*importJob) {
		if len(batch) == 0 {
			return
		}
		chunks <- struct{}{}
		r.prepare(batch)
		all.Add(1)
		go func() {
			defer all.Done()
			defer func() { <-chunks }()
			var wg sync.WaitGroup
			for _, j := range batch {
				if r.ctx.Err() != nil {
					break // stopped: leave the rest for the next run
				}
				if j.err != nil || j.res.AlreadyDone {
					continue
				}
				r.sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-r.sem }()
					r.importMessages(j)
				}()
			}
			wg.Wait()
		}()
	}
	var batch []*importJob
	index := 0
	for c, err := range convs {
		if r.ctx.Err() != nil {
			break
		}
		batch = append(batch, r.add(c, err, index))
		index++
		if len(batch) == im.cfg.chunk {
			flush(batch)
			batch = nil
		}
	}
	if r.ctx.Err() == nil {
		flush(batch)
	}
	all.Wait()
	return r.result()
}

// importJob is one conversation of a run.
type importJob struct {
	conv  *Conversation
	index int
	state CheckpointState
	res   ImportResult
	err   *ConversationError
	// claimed: the job holds its conversation id in Importer.active.
	claimed bool
}

// importRun is one call of ImportConversation or ImportAll.
type importRun struct {
	im     *Importer
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{}

	mu       sync.Mutex
	p        Progress
	failures []*ConversationError
	fatal    error
	first    *ConversationError
	claimed  map[string]bool // conversation ids this run holds; guarded by im.activeMu
}

func (im *Importer) newRun(ctx context.Context) *importRun {
	ctx, cancel := context.WithCancelCause(ctx)
	return &importRun{im: im, ctx: ctx, cancel: cancel, sem: make(chan struct{}, im.cfg.concurrency), claimed: make(map[string]bool)}
}

// stop ends the run and frees the conversations it still holds.
func (r *importRun) stop() {
	r.cancel(nil)
	r.im.activeMu.Lock()
	defer r.im.activeMu.Unlock()
	for id := range r.claimed {
		delete(r.im.active, id)
	}
	clear(r.claimed)
}

// claim marks j's conversation as being imported; it reports false when
// another import of the same conversation is under way.
func (r *importRun) claim(j *importJob) bool {
	r.im.activeMu.Lock()
	defer r.im.activeMu.Unlock()
	if r.im.active[j.conv.ID] {
		return false
	}
	r.im.active[j.conv.ID] = true
	r.claimed[j.conv.ID] = true
	j.claimed = true
	return true
}

// release frees j's conversation once its import is over.
func (r *importRun) release(j *importJob) {
	if !j.claimed {
		return
	}
	j.claimed = false
	r.im.activeMu.Lock()
	defer r.im.activeMu.Unlock()
	delete(r.im.active, j.conv.ID)
	delete(r.claimed, j.conv.ID)
}

// add registers a conversation read from the input (or the error reading it).
func (r *importRun) add(c *Conversation, readErr error, index int) *importJob {
	j := &importJob{conv: c, index: index}
	r.mu.Lock()
	r.p.Conversations++
	if c != nil {
		r.p.Messages += len(c.Messages)
		j.res.ConversationID = c.ID
	}
	r.mu.Unlock()
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
		} else if !r.claim(j) {
			r.fail(j, &ConversationError{ConversationID: c.ID, Step: "validate",
				Err: errors.New("amojo: this conversation is being imported already (is its conversation_id repeated in the input?)")})
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
	var ae *APIError
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
	res := &BatchResult{Progress: r.p, Failures: r.failures}
	switch {
	case r.fatal != nil:
		return res, r.fatal
	case r.ctx.Err() != nil:
		return res, fmt.Errorf("amojo: import stopped: %w", context.Cause(r.ctx))
	case r.first != nil:
		return res, fmt.Errorf("amojo: %d of %d conversations failed; first: %w", r.p.ConversationsFailed, r.p.Conversations, r.first)
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
	conn, err := im.chats.Connect(r.ctx, ConnectRequest{AccountID: accountID, Title: im.cfg.title})
	if err != nil {
		return "", err
	}
	im.cfg.logger.LogAttrs(r.ctx, slog.LevelDebug, "amojo import connected", slog.String("scope", conn.ScopeID))
	im.scopeID = conn.ScopeID
	return conn.ScopeID, nil
}

// live returns the jobs of batch that have not failed.
func live(batch []*importJob) []*importJob {
	return slices.DeleteFunc(slices.Clone(batch), func(j *importJob) bool { return j.err != nil || j.res.AlreadyDone })
}

// prepare runs the per-chunk steps: checkpoint, connect, chats, contacts and
// links. Failed or finished jobs are left out of later steps.
func (r *importRun) prepare(batch []*importJob) {
	jobs := live(batch)
	if len(jobs) == 0 {
		return
	}
	scopeID, err := r.scope()
	if err != nil {
		for _, j := range jobs {
			r.failStep(j, "connect", "", err)
		}
		return
	}
	for _, j := range jobs {
		st, err := r.im.cfg.checkpoint.Load(r.ctx, j.conv.ID)
		if err != nil {
			r.failStep(j, "checkpoint", "", err)
			continue
		}
		if st.ScopeID != "" && st.ScopeID != scopeID {
			r.failStep(j, "checkpoint", "", fmt.Errorf("amojo: the checkpoint has this conversation in scope %s, not %s", st.ScopeID, scopeID))
			continue
		}
		j.state = st
		j.res.ScopeID, j.res.ChatID, j.res.ContactID = scopeID, st.ChatID, st.ContactID
		if st.Done && st.Digest == digest(j.conv) {
			j.res.AlreadyDone = true
			j.res.Skipped = len(j.conv.Messages)
			r.finish(j)
		}
	}
	r.createChats(scopeID, live(batch))
	r.contacts(live(batch))
}

// createChats creates (or finds, as creation is idempotent) the chats the
// checkpoint does not know, several at once.
func (r *importRun) createChats(scopeID string, jobs []*importJob) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.im.cfg.concurrency)
	for _, j := range jobs {
		if j.state.ChatID != "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			chat, err := r.im.chats.CreateChat(r.ctx, scopeID, CreateChatRequest{ConversationID: j.conv.ID, Source: j.conv.Source, User: j.conv.Client})
			if err != nil {
				r.failStep(j, "create chat", "", err)
				return
			}
			if r.record(j, CheckpointEntry{ScopeID: scopeID, ChatID: chat.ID}) {
				j.res.ChatID = chat.ID
			}
		}()
	}
	wg.Wait()
}

// contacts finds, creates and links the contacts of jobs with one REST
// request per step for the whole chunk.
func (r *importRun) contacts(jobs []*importJob) {
	var lookup, create, link []*importJob
	for _, j := range jobs {
		spec := j.conv.Contact
		switch {
		case spec == nil:
		case spec.ID > 0:
			j.res.ContactID = spec.ID
			if !j.state.Linked || j.state.ContactID != spec.ID {
				link = append(link, j)
			}
		case j.state.ContactID != 0:
			j.res.ContactID = j.state.ContactID
			if !j.state.Linked {
				link = append(link, j)
			}
		default:
			lookup = append(lookup, j)
		}
	}
	if len(lookup) > 0 {
		ids := make([]string, len(lookup))
		for i, j := range lookup {
			ids[i] = j.state.ChatID
		}
		links, err := r.im.crm.ChatLinks(r.ctx, ChatLinkFilter{ChatIDs: ids})
		if err != nil {
			for _, j := range lookup {
				r.failStep(j, "find contact", "", err)
			}
		} else {
			byChat := make(map[string]int64, len(links))
			for _, l := range links {
				byChat[l.ChatID] = l.ContactID
			}
			for _, j := range lookup {
				if id := byChat[j.state.ChatID]; id > 0 {
					if r.record(j, CheckpointEntry{ContactID: id, Linked: true}) {
						j.res.ContactID = id
					}
				} else {
					create = append(create, j)
				}
			}
		}
	}
	if len(create) > 0 {
		nc := make([]NewContact, len(create))
		for i, j := range create {
			nc[i] = j.conv.Contact.newContact()
		}
		// Contacts are the one thing amoCRM cannot deduplicate: once asked
		// for, their creation is seen through even if the run is cancelled,
		// so their ids reach the checkpoint.
		ids, err := r.im.crm.CreateContacts(context.WithoutCancel(r.ctx), nc)
		for i, j := range create {
			if i >= len(ids) {
				r.failStep(j, "create contact", "", unbatch(err))
				continue
			}
			if r.record(j, CheckpointEntry{ContactID: ids[i]}) {
				j.res.ContactID, j.res.ContactCreated = ids[i], true
				link = append(link, j)
			}
		}
	}
	if len(link) > 0 {
		ls := make([]ChatLink, len(link))
		for i, j := range link {
			ls[i] = ChatLink{ChatID: j.state.ChatID, ContactID: j.res.ContactID}
		}
		done, err := r.im.crm.LinkChats(r.ctx, ls)
		for i, j := range link {
			if i >= len(done) {
				r.failStep(j, "link", "", unbatch(err))
				continue
			}
			if r.record(j, CheckpointEntry{ContactID: j.res.ContactID, Linked: true}) {
				j.res.Linked = true
			}
		}
	}
}

// newContact returns the REST contact to create for s.
func (s *ContactSpec) newContact() NewContact {
	nc := NewContact{Name: s.Name, FirstName: s.FirstName, LastName: s.LastName, ResponsibleUserID: s.ResponsibleUserID, Tags: s.Tags}
	for _, p := range s.Phones {
		nc.Phones = append(nc.Phones, ContactPhone{Value: p})
	}
	for _, e := range s.Emails {
		nc.Emails = append(nc.Emails, ContactEmail{Value: e})
	}
	return nc
}

// importMessages sends the messages of j that amoCRM does not have, in time
// order, then verifies the history and marks j done.
func (r *importRun) importMessages(j *importJob) {
	if j.err != nil || j.res.AlreadyDone {
		return
	}
	c, scopeID, chatID := j.conv, j.res.ScopeID, j.state.ChatID
	order := make([]int, len(c.Messages))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return c.Messages[a].Time.Compare(c.Messages[b].Time) })

	have := make(map[string]bool, len(c.Messages))
	for _, id := range j.state.Sent {
		have[id] = true
	}
	missing := 0
	for _, m := range c.Messages {
		if !have[m.MsgID] {
			missing++
		}
	}
	if missing > 0 {
		// A message sent just before a crash may be missing from the
		// checkpoint: ask amojo what the chat already holds.
		for hm, err := range r.im.chats.AllHistory(r.ctx, scopeID, chatID, HistoryOptions{}) {
			if err != nil {
				r.failStep(j, "history", "", err)
				return
			}
			if hm.Message.ClientID != "" {
				have[hm.Message.ClientID] = true
			}
		}
	}
	for k, i := range order {
		m := &c.Messages[i]
		if have[m.MsgID] {
			j.res.Skipped++
			r.count(0, 1)
			continue
		}
		msg := m.message(c, r.im.cfg.botRefID)
		msg.Source = c.Source
		msg.Silent = !(r.im.cfg.notifyNewest && k == len(order)-1)
		_, err := r.im.chats.SendMessage(r.ctx, scopeID, msg)
		sent := err == nil
		if err != nil {
			dup, herr := r.isDuplicate(scopeID, chatID, m.MsgID, err)
			if herr != nil {
				r.failStep(j, "send", m.MsgID, herr)
				return
			}
			if !dup {
				r.failStep(j, "send", m.MsgID, err)
				return
			}
		}
		if !r.record(j, CheckpointEntry{MsgID: m.MsgID}) {
			return
		}
		have[m.MsgID] = true
		if sent {
			j.res.Sent++
			r.count(1, 0)
		} else {
			j.res.Skipped++
			r.count(0, 1)
		}
	}
	if r.im.cfg.verify {
		n, err := r.verify(scopeID, chatID, c)
		if err != nil {
			var ce *ConversationError
			if errors.As(err, &ce) {
				ce.ConversationID = c.ID
				r.fail(j, ce)
			} else {
				r.failStep(j, "verify", "", err)
			}
			return
		}
		j.res.HistoryCount = n
	}
	if !r.record(j, CheckpointEntry{Done: true, Digest: digest(c)}) {
		return
	}
	r.finish(j)
}

// isDuplicate decides whether a refused message is one amojo already has
// (a duplicate msgid): the answer is a 400 and the chat's history holds the
// msgid. amoCRM does not document how it refuses a duplicate; the fake
// server answers 400 with error_code "duplicate_msgid". Checking the history
// rather than the wording also catches an msgid used in another chat, which
// is an error, not a message imported.
func (r *importRun) isDuplicate(scopeID, chatID, msgID string, sendErr error) (bool, error) {
	var ae *APIError
	if !errors.As(sendErr, &ae) || ae.StatusCode != http.StatusBadRequest {
		return false, nil
	}
	// Wait for amojo's processing only when the answer says "duplicate";
	// another 400 is most likely a real refusal.
	dup := looksDuplicate(ae)
	found := false
	_, err := r.waitHistory(scopeID, chatID, dup, func(all map[string]bool) bool {
		found = all[msgID]
		return found
	})
	if err != nil {
		return false, err
	}
	if !found && dup {
		return false, fmt.Errorf("amojo: msgid %q is already used in another chat of this scope: %w", msgID, sendErr)
	}
	return found, nil
}

// looksDuplicate reports an amojo answer that refuses a duplicate msgid.
func looksDuplicate(ae *APIError) bool {
	text := strings.ToLower(ae.Code + " " + ae.Message + " " + string(ae.Body))
	return strings.Contains(text, "duplicate") || strings.Contains(text, "already exist")
}

// waitHistory reads the chat's history until ok accepts the set of msgids it
// holds or (when wait is set) the verify wait is over, and returns the number
// of messages.
func (r *importRun) waitHistory(scopeID, chatID string, wait bool, ok func(map[string]bool) bool) (int, error) {
	deadline := time.Now()
	if wait {
		deadline = deadline.Add(r.im.cfg.verifyWait)
	}
	delay := 200 * time.Millisecond
	for {
		all := make(map[string]bool)
		n := 0
		for hm, err := range r.im.chats.AllHistory(r.ctx, scopeID, chatID, HistoryOptions{}) {
			if err != nil {
				return 0, err
			}
			n++
			if hm.Message.ClientID != "" {
				all[hm.Message.ClientID] = true
			}
		}
		if ok(all) || !time.Now().Add(delay).Before(deadline) {
			return n, nil
		}
		if !sleepCtx(r.ctx.Done(), delay) {
			return 0, r.ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// verify checks that the chat's history holds every message of c and
// returns the history's length.
func (r *importRun) verify(scopeID, chatID string, c *Conversation) (int, error) {
	var lost string
	n, err := r.waitHistory(scopeID, chatID, true, func(all map[string]bool) bool {
		lost = ""
		for _, m := range c.Messages {
			if !all[m.MsgID] {
				lost = m.MsgID
				return false
			}
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if lost != "" {
		return 0, &ConversationError{MsgID: lost, Step: "verify", Err: errors.New("amojo: message missing from the chat history")}
	}
	return n, nil
}

// digest fingerprints the msgids of c, so a finished conversation that
// gained messages is not taken for done.
func digest(c *Conversation) string {
	ids := make([]string, len(c.Messages))
	for i, m := range c.Messages {
		ids[i] = m.MsgID
	}
	slices.SortFunc(ids, cmp.Compare)
	h := fnv.New64a()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
