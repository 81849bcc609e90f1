package amojo_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// ExampleOAuthConfig_Exchange authorizes an integration: the user is sent
// to the authorization page, amoCRM redirects back with a code, and the code
// becomes the account's first token pair, saved in a token file. The fake
// amoCRM stands in for https://www.amocrm.ru/oauth and the account.
func ExampleOAuthConfig_Exchange() {
	srv := amojotest.NewServer()
	defer srv.Close()
	cfg := srv.OAuthConfig() // in production: the integration's ID, secret and Redirect URI
	ctx := context.Background()

	state := amojo.NewOAuthState() // keep it in the user's session
	authURL, err := cfg.AuthorizationURL(srv.AuthorizationPage(), state, amojo.AuthModePopup)
	if err != nil {
		log.Fatal(err)
	}
	_ = authURL // send the user there; amoCRM redirects to the Redirect URI:

	code, _ := srv.AuthorizationCode("")
	redirect := url.Values{"code": {code}, "referer": {srv.CRMURL}, "state": {state}, "platform": {"1"}}

	// In the Redirect URI's handler: r.URL.Query(). Only amoCRM and Kommo
	// hosts are accepted as the account, unless allowed (here, the fake).
	auth, err := amojo.ParseRedirect(redirect, state, srv.IsHost)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := cfg.Exchange(ctx, auth.AccountURL, auth.Code, amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := amojo.NewFileTokenStore(filepath.Join(dir, "token.json"))
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Save(ctx, tok); err != nil {
		log.Fatal(err)
	}
	saved, _ := store.Load(ctx)
	fmt.Println(auth.Platform, saved.AccountURL == srv.CRMURL)
	// Output:
	// amocrm.ru true
}

// ExampleOAuthTokenSource gives a CRM client an OAuth token source: it
// refreshes the access token ahead of expiry and after a 401, saves each
// rotated pair in the store before using it, and serialises refreshes
// across goroutines and, through the store's lock, across processes.
func ExampleOAuthTokenSource() {
	srv := amojotest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	store, err := amojo.NewFileTokenStore(filepath.Join(dir, "token.json"))
	if err != nil {
		log.Fatal(err)
	}
	first, _ := srv.NewOAuthToken("") // as saved after Exchange
	if err := store.Save(ctx, first); err != nil {
		log.Fatal(err)
	}

	tokens, err := amojo.NewOAuthTokenSource(srv.OAuthConfig(), store, amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	defer tokens.Close() // waits for a refresh in flight to be saved
	crm, err := amojo.NewCRMClient(first.AccountURL, tokens, amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}

	srv.ExpireAccessTokens() // amoCRM stops accepting the access token
	acc, err := crm.Account(ctx)
	if err != nil {
		log.Fatal(err)
	}
	saved, _ := store.Load(ctx)
	fmt.Println(acc.Name, saved.RefreshToken != first.RefreshToken)
	// Output:
	// Example account true
}
