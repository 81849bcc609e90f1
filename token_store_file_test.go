package amojo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testToken(n string) *OAuthToken {
	return &OAuthToken{AccountURL: "https://acme.amocrm.ru", AccessToken: "acc-" + n, RefreshToken: "ref-" + n, Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestFileTokenStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "token.json")
	s, err := NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Load of a missing file: %v", err)
	}
	for _, n := range []string{"1", "2"} {
		if err := s.Save(t.Context(), testToken(n)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := testToken(n); *got != *want {
			t.Errorf("loaded %s %s, want %s %s", got.AccessToken, got.RefreshToken, want.AccessToken, want.RefreshToken)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"acc-2","refresh_token":"ref-2","expiry":"2026-01-02T03:04:05Z"}` + "\n"
	if string(b) != want {
		t.Errorf("file\n%s\nwant\n%s", b, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left beside the token: %v", entries)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		unlock, err := s.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("lock file: %v %v", fi, err)
		}
	}
}

func TestFileTokenStoreRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := NewFileTokenStore(""); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := NewFileTokenStore(filepath.Join(dir, "missing", "token.json")); err == nil {
		t.Error("a path in a missing directory accepted")
	}
	if _, err := NewFileTokenStore(dir); err == nil {
		t.Error("a directory accepted")
	}
	path := filepath.Join(dir, "token.json")
	s, err := NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []*OAuthToken{nil, {}, {AccountURL: "https://acme.amocrm.ru", AccessToken: "a", RefreshToken: "r"}, {AccountURL: "http://acme.amocrm.ru", AccessToken: "a", RefreshToken: "r", Expiry: time.Now()}} {
		if err := s.Save(t.Context(), tok); err == nil {
			t.Errorf("saved %v", tok)
		}
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty file: %v", err)
	}
	secret := `{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"secret-acc","refresh_token":"","expiry":"2026-01-02T03:04:05Z"`
	for _, content := range []string{secret, secret + "}", `{"version":2}`} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(t.Context())
		if err == nil || errors.Is(err, ErrNoToken) || strings.Contains(err.Error(), "secret-acc") {
			t.Errorf("Load of %q: %v", content, err)
		}
	}
}

// Lock excludes other holders, in this process as across processes (flock on
// its own open file), and a wait ends with the context.
func TestFileTokenStoreLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token.json")
	a, _ := NewFileTokenStore(path)
	b, _ := NewFileTokenStore(path) // another store on the same file: another process, as flock sees it
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*FileTokenStore{a, b} {
		if runtime.GOOS == "windows" && s == b {
			continue // no flock: only the holders of one store exclude each other
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		_, err := s.Lock(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second Lock while held: %v", err)
		}
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(t.Context())
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Errorf("Lock after unlock: %v", err)
	}
}

func FuzzDecodeTokenFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"a","refresh_token":"r","expiry":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"version":1,"account_url":"http://127.0.0.1:1","access_token":"a","refresh_token":"r","expiry":"2026-01-02T03:04:05.123456789+03:00"}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := decodeTokenFile(b)
		if err != nil {
			if strings.Contains(err.Error(), "\"") {
				t.Fatalf("error %q quotes the file", err)
			}
			return
		}
		if checkToken(tok) != nil {
			t.Fatalf("accepted an unusable token from %q", b)
		}
	})
}

// Validate names the first field a store cannot keep, without quoting a
// token.
func TestOAuthTokenValidate(t *testing.T) {
	t.Parallel()
	if err := testToken("1").Validate(); err != nil {
		t.Fatalf("a good pair: %v", err)
	}
	for field, edit := range map[string]func(*OAuthToken){
		"OAuthToken.AccountURL":   func(t *OAuthToken) { t.AccountURL = "https://acme.amocrm.ru/api/v4" },
		"OAuthToken.AccessToken":  func(t *OAuthToken) { t.AccessToken = "secret value" },
		"OAuthToken.RefreshToken": func(t *OAuthToken) { t.RefreshToken = "" },
		"OAuthToken.Expiry":       func(t *OAuthToken) { t.Expiry = time.Time{} },
	} {
		tok := testToken("1")
		edit(tok)
		var ve *ValidationError
		err := tok.Validate()
		if !errors.As(err, &ve) || ve.Field != field || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", field, err)
		}
	}
}
