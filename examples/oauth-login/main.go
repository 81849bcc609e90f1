// Command oauth-login authorizes an amoCRM (or Kommo) integration with OAuth
// 2.0 and writes the token file that the other examples read through
// AMOCRM_TOKEN_FILE.
//
// Run without configuration, it goes through the whole flow against a fake
// amoCRM in this process (package amojotest) and prints each step: the
// authorization URL, the consent (the fake grants access and calls the
// Redirect URI), the exchange of the code, the token file written, a REST
// call, a forced expiry of the access token, the refresh that follows and
// the rotated pair saved:
//
//	go run ./examples/oauth-login
//
// With the integration's settings it authorizes a real account:
//
//	AMOCRM_CLIENT_ID      the integration ID
//	AMOCRM_CLIENT_SECRET  the secret key
//	AMOCRM_REDIRECT_URI   the Redirect URI saved in the integration, pointing at
//	                      this machine: http://127.0.0.1:PORT/PATH or
//	                      http://localhost:PORT/PATH
//
// It prints the authorization page's address (amoCRM's, or Kommo's with
// -kommo), listens on the Redirect URI's address, checks the state of the
// redirect, exchanges the code and writes the pair to -token-file (mode
// 0600). Then, for example:
//
//	AMOCRM_TOKEN_FILE=amocrm-token.json AMOCRM_CLIENT_ID=… AMOCRM_CLIENT_SECRET=… AMOCRM_REDIRECT_URI=… \
//	AMOJO_CHANNEL_ID=… AMOJO_CHANNEL_SECRET=… go run ./examples/import-conversation
//
// The exit status is 0 on success, 1 on failure (access denied included) and
// 2 for bad usage or configuration.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

const prog = "oauth-login"

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
	tokenFile string
	kommo     bool
	timeout   time.Duration
	oauth     amojo.OAuthConfig
}

// hooks let tests run the real flow against a fake: the authorization page
// to print, more hosts to accept as the redirect's referer, and the listener
// for the Redirect URI. Zero hooks are the real program's.
type hooks struct {
	page      string
	allowHost func(string) bool
	listener  net.Listener
}

// run is the program; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, getenv, stdout, stderr, hooks{})
}

func runWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, h hooks) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.tokenFile, "token-file", "", "`file` to write the token pair to (default amocrm-token.json; a temporary file in the demo)")
	fs.BoolVar(&cfg.kommo, "kommo", false, "send the user to Kommo's authorization page instead of amoCRM's")
	fs.DurationVar(&cfg.timeout, "timeout", amojotest.DefaultCodeLifetime, "how long to wait for the redirect")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n\nAuthorizes an integration with OAuth and writes a token file. Without AMOCRM_CLIENT_ID it runs the whole flow against an in-process fake amoCRM.\n\n", prog)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", prog, fs.Arg(0))
		return exitUsage
	}
	if cfg.timeout <= 0 {
		fmt.Fprintf(stderr, "%s: -timeout must be positive\n", prog)
		return exitUsage
	}
	cfg.oauth = amojo.OAuthConfig{ClientID: getenv("AMOCRM_CLIENT_ID"), ClientSecret: getenv("AMOCRM_CLIENT_SECRET"), RedirectURI: getenv("AMOCRM_REDIRECT_URI")}
	if cfg.oauth == (amojo.OAuthConfig{}) {
		return demo(ctx, cfg, stdout, stderr)
	}
	var missing []string
	for _, v := range []struct{ name, val string }{{"AMOCRM_CLIENT_ID", cfg.oauth.ClientID}, {"AMOCRM_CLIENT_SECRET", cfg.oauth.ClientSecret}, {"AMOCRM_REDIRECT_URI", cfg.oauth.RedirectURI}} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "%s: set %s too (or none of them to run the demo against an in-process fake amoCRM)\n", prog, strings.Join(missing, " and "))
		return exitUsage
	}
	if cfg.tokenFile == "" {
		cfg.tokenFile = "amocrm-token.json"
	}
	return login(ctx, cfg, h, stdout, stderr)
}

