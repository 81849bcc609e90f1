package importer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
)

// DefaultChannelTitle is the channel title the importer connects with unless
// WithChannelTitle or WithScopeID says otherwise.
const DefaultChannelTitle = "ChatIntegration"

// DefaultConcurrency is how many conversations an Importer imports at
// once unless WithConcurrency says otherwise.
const DefaultConcurrency = 8

// DefaultChunkSize is how many conversations ImportAll prepares together:
// their contacts are looked up, created and linked with one REST request each.
const DefaultChunkSize = 50

// DefaultLookahead is how many conversations ImportAll reads ahead of
// those started unless WithLookahead says otherwise: it starts the longest
// of them first.
const DefaultLookahead = 200

// maxChunkSize is the most conversations a chunk may hold: amoCRM accepts
// at most 250 entities in one REST v4 request.
const maxChunkSize = 250

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
// creation. A contact request already sent is seen through when ctx is
// cancelled, so its id is recorded; and right before the request leaves
// (after the rate-limit wait and any back-off) the checkpoint records that
// the creation was asked for, and when. When the answer never arrives (lost
// on the network, a 5xx, a kill in between), the importer searches amoCRM
// (amojo.CRMClient.FindContacts, by the contact's phone, e-mail or name) for
// contacts created since then that fit the ContactSpec and are linked to no
// chat: exactly one is adopted and linked; none means nothing was created,
// and the contact is created (by the next run, when the answer was lost in
// this one, as amoCRM may not show it yet). Only an ambiguous or failed
// search fails the conversation, with ErrContactUnconfirmed naming the
// candidates; later runs search again, and the conversation can name its
// contact (ContactSpec.ID) or WithRecreateContacts allow a new one. An
// Importer is safe for concurrent use.
type Importer struct {
	chats *amojo.Client
	crm   *amojo.CRMClient
	cfg   importConfig

	scopeMu sync.Mutex
	scopeID string

	// active holds the ids of the conversations being imported, so the
	// same conversation is never imported twice at once.
	activeMu sync.Mutex
	active   map[string]bool

	// checkpointGiven: the checkpoint is the caller's (WithCheckpoint), a
	// record of earlier runs, not the importer's own empty one.
	checkpointGiven bool
}

type importConfig struct {
	accountID    string
	scopeID      string
	title        string
	botRefID     string
	checkpoint   Checkpoint
	concurrency  int
	chunk        int
	lookahead    int
	notifyNewest bool
	recreate     bool
	verify       bool
	verifyWait   time.Duration
	progress     func(Progress)
	logger       *slog.Logger
}

// Option configures an Importer.
type Option func(*importConfig) error

// WithAccountID sets the account's amojo_id, so the importer does not ask
// the REST API for it (amojo.CRMClient.Account).
func WithAccountID(amojoID string) Option {
	return func(c *importConfig) error {
		if err := amojo.ValidateID("AccountID", amojoID); err != nil {
			return err
		}
		c.accountID = amojoID
		return nil
	}
}

// WithScopeID uses an existing connection of the channel to the account
// instead of connecting (amojo.Client.Connect) first.
func WithScopeID(scopeID string) Option {
	return func(c *importConfig) error {
		if err := amojo.ValidateID("ScopeID", scopeID); err != nil {
			return err
		}
		c.scopeID = scopeID
		return nil
	}
}

