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
//
// amojofake is a test tool: neither the fake nor its control API has any
// authentication (the default credentials are public), so it belongs on
// loopback, and it warns when -addr is not. It answers 403 to a request whose
// Host is not a loopback name (localhost, 127.0.0.1, [::1]), the host of
// -addr, or one of -allow-host, so a web page cannot reach it by making its
// own name resolve to 127.0.0.1; the control API refuses writes that a web
// page could send (see amojotest.WithControlAPI). The server cuts off slow
// and idle clients (amojotest.ReadHeaderTimeout and the timeouts after it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
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
	allowHost := fs.String("allow-host", "", "comma-separated host `names` accepted in the Host header besides loopback names and the host of -addr")
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
	allowed := map[string]bool{}
	if *allowHost != "" {
		for _, h := range strings.Split(*allowHost, ",") {
			h = strings.TrimSpace(h)
			if h == "" || strings.ContainsAny(h, " \t\r\n/") {
				return fmt.Errorf("-allow-host: bad host name %q", h)
			}
			allowed[hostName(h)] = true
		}
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
	warnIfExposed(stderr, ln.Addr())
	for _, h := range []string{*addr, ln.Addr().String()} {
		if name := hostName(h); name != "" && !isUnspecified(name) {
			allowed[name] = true
		}
	}
	base := "http://" + displayAddr(ln.Addr())
	hs := newHTTPServer(hostGuard(allowed, fake), stderr)
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

// newHTTPServer returns the server amojofake runs: h with the timeouts of
// amojotest's own server, which cut off slow and idle clients, and
// net/http's errors logged to stderr.
func newHTTPServer(h http.Handler, stderr io.Writer) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: amojotest.ReadHeaderTimeout,
		ReadTimeout:       amojotest.ReadTimeout,
		WriteTimeout:      amojotest.WriteTimeout,
		IdleTimeout:       amojotest.IdleTimeout,
		ErrorLog:          log.New(stderr, "amojofake: ", 0),
	}
}

// warnIfExposed warns on stderr when the server listens on more than
// loopback.
func warnIfExposed(stderr io.Writer, a net.Addr) {
	if ta, ok := a.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	fmt.Fprintf(stderr, "amojofake: warning: listening on %s, not only on loopback: whoever reaches it can use "+
		"the fake and its control API, which have no authentication; they are test tools. "+
		"Clients must use a loopback name, the host of -addr or a name given to -allow-host.\n", a)
}

// hostGuard answers 403 to a request whose Host is neither a loopback name
// nor one of allowed. A web page whose own name is made to resolve to
// 127.0.0.1 (DNS rebinding) reaches the fake with that name in Host.
func hostGuard(allowed map[string]bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := hostName(r.Host)
		ip := net.ParseIP(name)
		if name != "localhost" && !allowed[name] && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, fmt.Sprintf("amojofake: Host %q is not allowed: use localhost or 127.0.0.1, or start amojofake with -allow-host", r.Host), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hostName returns the host of a Host header or host:port, lower case,
// without port, brackets or a final dot.
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// isUnspecified reports whether host is 0.0.0.0 or ::, which name no host.
func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
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