// login authorizes a real account: it prints the authorization URL, waits
// for the redirect on the Redirect URI's address, exchanges the code and
// writes the token file.
func login(ctx context.Context, cfg config, h hooks, stdout, stderr io.Writer) int {
	store, err := amojo.NewFileTokenStore(cfg.tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "%s: -token-file: %v\n", prog, err)
		return exitUsage
	}
	ln := h.listener
	if ln == nil {
		addr, err := listenAddr(cfg.oauth.RedirectURI)
		if err != nil {
			fmt.Fprintf(stderr, "%s: AMOCRM_REDIRECT_URI: %v\n", prog, err)
			return exitUsage
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			fmt.Fprintf(stderr, "%s: listen on %s (the Redirect URI's address): %v\n", prog, addr, err)
			return exitFailed
		}
	}
	page := amojo.AmoCRMAuthorizationPage
	if cfg.kommo {
		page = amojo.KommoAuthorizationPage
	}
	if h.page != "" {
		page = h.page
	}
	state := amojo.NewOAuthState()
	authURL, err := cfg.oauth.AuthorizationURL(page, state, "")
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "Open this address in a browser and grant the integration access to an account:\n\n  %s\n\nWaiting for amoCRM's redirect to %s …\n", authURL, cfg.oauth.RedirectURI)

	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	auth, err := awaitRedirect(ctx, ln, cfg.oauth.RedirectURI, state, h.allowHost, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "Redirect received (state checked): account %s.\n", auth.AccountURL)
	tok, err := cfg.oauth.Exchange(ctx, auth.AccountURL, auth.Code)
	if err != nil {
		fmt.Fprintf(stderr, "%s: exchange the code: %v\n", prog, err)
		return exitFailed
	}
	if err := store.Save(ctx, tok); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "Token file written: %s (mode 0600); the access token is valid until %s.\n", store.Path(), tok.Expiry.UTC().Format(time.RFC3339))
	src, err := amojo.NewOAuthTokenSource(cfg.oauth, store)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitFailed
	}
	defer src.Close()
	crm, err := amojo.NewCRMClient(tok.AccountURL, src)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitFailed
	}
	acc, err := crm.Account(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: a first REST call with the new token: %v\n", prog, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "REST check: account %q (id %d).\n\nUse it with AMOCRM_TOKEN_FILE=%s (and the same AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET, AMOCRM_REDIRECT_URI).\n",
		acc.Name, acc.ID, store.Path())
	return exitOK
}

// listenAddr is the address to listen on for the Redirect URI, which must
// be a plain http URL on this machine.
func listenAddr(redirectURI string) (string, error) {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Host == "" {
		return "", errors.New("not an absolute URL")
	}
	if u.Scheme != "http" || !amojo.IsLoopbackHost(u.Host) {
		return "", errors.New("to receive the redirect here it must be http://127.0.0.1:PORT/…, http://localhost:PORT/… or http://[::1]:PORT/…; a server elsewhere calls amojo.ParseRedirect and OAuthConfig.Exchange itself")
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80"), nil
	}
	return u.Host, nil
}

