package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/internal/oauthtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
)

func tokenStore(t testing.TB, s *pgstore.Store, key string) *pgstore.TokenStore {
	t.Helper()
	ts, err := s.TokenStore(key)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// pair returns token pair number n of the account acme.
func pair(n string) *amojo.OAuthToken {
	return &amojo.OAuthToken{AccountURL: "https://acme.amocrm.ru", AccessToken: "access-" + n, RefreshToken: "refresh-" + n,
		Expiry: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func mustLoad(t *testing.T, ts *pgstore.TokenStore) *amojo.OAuthToken {
	t.Helper()
	tok, err := ts.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenStoreLoadOfAnUnknownKey(t *testing.T) {
	t.Parallel()
	_, err := tokenStore(t, open(t), "acme/user-6101").Load(t.Context())
	if !errors.Is(err, amojo.ErrNoToken) {
		t.Fatalf("Load = %v, want ErrNoToken", err)
	}
	if !strings.Contains(err.Error(), "acme/user-6101") {
		t.Errorf("error %q does not name the key", err)
	}
}

// Save and Load keep every field (Expiry to the microsecond, read back in
// UTC), tokens of any length, and Load reads the newest row every time, as
// another process (another pool) sees it.
func TestTokenStoreRoundTrip(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ts := tokenStore(t, openDSN(t, dsn), "https://acme.amocrm.ru/user-6101")
	other := tokenStore(t, openDSN(t, dsn), "https://acme.amocrm.ru/user-6101")
	tok := &amojo.OAuthToken{
		AccountURL:   "https://acme.amocrm.ru",
		AccessToken:  strings.Repeat("a", 4000) + ".jwt",
		RefreshToken: "def50200" + strings.Repeat("r", 1000),
		Expiry:       time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("MSK", 3*3600)),
	}
	if err := ts.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*pgstore.TokenStore{ts, other} {
		got := mustLoad(t, h)
		if got.AccountURL != tok.AccountURL || got.AccessToken != tok.AccessToken || got.RefreshToken != tok.RefreshToken {
			t.Errorf("loaded %v, want %v", got, tok)
		}
		if want := tok.Expiry.Truncate(time.Microsecond); !got.Expiry.Equal(want) || got.Expiry.Location() != time.UTC {
			t.Errorf("Expiry = %v, want %v in UTC", got.Expiry, want.UTC())
		}
	}
	if err := ts.Save(t.Context(), pair("2")); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, other); *got != *pair("2") {
		t.Errorf("the other process loads %v, want the newest pair", got)
	}
}

// Each key has its own row and its own lock.
func TestTokenStoreKeysAreIndependent(t *testing.T) {
	t.Parallel()
	s := open(t)
	a, b := tokenStore(t, s, "acme/user-1"), tokenStore(t, s, "acme/user-2")
	if err := a.Save(t.Context(), pair("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(t.Context()); !errors.Is(err, amojo.ErrNoToken) {
		t.Fatalf("b after a's Save: %v", err)
	}
	if err := b.Save(t.Context(), pair("b")); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, a); *got != *pair("a") {
		t.Errorf("a = %v", got)
	}
	if got := mustLoad(t, b); *got != *pair("b") {
		t.Errorf("b = %v", got)
	}
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	unlockB, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("b's lock while a's is held: %v", err)
	}
	unlockB()
}

func TestTokenStoreRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := open(t)
	for _, key := range []string{"", strings.Repeat("k", 501), "acme\x00", "acme\nuser", "\xff"} {
		var ve *amojo.ValidationError
		if _, err := s.TokenStore(key); !errors.As(err, &ve) || ve.Field != "key" {
			t.Errorf("TokenStore(%q) = %v, want a ValidationError on key", key, err)
		}
	}
	ts := tokenStore(t, s, "acme/user-6101")
	bad := map[string]*amojo.OAuthToken{"OAuthToken": nil}
	for field, edit := range map[string]func(*amojo.OAuthToken){
		"OAuthToken.AccountURL":   func(t *amojo.OAuthToken) { t.AccountURL = "acme.amocrm.ru" },
		"OAuthToken.AccessToken":  func(t *amojo.OAuthToken) { t.AccessToken = "" },
		"OAuthToken.RefreshToken": func(t *amojo.OAuthToken) { t.RefreshToken = "secret-\xff\xfe" },
		"OAuthToken.Expiry":       func(t *amojo.OAuthToken) { t.Expiry = time.Time{} },
	} {
		tok := pair("1")
		edit(tok)
		bad[field] = tok
	}
	for field, tok := range bad {
		var ve *amojo.ValidationError
		err := ts.Save(t.Context(), tok)
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("Save with a bad %s = %v", field, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q quotes the token", err)
		}
	}
	if _, err := ts.Load(t.Context()); !errors.Is(err, amojo.ErrNoToken) {
		t.Errorf("something was saved: %v", err)
	}
}

