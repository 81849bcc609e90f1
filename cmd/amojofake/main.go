// Command amojofake runs the fake amoCRM of package amojotest as a program,
// for integrations tested from any language. One address serves both the
// chats API (/v2/origin/custom/…) and the REST v4 calls (/api/v4/…):
//
//	amojofake -addr 127.0.0.1:8080 -channel-id ID -channel-secret SECRET -account-id AMOJO_ID -token TOKEN
//
// It prints the URLs it serves and the credentials it accepts, and stops
// cleanly on SIGINT or SIGTERM. Every flag has a default, so amojofake alone
// is enough to start. Unless -control=false, a control API under /amojotest/
// makes a CRM user reply (sending the signed webhook to -webhook-url),
// injects faults and shows what the fake stores; see
// amojotest.WithControlAPI.
//
// The fake also speaks OAuth: its authorization page /oauth consents at once
// and redirects to -redirect-uri with a code; POST /oauth2/access_token
// exchanges it and refreshes with amoCRM's rules (single-use codes and
// refresh tokens, exact redirect_uri), for the integration of -client-id and
// -client-secret, with the lifetimes of -code-lifetime,
// -access-token-lifetime and -refresh-token-lifetime. The control actions
// under /amojotest/oauth/ expire or revoke the tokens issued.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "amojofake:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds how long requests in flight may take to finish after
// a signal.
const shutdownTimeout = 5 * time.Second

// run serves until ctx is done. ready, when not nil, is called with the base
// URL once the listener is open.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(baseURL string)) error {
	fs := flag.NewFlagSet("amojofake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	channelID := fs.String("channel-id", amojotest.DefaultChannelID, "`id` of the chat channel")
	secret := fs.String("channel-secret", amojotest.DefaultChannelSecret, "`secret` of the channel, the key of every X-Signature")
	accountID := fs.String("account-id", amojotest.DefaultAccountID, "amojo `id` of the account (account_id of connect)")
	token := fs.String("token", amojotest.DefaultToken, "Bearer `token` the REST v4 API accepts")
	webhookURL := fs.String("webhook-url", "", "`URL` the channel's webhooks go to (\":scope_id\" is replaced)")
	rateLimit := fs.Float64("rate-limit", amojotest.DefaultRateLimit, "REST v4 requests per second (0: no limit)")
	control := fs.Bool("control", true, "serve the control API under /amojotest/ (manager replies, faults, stored data)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	clientID := fs.String("client-id", amojotest.DefaultClientID, "OAuth integration `id` (client_id) the token endpoint accepts")
	clientSecret := fs.String("client-secret", amojotest.DefaultClientSecret, "OAuth integration `secret` (client_secret)")
	redirectURI := fs.String("redirect-uri", amojotest.DefaultRedirectURI, "the integration's Redirect `URI`: redirect_uri must equal it, and the authorization page redirects there")
	codeLife := fs.Duration("code-lifetime", amojotest.DefaultCodeLifetime, "how long an OAuth authorization code stays valid")
	accessLife := fs.Duration("access-token-lifetime", amojotest.DefaultAccessLifetime, "how long an OAuth access token stays valid (at least 1s)")
	refreshLife := fs.Duration("refresh-token-lifetime", amojotest.DefaultRefreshLifetime, "how long an OAuth refresh token stays valid")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: amojofake [flags]\n\n"+
			"Runs an in-memory fake of amoCRM: the chats API (amojo) under /v2/origin/custom/\n"+
			"and the REST v4 calls under /api/v4/, on one address, until SIGINT or SIGTERM.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for name, v := range map[string]string{"channel-id": *channelID, "channel-secret": *secret, "account-id": *accountID, "token": *token,
		"client-id": *clientID, "client-secret": *clientSecret, "redirect-uri": *redirectURI} {
		if v == "" || strings.ContainsAny(v, " \t\r\n") {
			return fmt.Errorf("-%s must be non-empty and without spaces", name)
		}
	}
	if *rateLimit < 0 {
		return errors.New("-rate-limit must not be negative")
	}
	if *codeLife <= 0 || *accessLife < time.Second || *refreshLife <= 0 {
		return errors.New("-code-lifetime and -refresh-token-lifetime must be positive, -access-token-lifetime at least 1s")
	}
	if u, err := url.Parse(*redirectURI); err != nil || u.Host == "" {
		return errors.New("-redirect-uri must be an absolute URL")
	}

	ch := amojotest.DefaultChannel()
	ch.ID, ch.Secret, ch.WebhookURL = *channelID, *secret, *webhookURL
	acc := amojotest.DefaultAccount()
	acc.AmojoID = *accountID
	opts := []amojotest.Option{
		amojotest.WithChannel(ch),
		amojotest.WithAccount(acc),
		amojotest.WithToken(*token),
		amojotest.WithRateLimit(*rateLimit, max(1, int(*rateLimit))),
		amojotest.WithOAuthClient(amojotest.OAuthClient{ID: *clientID, Secret: *clientSecret, RedirectURI: *redirectURI}),
		amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Code: *codeLife, Access: *accessLife, Refresh: *refreshLife}),
	}
	if *control {
		opts = append(opts, amojotest.WithControlAPI())
	}
	if *verbose {
		opts = append(opts, amojotest.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	fake := amojotest.NewUnstartedServer(opts...)
	defer fake.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + displayAddr(ln.Addr())
	hs := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	scope := ch.ID + "_" + acc.AmojoID
	fmt.Fprintf(stdout, "amojofake: serving\n"+
		"  chats API (amojo): %s/v2/origin/custom/\n"+
		"  REST v4:           %s/api/v4/\n"+
		"  control API:       %s\n"+
		"  channel id:        %s\n"+
		"  channel secret:    %s\n"+
		"  bot id:            %s\n"+
		"  account amojo id:  %s\n"+
		"  scope id:          %s (after connect)\n"+
		"  REST token:        %s\n"+
		"  OAuth:             authorization page %s/oauth, token endpoint %s/oauth2/access_token\n"+
		"  client id:         %s\n"+
		"  client secret:     %s\n"+
		"  redirect URI:      %s\n"+
		"  token lifetimes:   code %v, access %v, refresh %v\n",
		base, base, controlURL(base, *control), ch.ID, ch.Secret, ch.Bot.ID, acc.AmojoID, scope, *token,
		base, base, *clientID, *clientSecret, *redirectURI, *codeLife, *accessLife, *refreshLife)
	for _, u := range acc.Users {
		fmt.Fprintf(stdout, "  user:              %d %s %s\n", u.ID, u.AmojoID, u.Name)
	}
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	<-served
	fmt.Fprintln(stdout, "amojofake: stopped")
	return err
}

func controlURL(base string, on bool) string {
	if !on {
		return "off"
	}
	return base + amojotest.ControlPrefix
}

// displayAddr turns a listening address into one a client can dial: an
// unspecified host (":8080", "0.0.0.0") becomes 127.0.0.1.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
