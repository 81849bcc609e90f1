package main

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The receiver runs on AMOCRM_TOKEN_FILE: the REST call made at start-up
// refreshes the expired access token and saves the rotated pair; stopping
// waits for the token source.
func TestServeWithTokenFile(t *testing.T) {
	t.Parallel()
	fake := amojotest.NewServer()
	defer fake.Close()
	path := filepath.Join(t.TempDir(), "token.json")
	store, err := amojo.NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fake.NewOAuthToken("")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	fake.ExpireAccessTokens()
	ch, cfg := fake.Channel(), fake.OAuthConfig()
	env := map[string]string{
		"AMOJO_CHANNEL_ID": ch.ID, "AMOJO_CHANNEL_SECRET": ch.Secret, "AMOJO_BASE_URL": fake.URL, "WEBHOOK_ADDR": "127.0.0.1:0",
		"AMOCRM_TOKEN_FILE": path, "AMOCRM_CLIENT_ID": cfg.ClientID, "AMOCRM_CLIENT_SECRET": cfg.ClientSecret, "AMOCRM_REDIRECT_URI": cfg.RedirectURI,
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout, stderr := newLines(t), newLines(t)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, stdout.w, stderr.w)
		stdout.w.Close()
		stderr.w.Close()
	}()
	stdout.wait(t, regexp.MustCompile(`^Connected channel `))
	if got, _ := store.Load(t.Context()); got.RefreshToken != fake.OAuthStats().RefreshToken || fake.OAuthStats().Refreshes != 1 {
		t.Errorf("stats %+v: want one refresh, saved in the file", fake.OAuthStats())
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d", code)
		}
	case <-time.After(lineWait):
		t.Fatal("run did not return after cancellation")
	}
}
