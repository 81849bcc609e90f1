package amojo

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testToken(n string) *OAuthToken {
	return &OAuthToken{AccountURL: "https://acme.amocrm.ru", AccessToken: "acc-" + n, RefreshToken: "ref-" + n, Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestFileTokenStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "token.json")
	s, err := NewFileTokenStore(path)
	require.NoError(t, err)
	_, err = s.Load(t.Context())
	require.ErrorIs(t, err, ErrNoToken, "Load of a missing file")
	for _, n := range []string{"1", "2"} {
		require.NoError(t, s.Save(t.Context(), testToken(n)))
		got, err := s.Load(t.Context())
		require.NoError(t, err)
		assert.Equal(t, *testToken(n), *got)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	want := `{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"acc-2","refresh_token":"ref-2","expiry":"2026-01-02T03:04:05Z"}` + "\n"
	assert.Equal(t, want, string(b), "file")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "files left beside the token")
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode")
		unlock, err := s.Lock(t.Context())
		require.NoError(t, err)
		unlock()
		fi, err = os.Stat(path + ".lock")
		if assert.NoError(t, err, "lock file") {
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "lock file mode")
		}
	}
}

func TestFileTokenStoreRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := NewFileTokenStore("")
	assert.Error(t, err, "empty path accepted")
	_, err = NewFileTokenStore(filepath.Join(dir, "missing", "token.json"))
	assert.Error(t, err, "a path in a missing directory accepted")
	_, err = NewFileTokenStore(dir)
	assert.Error(t, err, "a directory accepted")
	path := filepath.Join(dir, "token.json")
	s, err := NewFileTokenStore(path)
	require.NoError(t, err)
	for _, tok := range []*OAuthToken{nil, {}, {AccountURL: "https://acme.amocrm.ru", AccessToken: "a", RefreshToken: "r"}, {AccountURL: "http://acme.amocrm.ru", AccessToken: "a", RefreshToken: "r", Expiry: time.Now()}} {
		assert.Error(t, s.Save(t.Context(), tok), "saved %v", tok)
	}
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err = s.Load(t.Context())
	assert.ErrorIs(t, err, ErrNoToken, "empty file")
	secret := `{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"secret-acc","refresh_token":"","expiry":"2026-01-02T03:04:05Z"`
	for _, content := range []string{secret, secret + "}", `{"version":2}`} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := s.Load(t.Context())
		if assert.Error(t, err, "Load of %q", content) {
			assert.NotErrorIs(t, err, ErrNoToken, "Load of %q", content)
			assert.NotContains(t, err.Error(), "secret-acc", "Load of %q", content)
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
	require.NoError(t, err)
	for _, s := range []*FileTokenStore{a, b} {
		if runtime.GOOS == "windows" && s == b {
			continue // no flock: only the holders of one store exclude each other
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		_, err := s.Lock(ctx)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "second Lock while held")
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
	assert.NoError(t, <-got, "Lock after unlock")
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
		require.ErrorAs(t, err, &ve, field)
		assert.Equal(t, field, ve.Field)
		assert.NotContains(t, err.Error(), "secret", field)
	}
}