// A handle's first Save replaces the row; later ones write only over the
// pair it last loaded or saved (or the same pair again), else they fail
// with ErrTokenConflict and leave the row alone.
func TestTokenStoreSaveComparesAndSwaps(t *testing.T) {
	t.Parallel()
	s := open(t)
	const key = "acme/user-6101"
	h1, h2 := tokenStore(t, s, key), tokenStore(t, s, key)
	mustSave := func(h *pgstore.TokenStore, n string) {
		t.Helper()
		if err := h.Save(t.Context(), pair(n)); err != nil {
			t.Fatalf("Save %s: %v", n, err)
		}
	}
	conflicts := func(h *pgstore.TokenStore, n, stored string) {
		t.Helper()
		err := h.Save(t.Context(), pair(n))
		if !errors.Is(err, amojo.ErrTokenConflict) {
			t.Fatalf("Save %s = %v, want ErrTokenConflict", n, err)
		}
		if strings.Contains(err.Error(), "refresh-") || strings.Contains(err.Error(), "access-") {
			t.Errorf("error %q shows a token", err)
		}
		if got := mustLoad(t, tokenStore(t, s, key)); *got != *pair(stored) {
			t.Fatalf("the row holds %s after a refused save, want %s", got.RefreshToken, stored)
		}
	}
	mustSave(h1, "1")
	mustLoad(t, h2)
	mustSave(h1, "2") // over 1, which h1 saved
	conflicts(h2, "3", "2")
	mustSave(h2, "2") // the same pair again: a save whose answer was lost, repeated
	mustSave(h2, "3")
	mustSave(tokenStore(t, s, key), "grant") // a new authorization through a new handle
	conflicts(h1, "4", "grant")
	conflicts(h2, "4", "grant")

	// A handle that found no row writes only where there still is none.
	const other = "acme/user-2"
	h3 := tokenStore(t, s, other)
	if _, err := h3.Load(t.Context()); !errors.Is(err, amojo.ErrNoToken) {
		t.Fatal(err)
	}
	if err := tokenStore(t, s, other).Save(t.Context(), pair("x")); err != nil {
		t.Fatal(err)
	}
	if err := h3.Save(t.Context(), pair("y")); !errors.Is(err, amojo.ErrTokenConflict) {
		t.Errorf("Save over a row that appeared = %v, want ErrTokenConflict", err)
	}
}

// expectLockWait checks that ts.Lock does not get the lock within a short
// wait.
func expectLockWait(t *testing.T, ts *pgstore.TokenStore, who string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	unlock, err := ts.Lock(ctx)
	if err == nil {
		unlock()
		t.Fatalf("%s got the lock while it was held", who)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: Lock = %v, want DeadlineExceeded", who, err)
	}
}

// twoProcesses returns two handles on one key of a new database, through
// two stores (two pools), as two processes have them.
func twoProcesses(t *testing.T) (a, b *pgstore.TokenStore, sa *pgstore.Store) {
	t.Helper()
	dsn := pgtest.DSN(t)
	sa = openDSN(t, dsn)
	const key = "acme/user-6101"
	return tokenStore(t, sa, key), tokenStore(t, openDSN(t, dsn), key), sa
}

// lockLater takes ts's lock in a goroutine, releases it at once, and reports
// the outcome.
func lockLater(ctx context.Context, ts *pgstore.TokenStore) <-chan error {
	got := make(chan error, 1)
	go func() {
		unlock, err := ts.Lock(ctx)
		if err == nil {
			unlock()
		}
		got <- err
	}()
	return got
}

// Lock excludes every other holder, on another connection of the same pool
// as in another process (another pool), and unlock lets the next one in.
func TestTokenStoreLockExcludes(t *testing.T) {
	t.Parallel()
	a, b, sa := twoProcesses(t)
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock() // should the test fail first: unlock can be called again
	expectLockWait(t, a, "a second holder in the same process")
	expectLockWait(t, tokenStore(t, sa, a.Key()), "another handle in the same process")
	expectLockWait(t, b, "another process")
	got := lockLater(t.Context(), b)
	unlock()
	unlock() // a second call does nothing
	if err := <-got; err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
}

