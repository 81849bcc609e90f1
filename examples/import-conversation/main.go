// Command import-conversation imports a conversation that already happened
// between a client and a manager into amoCRM, without creating an incoming
// lead: connect the channel, create the chat, create a contact, link the
// chat to it, import the messages silently and read the history back.
//
// Run without configuration, it starts a fake amoCRM in-process (package
// amojotest) and imports the conversation of amoCRM's own walk-through:
//
//	go run ./examples/import-conversation
//
// With these variables it does the same against a real account (or any
// server that speaks the API; http URLs work too):
//
//	AMOJO_CHANNEL_ID      the chat channel's id
//	AMOJO_CHANNEL_SECRET  the channel's secret
//	AMOCRM_BASE_URL       the account's REST address, https://SUBDOMAIN.amocrm.ru
//	AMOCRM_TOKEN          a long-lived token or an OAuth access token, or instead
//	AMOCRM_TOKEN_FILE     an OAuth token file (examples/oauth-login writes one),
//	                      refreshed as the import runs, with AMOCRM_CLIENT_ID,
//	                      AMOCRM_CLIENT_SECRET and AMOCRM_REDIRECT_URI; it names
//	                      the account, so AMOCRM_BASE_URL may be left out
//	AMOJO_BASE_URL        optional; the chats API (default https://amojo.amocrm.ru)
//	AMOJO_ACCOUNT_ID      optional; the account's amojo_id (else asked from REST)
//	AMOJO_BOT_ID          optional; the channel bot's id, for "bot" messages
//
// Flags choose a conversation file (one JSON document) or a JSON Lines file
// of many conversations (imported longest first, see
// importer.Importer.ImportFile), a checkpoint that makes a long import
// resumable (against an account: the in-process fake starts empty on every
// run, so it refuses one) — a file, or PostgreSQL (-postgres DSN), shared
// by runs on several machines: each conversation is imported by one of
// them at a time, and one another run holds is left to it (the summary
// counts them) — the number of conversations imported at once, and a dry
// run that validates the input and prints the plan without sending
// anything. The exit status is 0 when every conversation read was
// imported, 1 when the import failed or imported fewer, such as when
// conversations were left to another run (the reason is on stderr), and 2
// for bad usage or input.
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/examples/internal/accountenv"
	"github.com/amojo-go/amojo/importer"
)

// seed is the conversation of amoCRM's import walk-through; it equals
// importer/testdata/conversations/seed.json at the repository root.
//
//go:embed seed.json
var seed []byte

const prog = "import-conversation"

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := interruptContext(os.Stderr)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// interruptContext returns a context cancelled by the first Ctrl-C (or
// SIGTERM), which lets the import record what is in flight and stop. The
// first signal also gives the signals their default handling back, so a
// second one ends the program at once. stop releases the signals.
func interruptContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, stopNotify := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stopNotify()
			select {
			case <-done:
			default:
				fmt.Fprintf(stderr, "%s: stopping once the requests in flight are answered (Ctrl-C again to quit at once)\n", prog)
			}
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			close(done)
			stopNotify()
		})
	}
}

// config is what the command line and the environment ask for.
type config struct {
	file         string
	checkpoint   string
	postgres     string // -postgres: the connection string of the PostgreSQL checkpoint
	importName   string // -import-name: the import's name in it
	concurrency  int
	dryRun       bool
	notifyNewest bool
	recreate     bool
	title        string

	accountenv.Env
}

