// Command webhook-receiver receives amoCRM's chat webhooks and answers every
// message a manager writes with an echo from the client: for each message it
// reports the message read and sends "echo: <text>" back into the chat.
//
// Run without configuration, it starts a fake amoCRM in-process (package
// amojotest), connects, creates a chat, listens for webhooks on a loopback
// port, lets a manager write a few messages (and write first to a phone
// number), and prints the chat histories:
//
//	go run ./examples/webhook-receiver
//
// With these variables it serves a real account until SIGINT or SIGTERM:
//
//	AMOJO_CHANNEL_ID      the chat channel's id
//	AMOJO_CHANNEL_SECRET  the channel's secret (signs requests, verifies webhooks)
//	AMOCRM_BASE_URL       the account's REST address, https://SUBDOMAIN.amocrm.ru
//	AMOCRM_TOKEN          a long-lived token or an OAuth access token, or instead
//	AMOCRM_TOKEN_FILE     an OAuth token file (examples/oauth-login writes one),
//	                      refreshed as the receiver runs, with AMOCRM_CLIENT_ID,
//	                      AMOCRM_CLIENT_SECRET and AMOCRM_REDIRECT_URI
//	AMOJO_BASE_URL        optional; the chats API (default https://amojo.amocrm.ru)
//	AMOJO_ACCOUNT_ID      optional; the account's amojo_id (else asked from REST)
//	WEBHOOK_ADDR          the address to listen on, such as ":8080" (or -addr)
//
// By default webhooks wait in a queue in memory, lost if the program dies
// after answering amoCRM (which never sends a webhook again). With -inbox
// FILE each webhook is stored in a synced file before the 200 (processes of
// one machine may share it); with -postgres DSN in PostgreSQL (the schema is
// migrated at start-up), shared by replicas on many machines. Events stored
// and not yet handled are handled after a restart.
//
// amoCRM posts webhooks to the channel's registered webhook URL, which must
// reach this program at /amojo/webhook/:scope_id. The exit status is 0 on
// success, 1 on failure and 2 for bad usage or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/examples/internal/accountenv"
)

const prog = "webhook-receiver"

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the command line and the environment ask for.
type config struct {
	fake     bool // no account configured: run the demo against amojotest
	addr     string
	title    string
	inbox    string // -inbox: the file inbox's path
	postgres string // -postgres: the connection string of the PostgreSQL inbox

	accountenv.Env
}

// run is the program; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, getenv, stdout, stderr, func() *amojotest.Server { return amojotest.NewServer() })
}

// runWith is run with the fake amoCRM of the demo made by newFake, so that
// tests can look into it afterwards.
func runWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, newFake func() *amojotest.Server) int {
	cfg, code, ok := parseConfig(args, getenv, stderr)
	if !ok {
		return code
	}
	out, errOut := &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	if cfg.fake {
		return runDemo(ctx, cfg, newFake(), out, errOut)
	}
	return serve(ctx, cfg, out, errOut)
}

// parseConfig reads flags and environment. When ok is false the program
// exits with code.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (cfg config, code int, ok bool) {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "", "`address` to listen on for webhooks (default $WEBHOOK_ADDR; 127.0.0.1:0 in the demo)")
	fs.StringVar(&cfg.title, "title", "Echo receiver", "channel `title` to connect with")
	fs.StringVar(&cfg.inbox, "inbox", "", "store webhooks in the inbox `file` before answering (one machine)")
	fs.StringVar(&cfg.postgres, "postgres", "", "store webhooks in PostgreSQL at `dsn` before answering (many replicas; migrates the schema)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nEchoes managers' chat messages back as the client. Without AMOJO_CHANNEL_ID it runs a demo against an in-process fake amoCRM.\n\n", prog)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, exitOK, false
		}
		return cfg, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", prog, fs.Arg(0))
		return cfg, exitUsage, false
	}
	if strings.TrimSpace(cfg.title) == "" {
		fmt.Fprintf(stderr, "%s: -title must not be empty\n", prog)
		return cfg, exitUsage, false
	}
	if msg := checkInboxFlags(fs); msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
		return cfg, exitUsage, false
	}
	cfg.Env = accountenv.Read(getenv)
	if cfg.addr == "" {
		cfg.addr = getenv("WEBHOOK_ADDR")
	}
	cfg.fake = cfg.Fake()
	if cfg.fake {
		if cfg.addr == "" {
			cfg.addr = "127.0.0.1:0"
		}
		return cfg, exitOK, true
	}
	if missing := cfg.Missing(); len(missing) > 0 {
		fmt.Fprintf(stderr, "%s: set %s too (or none of them to run the demo against an in-process fake amoCRM)\n", prog, strings.Join(missing, " and "))
		return cfg, exitUsage, false
	}
	if cfg.addr == "" {
		fmt.Fprintf(stderr, "%s: set -addr or WEBHOOK_ADDR to the address amoCRM's webhooks reach, such as :8080\n", prog)
		return cfg, exitUsage, false
	}
	return cfg, exitOK, true
}

// oneLine flattens an error message to one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