// withMaxConns returns dsn with a pool of at most n connections.
func withMaxConns(dsn string, n int) string {
	switch {
	case !strings.Contains(dsn, "://"):
		return fmt.Sprintf("%s pool_max_conns=%d", dsn, n)
	case strings.Contains(dsn, "?"):
		return fmt.Sprintf("%s&pool_max_conns=%d", dsn, n)
	default:
		return fmt.Sprintf("%s?pool_max_conns=%d", dsn, n)
	}
}

// A wait for the lock leaves the pool's connections to other work between
// its tries, and unlock gives the holder's connection back: a pool of two
// connections serves lock, save, load, unlock again and again. A pool of one
// is refused: the holder would wait for itself.
func TestTokenStoreLockOnASmallPool(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	const key = "acme/user-6101"
	var ve *amojo.ValidationError
	if _, err := openDSN(t, withMaxConns(dsn, 1)).TokenStore(key); !errors.As(err, &ve) || ve.Field != "pool" {
		t.Errorf("TokenStore on a pool of one connection = %v", err)
	}
	two := openDSN(t, withMaxConns(dsn, 2))
	unlock, err := tokenStore(t, openDSN(t, dsn), key).Lock(t.Context()) // another process holds the lock
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancelLoad := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelLoad()
	busy, err := two.Pool().Acquire(ctx) // one of the two is busy elsewhere
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Release()
	waiting, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := lockLater(waiting, tokenStore(t, two, key))
	// Loads for a while, over many of the waiter's tries.
	for until := time.Now().Add(200 * time.Millisecond); time.Now().Before(until); {
		if _, err := tokenStore(t, two, "acme/user-2").Load(ctx); !errors.Is(err, amojo.ErrNoToken) {
			t.Fatalf("Load beside a wait for the lock, on the pool's last connection: %v", err)
		}
	}
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Errorf("the wait ended with %v", err)
	}
	busy.Release()
	unlock()
	a := tokenStore(t, two, key)
	for i := range 5 {
		unlock, err := a.Lock(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		defer unlock()
		if err := a.Save(ctx, pair(fmt.Sprint(i))); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if got := mustLoad(t, a); *got != *pair(fmt.Sprint(i)) {
			t.Fatalf("round %d: loaded %v", i, got)
		}
		unlock()
	}
}