// run is the program; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.file, "file", "", "conversation `file`: one JSON conversation (.json) or JSON Lines, one per line (.jsonl; the longest start first); default: the walk-through's conversation")
	fs.StringVar(&cfg.checkpoint, "checkpoint", "", "checkpoint `file` recording progress, so a stopped import resumes where it stopped")
	fs.StringVar(&cfg.postgres, "postgres", "", "record progress in PostgreSQL at `dsn` instead, shared by runs on several machines, which then split the conversations (migrates the schema)")
	fs.StringVar(&cfg.importName, "import-name", "", "the import's `name` in the PostgreSQL checkpoint: runs with the same name share their progress (default: the scope, channel_account)")
	fs.IntVar(&cfg.concurrency, "concurrency", importer.DefaultConcurrency, "conversations imported at once")
	fs.BoolVar(&cfg.dryRun, "dry-run", false, "validate the input and print the plan; send nothing")
	fs.BoolVar(&cfg.notifyNewest, "notify-newest", false, "send each conversation's newest message non-silently (creates a lead and notifies users)")
	fs.BoolVar(&cfg.recreate, "recreate-contacts", false, "create the contacts of conversations whose earlier contact creation was never confirmed and that a search of amoCRM cannot settle (they may then exist twice)")
	fs.StringVar(&cfg.title, "title", importer.DefaultChannelTitle, "channel `title` to connect with")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nImports conversations into amoCRM. Without AMOJO_CHANNEL_ID it runs against an in-process fake amoCRM.\n\n", prog)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (use -file)\n", prog, fs.Arg(0))
		return exitUsage
	}
	if cfg.concurrency < 1 {
		fmt.Fprintf(stderr, "%s: -concurrency must be at least 1\n", prog)
		return exitUsage
	}
	cfg.Env = accountenv.Read(getenv)
	fake := cfg.Fake()
	if missing := cfg.Missing(); !fake && len(missing) > 0 {
		fmt.Fprintf(stderr, "%s: set %s too (or none of them to use the in-process fake amoCRM)\n", prog, strings.Join(missing, " and "))
		return exitUsage
	}
	if msg := checkCheckpointFlags(fs, fake, cfg.dryRun); msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
		return exitUsage
	}
	if fake && cfg.checkpoint != "" && !cfg.dryRun {
		// The fake lives in this process: the next run would find none of
		// the chats and contacts the checkpoint names.
		fmt.Fprintf(stderr, "%s: -checkpoint needs an account: the in-process fake amoCRM starts empty on every run, so there would be nothing to resume "+
			"(set AMOJO_CHANNEL_ID and the rest, e.g. to a cmd/amojofake that keeps running)\n", prog)
		return exitUsage
	}
	if err := sameFile(cfg.file, cfg.checkpoint); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUsage
	}

	in, err := openInput(cfg.file)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUsage
	}
	defer in.Close()

	// Check the whole input before anything is sent.
	plan, err := check(in, cfg.BotID != "" || fake)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %s\n", prog, in.name, oneLine(err))
		return exitUsage
	}
	if cfg.dryRun {
		printPlan(stdout, in.name, plan, cfg, fake)
		return exitOK
	}

	// Wire the clients: to the fake, or to the account of the environment.
	var chats *amojo.Client
	var crm *amojo.CRMClient
	var opts []importer.Option
	if fake {
		srv := amojotest.NewServer()
		defer srv.Close()
		fmt.Fprintf(stdout, "No AMOJO_CHANNEL_ID set: using a fake amoCRM in this process (chats API %s, REST %s).\n", srv.URL, srv.CRMURL)
		chats, crm = srv.Client(), srv.CRMClient()
		opts = append(opts, importer.WithBotRefID(srv.Channel().Bot.ID))
	} else {
		var closeTokens func()
		if chats, crm, closeTokens, err = cfg.Clients(); err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
			return exitUsage
		}
		defer closeTokens() // a token refresh in flight is saved before the program ends
		if cfg.AccountID != "" {
			opts = append(opts, importer.WithAccountID(cfg.AccountID))
		}
		if cfg.BotID != "" {
			opts = append(opts, importer.WithBotRefID(cfg.BotID))
		}
	}
	opts = append(opts, importer.WithConcurrency(cfg.concurrency), importer.WithNotifyNewest(cfg.notifyNewest), importer.WithChannelTitle(cfg.title),
		importer.WithRecreateContacts(cfg.recreate))
	if cfg.checkpoint != "" {
		cp, err := importer.NewFileCheckpoint(cfg.checkpoint)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
			return exitUsage
		}
		defer cp.Close()
		opts = append(opts, importer.WithCheckpoint(cp))
	}
	if cfg.postgres != "" {
		cp, pgOpts, closeStore, err := openPostgres(ctx, cfg, chats, crm)
		if err != nil {
			return fail(stderr, cfg, err)
		}
		defer closeStore()
		fmt.Fprintf(stdout, "Checkpoint: PostgreSQL, import %q.\n", cp.Name())
		opts = append(opts, pgOpts...)
	}

	if !in.lines {
		return importOne(ctx, in, plan, chats, crm, opts, cfg, fake, stdout, stderr)
	}
	return importMany(ctx, in, plan, chats, crm, opts, cfg, fake, stdout, stderr)
}

