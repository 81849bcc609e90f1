package amojo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amojo-go/amojo/internal/filelock"
)

// maxTokenFile bounds the size of a token file read.
const maxTokenFile = 64 << 10

// FileTokenStore is a TokenStore in one JSON file, shared safely by every
// process on the machine that opens the same path:
//
//   - Save writes a temporary file beside it (mode 0600), fsyncs it, renames
//     it over the path and fsyncs the directory, so a reader or a crash sees
//     the old pair or the new one, never a mix;
//   - Lock takes an flock on PATH.lock (created beside it, mode 0600) and
//     waits for other holders, so OAuthTokenSources in several processes
//     refresh one at a time and each reloads what the previous one saved.
//
// The file holds
//
//	{"version":1,"account_url":"https://acme.amocrm.ru","access_token":"…","refresh_token":"…","expiry":"2026-01-02T15:04:05Z"}
//
// and must be kept as secret as the client secret. Use one file per token
// pair (per account and granting user). On systems without flock (not
// unix), Lock excludes only the holders in this process. Its String,
// Format, LogValue and JSON forms show the path only.
type FileTokenStore struct {
	path string
	// sem makes Lock exclusive within the process on every system; on
	// unix flock then excludes the other processes.
	sem chan struct{}
}

// NewFileTokenStore returns a store for the token file at path, which need
// not exist yet; its directory must.
func NewFileTokenStore(path string) (*FileTokenStore, error) {
	if strings.TrimSpace(path) == "" {
		return nil, invalid("path", "empty")
	}
	path = filepath.Clean(path)
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("amojo: token file %s: no directory %s", path, filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("amojo: token file %s is a directory", path)
	}
	return &FileTokenStore{path: path, sem: make(chan struct{}, 1)}, nil
}

// Path returns the token file's path.
func (s *FileTokenStore) Path() string { return s.path }

// tokenFile is the JSON form of the file.
type tokenFile struct {
	Version      int       `json:"version"`
	AccountURL   string    `json:"account_url"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// Load reads the token file. A missing or empty file gives an error
// matching ErrNoToken.
func (s *FileTokenStore) Load(context.Context) (*OAuthToken, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no token file %s)", ErrNoToken, s.path)
	}
	if err != nil {
		return nil, fmt.Errorf("amojo: token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("amojo: token file: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("%w (token file %s is empty)", ErrNoToken, s.path)
	}
	tok, err := decodeTokenFile(b)
	if err != nil {
		return nil, fmt.Errorf("amojo: token file %s: %w", s.path, err)
	}
	return tok, nil
}

// decodeTokenFile reads the file's content; its errors never quote it.
func decodeTokenFile(b []byte) (*OAuthToken, error) {
	if len(b) > maxTokenFile {
		return nil, errors.New("larger than a token file")
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return nil, errors.New("not a token file (invalid JSON)")
	}
	if tf.Version != 1 {
		return nil, fmt.Errorf("unknown version %d", tf.Version)
	}
	tok := &OAuthToken{AccountURL: tf.AccountURL, AccessToken: tf.AccessToken, RefreshToken: tf.RefreshToken, Expiry: tf.Expiry}
	if err := checkToken(tok); err != nil {
		return nil, err
	}
	return tok, nil
}

// checkToken reports a token a store cannot keep or a source cannot use.
func checkToken(tok *OAuthToken) error {
	if tok == nil {
		return invalid("OAuthToken", "nil")
	}
	if _, err := parseAccountURL("OAuthToken.AccountURL", tok.AccountURL, func(string) bool { return true }); err != nil {
		return err
	}
	if err := checkCredential("OAuthToken.AccessToken", tok.AccessToken); err != nil {
		return err
	}
	if err := checkCredential("OAuthToken.RefreshToken", tok.RefreshToken); err != nil {
		return err
	}
	if tok.Expiry.IsZero() {
		return invalid("OAuthToken.Expiry", "zero")
	}
	return nil
}

// Save replaces the token file atomically and durably (see FileTokenStore).
func (s *FileTokenStore) Save(_ context.Context, tok *OAuthToken) error {
	if err := checkToken(tok); err != nil {
		return err
	}
	b, err := json.Marshal(tokenFile{Version: 1, AccountURL: tok.AccountURL, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry.UTC()})
	if err != nil {
		return fmt.Errorf("amojo: token file %s: %w", s.path, err)
	}
	if err := writeFileAtomic(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("amojo: token file %s: save: %w", s.path, err)
	}
	return nil
}

// writeFileAtomic writes data to a new file (mode 0600) beside path, syncs
// it, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where directories sync
		d.Close()
	}
	return nil
}

// lockPoll bounds the wait between two tries of a lock another process
// holds.
const lockPoll = 20 * time.Millisecond

// Lock takes the store's exclusive lock (see TokenLocker): an flock on
// PATH.lock, held until unlock. It waits for other holders until ctx is
// done.
func (s *FileTokenStore) Lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("amojo: token file %s: lock: %w", s.path, ctx.Err())
	}
	release := func() { <-s.sem }
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("amojo: token file: lock: %w", err)
	}
	wait := time.Millisecond
	for {
		err := filelock.Lock(f)
		if err == nil {
			return func() { f.Close(); release() }, nil
		}
		if !errors.Is(err, filelock.ErrLocked) {
			f.Close()
			release()
			return nil, fmt.Errorf("amojo: token file %s: lock: %w", s.path, err)
		}
		if !sleepCtx(ctx.Done(), wait) {
			f.Close()
			release()
			return nil, fmt.Errorf("amojo: token file %s: lock: %w", s.path, ctx.Err())
		}
		wait = min(2*wait, lockPoll)
	}
}

// String describes the store by its path.
func (s FileTokenStore) String() string { return "amojo.FileTokenStore{path: " + s.path + "}" }

// Format prints String for every verb, by value and by pointer.
func (s FileTokenStore) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }

// LogValue describes the store to log/slog by its path.
func (s FileTokenStore) LogValue() slog.Value { return slog.GroupValue(slog.String("path", s.path)) }

// MarshalJSON writes the path only.
func (s FileTokenStore) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path string `json:"path"`
	}{s.path})
}