// awaitRedirect serves the Redirect URI on ln until a redirect with the
// expected state arrives (access granted or denied), or ctx is done. A
// redirect with another state is refused and waited past: it belongs to
// another attempt, or was forged.
func awaitRedirect(ctx context.Context, ln net.Listener, redirectURI, state string, allowHost func(string) bool, stderr io.Writer) (*amojo.Authorization, error) {
	u, _ := url.Parse(redirectURI) // checked by AuthorizationURL's caller
	path := u.Path
	if path == "" {
		path = "/"
	}
	type outcome struct {
		auth *amojo.Authorization
		err  error
	}
	got := make(chan outcome, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		auth, err := amojo.ParseRedirect(r.URL.Query(), state, allowHost)
		switch {
		case errors.Is(err, amojo.ErrStateMismatch):
			fmt.Fprintf(stderr, "%s: a redirect with another state was refused; still waiting\n", prog)
			http.Error(w, "This redirect is not the one expected (state mismatch). Start again from the authorization URL.", http.StatusBadRequest)
			return
		case errors.Is(err, amojo.ErrAccessDenied):
			fmt.Fprintln(w, "Access was not granted. You can close this window.")
		case err != nil:
			http.Error(w, "The redirect is not usable: "+err.Error(), http.StatusBadRequest)
		default:
			fmt.Fprintln(w, "Access granted. You can close this window.")
		}
		select {
		case got <- outcome{auth, err}:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()
	select {
	case o := <-got:
		return o.auth, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no redirect arrived: %w", ctx.Err())
	}
}

// demo runs the whole flow against an in-process fake amoCRM.
func demo(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	fail := func(step string, err error) int {
		fmt.Fprintf(stderr, "%s: %s: %v\n", prog, step, err)
		return exitFailed
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail("listen", err)
	}
	redirectURI := "http://" + ln.Addr().String() + "/oauth/callback"
	srv := amojotest.NewServer(amojotest.WithOAuthClient(amojotest.OAuthClient{ID: amojotest.DefaultClientID, Secret: amojotest.DefaultClientSecret, RedirectURI: redirectURI}))
	defer srv.Close()
	oauth := srv.OAuthConfig()
	opts := []amojo.Option{amojo.WithHTTPClient(srv.HTTPClient())}
	fmt.Fprintf(stdout, "No AMOCRM_CLIENT_ID set: the whole OAuth flow against a fake amoCRM in this process (%s).\n\n", srv.URL)

	state := amojo.NewOAuthState()
	authURL, err := oauth.AuthorizationURL(srv.AuthorizationPage(), state, amojo.AuthModePostMessage)
	if err != nil {
		ln.Close()
		return fail("authorization URL", err)
	}
	fmt.Fprintf(stdout, "1. Authorization URL, where the user grants access:\n   %s\n", authURL)

	// The consent: the fake's page grants access at once and redirects the
	// "browser" to the Redirect URI, which this program serves.
	type redirect struct {
		auth *amojo.Authorization
		err  error
	}
	got := make(chan redirect, 1)
	wait, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	go func() {
		a, err := awaitRedirect(wait, ln, redirectURI, state, srv.IsHost, stderr)
		got <- redirect{a, err}
	}()
	resp, err := srv.HTTPClient().Get(authURL) // follows the redirect, as a browser does
	if err != nil {
		stopWaiting()
		<-got
		return fail("consent", err)
	}
	resp.Body.Close()
	r := <-got
	if r.err != nil {
		return fail("consent", r.err)
	}
	auth := r.auth
	fmt.Fprintf(stdout, "2. Consent (simulated): the fake granted access and called the Redirect URI\n   %s?code=…&referer=%s&platform=%d&state=…\n   state checked; account %s\n",
		redirectURI, auth.AccountURL, auth.Platform, auth.AccountURL)

	tok, err := oauth.Exchange(ctx, auth.AccountURL, auth.Code, opts...)
	if err != nil {
		return fail("exchange", err)
	}
	fmt.Fprintf(stdout, "3. Exchange: POST %s/oauth2/access_token → access token valid until %s, refresh token %s\n",
		auth.AccountURL, tok.Expiry.UTC().Format(time.RFC3339), fingerprint(tok.RefreshToken))

	path := cfg.tokenFile
	if path == "" {
		dir, err := os.MkdirTemp("", "oauth-login-")
		if err != nil {
			return fail("token file", err)
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "amocrm-token.json")
	}
	store, err := amojo.NewFileTokenStore(path)
	if err != nil {
		return fail("token file", err)
	}
	if err := store.Save(ctx, tok); err != nil {
		return fail("token file", err)
	}
	mode := "?"
	if fi, err := os.Stat(path); err == nil {
		mode = fmt.Sprintf("%04o", fi.Mode().Perm())
	}
	fmt.Fprintf(stdout, "4. Token file written: %s (mode %s)\n", path, mode)

	src, err := amojo.NewOAuthTokenSource(oauth, store, opts...)
	if err != nil {
		return fail("token source", err)
	}
	defer src.Close()
	crm, err := amojo.NewCRMClient(tok.AccountURL, src, opts...)
	if err != nil {
		return fail("REST client", err)
	}
	acc, err := crm.Account(ctx)
	if err != nil {
		return fail("REST call", err)
	}
	fmt.Fprintf(stdout, "5. REST call: GET /api/v4/account → %q (id %d)\n", acc.Name, acc.ID)

	n := srv.ExpireAccessTokens()
	fmt.Fprintf(stdout, "6. Forced expiry: the fake stops accepting its access tokens (%d expired) while the token file still shows them valid\n", n)

	srv.ResetRequests()
	if acc, err = crm.Account(ctx); err != nil {
		return fail("REST call after the expiry", err)
	}
	var statuses []string
	for _, r := range srv.RequestsTo(amojotest.RouteAccount) {
		statuses = append(statuses, fmt.Sprint(r.StatusCode))
	}
	fmt.Fprintf(stdout, "7. REST call again: answered %s; the token source refreshed (%d refresh request) and sent the call once more → %q\n",
		strings.Join(statuses, " then "), len(srv.RequestsTo(amojotest.RouteOAuthToken)), acc.Name)

	saved, err := store.Load(ctx)
	if err != nil {
		return fail("token file", err)
	}
	fmt.Fprintf(stdout, "8. Rotated pair saved in %s: refresh token %s → %s, access token valid until %s\n",
		path, fingerprint(tok.RefreshToken), fingerprint(saved.RefreshToken), saved.Expiry.UTC().Format(time.RFC3339))
	return exitOK
}

// fingerprint names a token without showing it: the start of its SHA-256.
func fingerprint(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "#" + hex.EncodeToString(sum[:4])
}