// importOne imports a single conversation and prints each step and the
// resulting history.
func importOne(ctx context.Context, in *input, plan *plan, chats *amojo.Client, crm *amojo.CRMClient, opts []importer.Option, cfg config, fake bool, stdout, stderr io.Writer) int {
	c := plan.first
	if !fake && cfg.file == "" {
		if err := adoptSeedManager(ctx, crm, c, stdout); err != nil {
			return fail(stderr, cfg, err)
		}
	}
	im, err := importer.New(chats, crm, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return exitUsage
	}
	res, err := im.ImportConversation(ctx, c)
	if err != nil {
		return fail(stderr, cfg, err)
	}
	fmt.Fprintf(stdout, "connect: scope %s\n", res.ScopeID)
	fmt.Fprintf(stdout, "create chat: %s (conversation %s)\n", res.ChatID, c.ID)
	switch {
	case c.Contact == nil:
		fmt.Fprintln(stdout, "contact: none asked for")
	case res.ContactCreated:
		fmt.Fprintf(stdout, "create contact: %d (%s)\n", res.ContactID, contactName(c.Contact))
	default:
		fmt.Fprintf(stdout, "contact: %d (already there)\n", res.ContactID)
	}
	switch {
	case c.Contact == nil:
	case res.Linked:
		fmt.Fprintf(stdout, "link: chat %s to contact %d\n", res.ChatID, res.ContactID)
	default:
		fmt.Fprintf(stdout, "link: chat %s already linked to contact %d\n", res.ChatID, res.ContactID)
	}
	fmt.Fprintf(stdout, "import: %d messages (%d sent, %d skipped)\n", len(c.Messages), res.Sent, res.Skipped)
	if res.AlreadyDone {
		fmt.Fprintln(stdout, "verify: done earlier, according to the checkpoint")
	} else {
		fmt.Fprintf(stdout, "verify: the chat history holds all %d messages\n", len(c.Messages))
	}

	hist, err := history(ctx, chats, res.ScopeID, res.ChatID)
	if err != nil {
		return fail(stderr, cfg, err)
	}
	fmt.Fprintf(stdout, "\nhistory of chat %s (UTC, oldest first):\n", res.ChatID)
	for _, h := range hist {
		fmt.Fprintf(stdout, "%s  %s: %s\n", h.Time.UTC().Format(time.DateTime), senderName(h.Sender), describe(h.Message))
	}
	return exitOK
}