// A wait for the lock ends as soon as its context does.
func TestTokenStoreLockHonoursContext(t *testing.T) {
	t.Parallel()
	s := open(t)
	a, b := tokenStore(t, s, "acme/user-6101"), tokenStore(t, s, "acme/user-6101")
	unlock, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Lock(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := lockLater(ctx, b)
	expectLockWait(t, b, "b") // the waiter above has had time to start waiting
	cancelled := time.Now()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Errorf("Lock after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(cancelled); d > time.Second {
		t.Errorf("the wait ended %v after its context", d)
	}
}

// holderPID returns the server process holding the database's token lock,
// checking it is a two-key advisory lock of class "amot".
func holderPID(t *testing.T, s *pgstore.Store) int {
	t.Helper()
	var pid int
	var class int64
	err := s.Pool().QueryRow(t.Context(), `
SELECT pid, classid::bigint FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid, &class)
	if err != nil {
		t.Fatalf("the lock holder: %v", err)
	}
	if class != 0x616d6f74 {
		t.Errorf("lock class %#x", class)
	}
	return pid
}

// A lock whose connection dies is released; the holder does not know it,
// and its Save then refuses to overwrite the pair the next holder saved.
func TestTokenStoreLockEndsWithItsConnection(t *testing.T) {
	t.Parallel()
	a, b, sa := twoProcesses(t)
	if err := a.Save(t.Context(), pair("1")); err != nil {
		t.Fatal(err)
	}
	unlockA, err := a.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	mustLoad(t, a)
	var ok bool
	if err := sa.Pool().QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, holderPID(t, sa)).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the holder: %v %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	unlockB, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("Lock after the holder's connection died: %v", err)
	}
	defer unlockB()
	if got := mustLoad(t, b); got.RefreshToken != "refresh-1" {
		t.Fatalf("b loaded %v", got)
	}
	if err := b.Save(t.Context(), pair("2")); err != nil {
		t.Fatal(err)
	}
	unlockB()
	if err := a.Save(t.Context(), pair("2a")); !errors.Is(err, amojo.ErrTokenConflict) {
		t.Errorf("Save after the lock was lost = %v, want ErrTokenConflict", err)
	}
	unlockA() // its transaction is gone: returns without effect
	// a's pool works on, and the row holds b's pair.
	if got := mustLoad(t, a); *got != *pair("2") {
		t.Errorf("the row holds %v, want the pair saved under the lock", got)
	}
}

// Two OAuthTokenSources in two processes (two pools, a handle each) that
// find the pair expired at once make one refresh: the second waits for the
// lock, loads the pair the first saved and uses it.
func TestTokenStoreServesTokenSources(t *testing.T) {
	t.Parallel()
	clock := inboxtest.NewClock()
	srv := amojotest.NewServer(amojotest.WithClock(clock.Now))
	defer srv.Close()
	cfg := srv.OAuthConfig()
	opts := []amojo.Option{amojo.WithHTTPClient(srv.HTTPClient()), amojo.WithClock(clock.Now)}
	code, err := srv.AuthorizationCode("")
	if err != nil {
		t.Fatal(err)
	}
	first, err := cfg.Exchange(t.Context(), srv.CRMURL, code, opts...)
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	const key = "acme/user-6101"
	if err := tokenStore(t, openDSN(t, dsn), key).Save(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	var sources []*amojo.OAuthTokenSource
	for range 2 {
		src, err := amojo.NewOAuthTokenSource(cfg, tokenStore(t, openDSN(t, dsn), key), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if tok, err := src.Token(t.Context()); err != nil || tok != first.AccessToken {
			t.Fatalf("Token = %v, want the first pair's", err)
		}
		sources = append(sources, src)
	}
	clock.Advance(first.Expiry.Sub(clock.Now()) + time.Second)
	got := make([]string, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Go(func() {
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Errorf("source %d: %v", i, err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	st := srv.OAuthStats()
	if st.Refreshes != 1 || st.Reused != 0 || st.Refused != 0 {
		t.Errorf("stats %+v, want one refresh", st)
	}
	stored := mustLoad(t, tokenStore(t, openDSN(t, dsn), key))
	if stored.RefreshToken != st.RefreshToken || got[0] != stored.AccessToken || got[1] != stored.AccessToken {
		t.Error("the sources do not both use the pair in the row, or the row does not hold the newest")
	}
}

// No token appears in a formatted TokenStore (every fmt verb, by value and
// by pointer), its slog and JSON forms, or the store's errors.
func TestTokenStoreNothingSecretIsPrinted(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn)
	ts := tokenStore(t, s, "acme/user-6101")
	tok := &amojo.OAuthToken{AccountURL: "https://acme.amocrm.ru", AccessToken: "access-secret-value", RefreshToken: "refresh-secret-value", Expiry: time.Now()}
	if err := ts.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, ts) // the handle now holds the refresh token for its next Save
	secrets := []string{tok.AccessToken, tok.RefreshToken, "newer-secret-value"}
	check := func(what, out string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("%s shows a token: %s", what, out)
			}
		}
		if !strings.Contains(out, "acme/user-6101") && !strings.HasPrefix(what, "error") && !strings.HasSuffix(what, "%T") && !strings.HasSuffix(what, "%10.3v") {
			t.Errorf("%s does not show the key: %s", what, out)
		}
	}
	for name, v := range map[string]any{"*TokenStore": ts, "TokenStore": *ts} {
		for form, out := range oauthtest.Forms(t, v) {
			check(name+" "+form, out)
		}
	}

	var errs []error
	if err := tokenStore(t, s, "acme/user-6101").Save(t.Context(), pair("other")); err != nil { // another process saves
		t.Fatal(err)
	}
	newer := *tok
	newer.RefreshToken = "newer-secret-value"
	errs = append(errs, ts.Save(t.Context(), &newer)) // conflict
	bad := newer
	bad.AccessToken = "access-secret-value \x01"
	errs = append(errs, ts.Save(t.Context(), &bad))
	s.Close()
	_, err := ts.Load(t.Context())
	errs = append(errs, err, ts.Save(t.Context(), &newer))
	_, err = ts.Lock(t.Context())
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d is nil", i)
			continue
		}
		for form, out := range oauthtest.Forms(t, err) {
			check(fmt.Sprintf("error %d %s", i, form), out)
		}
	}
}