// WithChannelTitle sets the title the channel is connected with, its name in
// the account (default DefaultChannelTitle).
func WithChannelTitle(title string) Option {
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
func WithBotRefID(id string) Option {
	return func(c *importConfig) error {
		if err := amojo.ValidateID("BotRefID", id); err != nil {
			return err
		}
		c.botRefID = id
		return nil
	}
}

// WithCheckpoint records progress in cp, making imports resumable across
// processes (see NewFileCheckpoint). Without it an in-memory checkpoint is
// used: re-runs are still idempotent, through what amoCRM reports. When cp
// is also a Claimer (such as pgstore's checkpoint), each conversation is
// claimed while it is imported, so importers sharing cp never import one
// conversation at the same time.
//
// The checkpoint is taken as the record of this import: the messages of a
// conversation it does not know go without reading the chat's history first
// (a message amoCRM has already, imported by some other run, is refused
// when sent again, and one history read then settles it and the rest).
// Without a checkpoint the importer knows nothing of earlier runs, and reads
// each chat's history before sending: one request per 50 messages more for
// a new conversation, none sent twice for one imported before.
func WithCheckpoint(cp Checkpoint) Option {
	return func(c *importConfig) error {
		if cp == nil {
			return invalid("Checkpoint", "nil")
		}
		c.checkpoint = cp
		return nil
	}
}

// WithConcurrency sets how many conversations send their messages at once,
// which is also the most chats API requests in flight at once, chat
// creations and history reads included (default DefaultConcurrency).
// Messages of one conversation are always sent one after the other, in time
// order.
func WithConcurrency(n int) Option {
	return func(c *importConfig) error {
		if n < 1 {
			return invalid("Concurrency", "must be at least 1")
		}
		c.concurrency = n
		return nil
	}
}

// WithChunkSize sets how many conversations ImportAll and ImportFile
// prepare together (default DefaultChunkSize, at most 250): each chunk
// costs one REST request to look up existing links, one to create contacts
// and one to link chats, which keeps the REST API's 7 requests per second
// from limiting the import. The first chunk holds one conversation per
// worker (WithConcurrency), when that is fewer, so that the first messages
// leave soon; a last chunk smaller than half a chunk joins the one before.
// A chunk is prepared while the conversations before it send their
// messages. Memory grows with the chunk size (about two chunks are held),
// not with the input.
func WithChunkSize(n int) Option {
	return func(c *importConfig) error {
		if n < 1 || n > maxChunkSize {
			return invalid("ChunkSize", "must be within [1, 250]")
		}
		c.chunk = n
		return nil
	}
}

// WithLookahead sets how many conversations ImportAll reads ahead of those
// it has started (default DefaultLookahead): it starts the one with the most
// messages among them first, so the longest conversations, whose messages
// go one after the other, do not start last and run alone at the end. 1
// starts them in input order. Those conversations are held in memory:
// memory grows with the lookahead, not with the input. ImportFile, which
// can read a conversation again from the file, holds none of them and looks
// over the whole file.
func WithLookahead(n int) Option {
	return func(c *importConfig) error {
		if n < 1 {
			return invalid("Lookahead", "must be at least 1")
		}
		c.lookahead = n
		return nil
	}
}

// WithNotifyNewest sends the newest message of each conversation with
// silent false, so amoCRM creates one incoming lead (unless the chat is
// linked to a contact that has one) and notifies the users once. By default
// every message is silent.
func WithNotifyNewest(on bool) Option {
	return func(c *importConfig) error {
		c.notifyNewest = on
		return nil
	}
}

// WithRecreateContacts lets the importer create the contact of a
// conversation whose earlier contact creation was never confirmed and that a
// search of amoCRM cannot settle (see ErrContactUnconfirmed), accepting that
// amoCRM may then hold the contact twice. Prefer finding the contact in
// amoCRM and naming it with ContactSpec.ID.
func WithRecreateContacts(on bool) Option {
	return func(c *importConfig) error {
		c.recreate = on
		return nil
	}
}

// ErrContactUnconfirmed reports a conversation whose contact amoCRM may have
// created without the importer learning its id (the answer to the creation
// was lost: a network error, a 5xx, a kill before the checkpoint write), and
// that a search of amoCRM could not settle: several contacts created since
// fit it (the error names their ids), the search failed, or the checkpoint
// does not say when the request left. The importer does not create that
// contact again by itself, as it could then exist twice: set "contact":
// {"id": N} in the conversation, or allow a new one with
// WithRecreateContacts. A *ConversationError wraps it, naming the
// conversation.
var ErrContactUnconfirmed = errors.New("amojo: the contact's creation was never confirmed")

// WithVerify turns the final history check on (the default) or off. With it
// a conversation is done only when the chat history holds every msgid: amojo
// answers a message before it processes it, and this check is what finds a
// message accepted and then lost. It costs one history read per 50 messages
// of a conversation (none when the last read, made to settle a duplicate,
// already showed them all); off, a conversation is done once amojo accepted
// every message.
func WithVerify(on bool) Option {
	return func(c *importConfig) error {
		c.verify = on
		return nil
	}
}

// WithVerifyWait sets how long the history check waits for messages amojo is
// still processing (default DefaultVerifyWait); 0 checks once.
func WithVerifyWait(d time.Duration) Option {
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
func WithProgress(fn func(Progress)) Option {
	return func(c *importConfig) error {
		if fn == nil {
			return invalid("Progress", "nil")
		}
		c.progress = fn
		return nil
	}
}

// WithLogger logs each conversation's steps at debug level and its
// outcome at info level (ids and counts only, never message content or
// personal data).
func WithLogger(l *slog.Logger) Option {
	return func(c *importConfig) error {
		if l == nil {
			return invalid("Logger", "nil")
		}
		c.logger = l
		return nil
	}
}

// New returns an importer that uses chats for the chats API and crm
// for the REST API. crm may be nil when WithAccountID or WithScopeID is given
// and no conversation has a Contact.
func New(chats *amojo.Client, crm *amojo.CRMClient, opts ...Option) (*Importer, error) {
	if chats == nil {
		return nil, invalid("chats", "nil Client")
	}
	cfg := importConfig{
		title:       DefaultChannelTitle,
		concurrency: DefaultConcurrency,
		chunk:       DefaultChunkSize,
		lookahead:   DefaultLookahead,
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
		ch, _, ok := amojo.SplitScopeID(cfg.scopeID)
		if !ok || ch != chats.ChannelID() {
			return nil, invalid("ScopeID", "not a scope of the client's channel")
		}
	}
	given := cfg.checkpoint != nil
	if !given {
		cfg.checkpoint = NewMemoryCheckpoint()
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return &Importer{chats: chats, crm: crm, cfg: cfg, scopeID: cfg.scopeID, active: make(map[string]bool), checkpointGiven: given}, nil
}

// Progress is the state of an import, reported through WithProgress.
// Conversations counts the conversations read so far (a stream's total is
// not known in advance; ImportFile reports the whole file's first) and
// Messages their messages.
type Progress struct {
	Conversations        int
	ConversationsDone    int // imported, including those skipped
	ConversationsSkipped int // already done according to the checkpoint
	ConversationsFailed  int
	// ConversationsInterrupted counts the conversations not finished
	// because the run stopped (ctx cancelled, or an error that stops the
	// run): they did not fail, and the next run takes them up where they
	// stopped. Conversations read but not started count here too.
	ConversationsInterrupted int
	// ConversationsClaimedElsewhere counts the conversations left to
	// another importer that holds them (see Claimer): not imported by this
	// run, and not failed.
	ConversationsClaimedElsewhere int
	Messages                      int
	MessagesSent                  int
	MessagesSkipped               int // already in amoCRM: recorded in the checkpoint or found in the history
	LastError                     error
}

// Result is the outcome of one conversation. ChatID is amojo's chat
// id; ContactID the linked contact (0 without a Contact). Sent counts the
// messages sent now, Skipped those amoCRM already had. HistoryCount is the
// number of messages in the chat's history after the import (0 when not
// verified). AlreadyDone reports a conversation the checkpoint had finished,
// which cost no request.
type Result struct {
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
// failed (the first 1000), each a *ConversationError naming it; those
// interrupted by the run's stop are not among them.
type BatchResult struct {
	Progress
	Failures []*ConversationError
}

// ImportConversation imports one conversation: it validates it (nothing is
// sent when it is invalid), then connects (once per Importer), creates the
// chat, creates or reuses the contact, links them, sends the messages amoCRM
// does not have yet in time order and verifies the history. Errors are
// *ConversationError values naming the conversation, the message and the
// step, wrapping the cause (*amojo.ValidationError, *amojo.APIError, …); the result then
// tells how far the import got. A conversation that this Importer is
// importing already (in another goroutine) fails at once; one that another
// importer holds (see Claimer) is not imported, with an error wrapping
// ErrClaimed.
func (im *Importer) ImportConversation(ctx context.Context, c *Conversation) (*Result, error) {
	r := im.newRun(ctx)
	defer r.stop()
	j := r.add(c, nil, 0)
	r.prepare([]*importJob{j}, nil)
	if j.err == nil {
		r.importMessages(j)
	}
	if j.err != nil {
		return &j.res, j.err
	}
	return &j.res, nil
}

// ImportAll imports every conversation of convs (such as
// ReadConversations), with up to the configured number of chats API
// requests in flight at once. It reads the input as it goes, so memory does
// not grow with it: it holds the conversations it reads ahead (see
// WithLookahead), starting the longest of them first, and those being
// prepared and imported. Conversations are prepared in chunks, which batch
// the REST steps (see WithChunkSize), while the conversations started
// before send their messages. A conversation that fails (invalid, or
// refused by amoCRM) is counted and reported in the result, and the others
// go on; an error that would fail every conversation (401, 403, the
// connect, the checkpoint, ctx) stops the run and is returned as it is, a
// *ConversationError. Otherwise the error is nil when every conversation
// was imported, or sums up the failures, wrapping the first
// *ConversationError; when nothing failed but conversations were left to
// another importer that holds them (see Claimer), it wraps ErrClaimed. For
// a file, ImportFile looks over the whole of it.
func (im *Importer) ImportAll(ctx context.Context, convs iter.Seq2[*Conversation, error]) (*BatchResult, error) {
	r := im.newRun(ctx)
	defer r.stop()
	p := r.startPipeline()
	ahead := newLookahead(im.cfg.lookahead)
	index := 0
	for c, err := range convs {
		if r.ctx.Err() != nil {
			break
		}
		j := r.add(c, err, index)
		index++
		if j.err == nil {
			r.connectAhead()
			if next := ahead.push(j); next != nil {
				p.add(next, -1)
			}
		}
	}
	for j := ahead.pop(); j != nil && r.ctx.Err() == nil; j = ahead.pop() {
		p.add(j, ahead.jobs.Len())
	}
	p.close()
	return r.result()
}