// importMany imports a JSON Lines file with a progress display.
func importMany(ctx context.Context, in *input, plan *plan, chats *amojo.Client, crm *amojo.CRMClient, opts []importer.Option, cfg config, fake bool, stdout, stderr io.Writer) int {
	if err := in.rewind(); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return exitUsage
	}
	pr := newProgress(stderr, plan.conversations, plan.messages)
	im, err := importer.New(chats, crm, append(opts, importer.WithProgress(pr.update))...)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err))
		return exitUsage
	}
	var res *importer.BatchResult
	if in.seekable() {
		// A file: the longest conversations start first, over the whole of it.
		res, err = im.ImportFile(ctx, in.f)
	} else {
		res, err = im.ImportAll(ctx, importer.ReadConversations(in.r))
	}
	pr.finish()
	p := res.Progress
	fmt.Fprintf(stdout, "imported %d of %d conversations (%d done before): %d messages sent, %d already there; %d conversations failed\n",
		p.ConversationsDone, plan.conversations, p.ConversationsSkipped, p.MessagesSent, p.MessagesSkipped, p.ConversationsFailed)
	if p.ConversationsClaimedElsewhere > 0 {
		fmt.Fprintf(stdout, "left to another run: %d conversations it is importing\n", p.ConversationsClaimedElsewhere)
	}
	changed := 0 // conversations whose line changed since ImportFile read the file
	for _, f := range res.Failures {
		if errors.Is(f, importer.ErrFileChanged) {
			changed++
		}
	}
	if err == nil || changed > 0 && changed == p.ConversationsFailed && !errors.Is(err, context.Canceled) {
		if read := p.Conversations - changed; read != plan.conversations || p.ConversationsDone != p.Conversations {
			// Nothing failed, yet not everything checked was imported: the
			// file changed under the import.
			fmt.Fprintf(stderr, "%s: %s changed during the import: %d conversations were checked, %d read and %d imported; run again\n",
				prog, in.name, plan.conversations, read, p.ConversationsDone)
			return exitFailed
		}
		return exitOK
	}
	// Conversations the run did not get to, or stopped in the middle of,
	// did not fail: the next run takes them up.
	left := plan.conversations - p.ConversationsDone - p.ConversationsFailed - p.ConversationsClaimedElsewhere
	if errors.Is(err, importer.ErrClaimed) && p.ConversationsFailed == 0 {
		fmt.Fprintf(stderr, "%s: %d conversations are being imported by another run sharing the checkpoint: left to it (run again once it is done to check them)\n",
			prog, p.ConversationsClaimedElsewhere)
		return exitFailed
	}
	if errors.Is(err, context.Canceled) {
		if fake {
			fmt.Fprintf(stderr, "%s: interrupted: %d conversations not imported (the in-process fake amoCRM starts empty on every run: the next run imports everything again)\n", prog, left)
			return exitFailed
		}
		fmt.Fprintf(stderr, "%s: interrupted: %d conversations left for the next run%s\n", prog, left, resumeHint(cfg))
		return exitFailed
	}
	// A failure that stopped the run (401, 403) is the one line to print;
	// otherwise list the conversations that failed, then the summary.
	var stopped *importer.ConversationError
	if errors.As(err, &stopped) && error(stopped) == err {
		if left > 0 {
			fmt.Fprintf(stderr, "%s: stopped: %d conversations left for the next run\n", prog, left)
		}
		return fail(stderr, cfg, err)
	}
	for i, f := range res.Failures {
		if i == 20 {
			fmt.Fprintf(stderr, "%s: … and %d more failures\n", prog, len(res.Failures)-20)
			break
		}
		fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(f))
	}
	var unconfirmed []string
	for _, f := range res.Failures {
		if errors.Is(f, importer.ErrContactUnconfirmed) {
			unconfirmed = append(unconfirmed, f.ConversationID)
		}
	}
	if len(unconfirmed) > 0 {
		fmt.Fprintf(stderr, "%s: the contacts of %d conversations (%s) may have been created without the answer reaching us, and a search of amoCRM could not settle which is theirs%s\n",
			prog, len(unconfirmed), strings.Join(unconfirmed, ", "), contactHint)
	}
	return fail(stderr, cfg, err)
}

// fail prints err as one line with a hint for the usual causes, and returns
// the failure status.
func fail(stderr io.Writer, cfg config, err error) int {
	hint := ""
	switch {
	case errors.Is(err, context.Canceled):
		hint = " (interrupted" + resumeHint(cfg) + ")"
	case errors.Is(err, amojo.ErrRefreshTokenRevoked):
		hint = " (the pair in AMOCRM_TOKEN_FILE is dead: authorize again with examples/oauth-login)"
	case errors.Is(err, amojo.ErrUnauthorized), errors.Is(err, amojo.ErrTokenExpired):
		hint = " (check AMOCRM_TOKEN or AMOCRM_TOKEN_FILE: expired or revoked?)"
	case errors.Is(err, amojo.ErrInvalidSignature):
		hint = " (check AMOJO_CHANNEL_SECRET and the clock)"
	case errors.Is(err, importer.ErrContactUnconfirmed):
		hint = contactHint
	case errors.Is(err, importer.ErrClaimed):
		hint = " (another run sharing the checkpoint is importing it: run again once it is done)"
	}
	fmt.Fprintf(stderr, "%s: %s%s\n", prog, oneLine(err), hint)
	return exitFailed
}

// resumeHint tells how to resume, when there is a checkpoint.
func resumeHint(cfg config) string {
	switch {
	case cfg.checkpoint != "":
		return "; run the same command again to resume from " + cfg.checkpoint
	case cfg.postgres != "":
		return "; run the same command again to resume from the PostgreSQL checkpoint"
	}
	return ""
}

// contactHint explains what to do about a contact that may have been created.
const contactHint = " (the error names the contacts that fit: set \"contact\": {\"id\": N} in the conversation to use one, or run again with -recreate-contacts to create a new one)"

// oneLine makes sure an error prints on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// sameFile refuses a checkpoint that is the conversation file itself (by
// another name, too).
func sameFile(file, checkpoint string) error {
	if file == "" || checkpoint == "" {
		return nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil // openInput reports it
	}
	if ci, err := os.Stat(checkpoint); err == nil && os.SameFile(fi, ci) {
		return fmt.Errorf("-checkpoint %s is the conversation file %s: give another file for the checkpoint", checkpoint, file)
	}
	return nil
}

// input is the conversation source: the embedded seed or a file.
type input struct {
	name  string
	lines bool // JSON Lines
	f     *os.File
	r     io.Reader
}

func openInput(path string) (*input, error) {
	if path == "" {
		return &input{name: "seed.json (built in)", r: bytes.NewReader(seed)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &input{name: path, f: f, r: f}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".jsonlines":
		in.lines = true
	case ".json":
	default:
		// Guess from the content: a first line that is a whole JSON value
		// means one conversation per line.
		first, _ := bufio.NewReader(f).ReadBytes('\n')
		in.lines = json.Valid(bytes.TrimSpace(first)) && len(bytes.TrimSpace(first)) > 0
		if err := in.rewind(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return in, nil
}

// seekable reports an input that is a regular file, which ImportFile can
// read again at each conversation.
func (in *input) seekable() bool {
	if in.f == nil {
		return false
	}
	fi, err := in.f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

func (in *input) rewind() error {
	if in.f == nil {
		in.r = bytes.NewReader(seed)
		return nil
	}
	_, err := in.f.Seek(0, io.SeekStart)
	in.r = in.f
	return err
}

func (in *input) Close() error {
	if in.f != nil {
		return in.f.Close()
	}
	return nil
}

// plan is what a check of the input found.
type plan struct {
	first         *importer.Conversation // a single conversation, or the first of many
	conversations int
	messages      int
	contacts      int // contacts to create
	existing      int // existing contacts to link
	byDirection   map[importer.Direction]int
	shown         []string // the first conversations, described
}

// check reads the whole input once, validating every conversation, and
// counts what the import will do. Memory does not grow with the input.
func check(in *input, haveBot bool) (*plan, error) {
	p := &plan{byDirection: map[importer.Direction]int{}}
	add := func(c *importer.Conversation) error {
		for _, m := range c.Messages {
			if m.From == importer.FromBot && !haveBot && (m.Sender == nil || m.Sender.RefID == "") {
				return fmt.Errorf("conversation %q, message %q: a bot message needs AMOJO_BOT_ID (the channel bot's id)", c.ID, m.MsgID)
			}
			p.byDirection[m.From]++
		}
		if p.first == nil {
			p.first = c
		}
		p.conversations++
		p.messages += len(c.Messages)
		switch {
		case c.Contact == nil:
		case c.Contact.ID > 0:
			p.existing++
		default:
			p.contacts++
		}
		if len(p.shown) < 10 {
			p.shown = append(p.shown, describeConversation(c))
		}
		return nil
	}
	if !in.lines {
		c, err := importer.ReadConversation(in.r)
		if err != nil {
			return nil, err
		}
		return p, add(c)
	}
	for c, err := range importer.ReadConversations(in.r) {
		if err != nil {
			return nil, err
		}
		if err := add(c); err != nil {
			return nil, err
		}
	}
	if p.conversations == 0 {
		return nil, errors.New("no conversations in the file")
	}
	return p, nil
}

func describeConversation(c *importer.Conversation) string {
	contact := "no contact"
	switch {
	case c.Contact == nil:
	case c.Contact.ID > 0:
		contact = fmt.Sprintf("link to contact %d", c.Contact.ID)
	default:
		contact = fmt.Sprintf("create contact %q", contactName(c.Contact))
	}
	first, last := c.Messages[0].Time, c.Messages[0].Time
	for _, m := range c.Messages {
		first, last = minTime(first, m.Time), maxTime(last, m.Time)
	}
	return fmt.Sprintf("conversation %s with %s: %d messages from %s to %s, %s",
		c.ID, c.Client.Name, len(c.Messages), first.UTC().Format(time.DateTime), last.UTC().Format(time.DateTime), contact)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func printPlan(w io.Writer, name string, p *plan, cfg config, fake bool) {
	target := "the in-process fake amoCRM"
	if !fake {
		target = cfg.CRMURL
	}
	fmt.Fprintf(w, "dry run: %s is valid; nothing was sent.\n", name)
	fmt.Fprintf(w, "plan for %s:\n", target)
	fmt.Fprintf(w, "  connect the channel (title %q) once\n", cfg.title)
	fmt.Fprintf(w, "  create %d chats (or reuse them)\n", p.conversations)
	fmt.Fprintf(w, "  create %d contacts, link %d chats to existing contacts\n", p.contacts, p.existing)
	fmt.Fprintf(w, "  import %d messages silently (%d from clients, %d from managers, %d from the bot)\n",
		p.messages, p.byDirection[importer.FromClient], p.byDirection[importer.FromManager], p.byDirection[importer.FromBot])
	if cfg.notifyNewest {
		fmt.Fprintln(w, "  send each conversation's newest message non-silently")
	}
	fmt.Fprintln(w, "  read every chat's history back to check it")
	for _, s := range p.shown {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	if n := p.conversations - len(p.shown); n > 0 {
		fmt.Fprintf(w, "  - … and %d more conversations\n", n)
	}
}

func contactName(s *importer.ContactSpec) string {
	if s.Name != "" {
		return s.Name
	}
	return strings.TrimSpace(s.FirstName + " " + s.LastName)
}

// history returns the chat's history oldest first, as a person reads it.
func history(ctx context.Context, chats *amojo.Client, scopeID, chatID string) ([]amojo.HistoryMessage, error) {
	msgs, err := collect(chats.AllHistory(ctx, scopeID, chatID, amojo.HistoryOptions{}))
	if err != nil {
		return nil, err
	}
	slices.Reverse(msgs) // amojo serves the newest first
	slices.SortStableFunc(msgs, func(a, b amojo.HistoryMessage) int { return a.Time.Compare(b.Time) })
	return msgs, nil
}

func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func senderName(u amojo.ChatUser) string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}

// describe renders a message's content as text.
func describe(m amojo.ReceivedMessage) string {
	var b strings.Builder
	switch m.Type {
	case amojo.TypeText:
	case amojo.TypeLocation:
		if m.Location != nil {
			fmt.Fprintf(&b, "[location %.5f, %.5f] ", m.Location.Lat, m.Location.Lon)
		}
	case amojo.TypeContact:
		if m.Contact != nil {
			fmt.Fprintf(&b, "[contact %s %s] ", m.Contact.Name, m.Contact.Phone)
		}
	default:
		name := m.FileName
		if name == "" {
			name = m.Media
		}
		fmt.Fprintf(&b, "[%s %s] ", m.Type, name)
	}
	b.WriteString(m.Text)
	return strings.TrimSpace(b.String())
}

// adoptSeedManager makes the built-in conversation importable into a real
// account: its manager is a user of amoCRM's demo account, so unless this
// account has a user with that amojo_id, the message is imported as written
// by the token's user.
func adoptSeedManager(ctx context.Context, crm *amojo.CRMClient, c *importer.Conversation, stdout io.Writer) error {
	users, err := crm.Users(ctx)
	if err != nil {
		return &importer.ConversationError{ConversationID: c.ID, Index: -1, Step: "users", Err: err}
	}
	for i := range c.Messages {
		m := &c.Messages[i]
		if m.From != importer.FromManager || m.Sender == nil {
			continue
		}
		if slices.ContainsFunc(users, func(u amojo.User) bool { return u.AmojoID == m.Sender.RefID }) {
			continue
		}
		acc, err := crm.Account(ctx)
		if err != nil {
			return &importer.ConversationError{ConversationID: c.ID, Index: -1, Step: "account", Err: err}
		}
		i := slices.IndexFunc(users, func(u amojo.User) bool { return u.ID == acc.CurrentUserID && u.AmojoID != "" })
		if i < 0 {
			return &importer.ConversationError{ConversationID: c.ID, MsgID: m.MsgID, Index: -1, Step: "users",
				Err: errors.New("the walk-through's manager is not a user of this account, and the token's user has no amojo_id")}
		}
		fmt.Fprintf(stdout, "note: the walk-through's manager is not a user of this account; their message is imported as %s's\n", users[i].Name)
		for k := range c.Messages {
			if s := c.Messages[k].Sender; s != nil && c.Messages[k].From == importer.FromManager {
				s.RefID, s.Name = users[i].AmojoID, users[i].Name
			}
		}
		return nil
	}
	return nil
}
