package pgstore

import (
	"errors"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/pgtest"
)

// A database an earlier release migrated (version 1: the inbox) migrates to
// the current version, keeping its rows, and then holds token pairs.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.migrate(ctx, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != 1 {
		t.Fatalf("Version = %d, %v; want 1", v, err)
	}
	ev := amojo.InboxEvent{ID: "ev-1", ScopeID: "scope", Body: []byte(`{}`), Signature: "sig", ReceivedAt: time.Now()}
	if _, err := s.Inbox().Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != SchemaVersion() || v < 2 {
		t.Fatalf("Version = %d, %v; want %d", v, err, SchemaVersion())
	}
	if added, err := s.Inbox().Append(ctx, ev); err != nil || added {
		t.Errorf("the inbox lost its row: Append again = %v, %v", added, err)
	}
	ts, err := s.TokenStore("acme/user-6101")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Load(ctx); !errors.Is(err, amojo.ErrNoToken) {
		t.Fatalf("Load = %v", err)
	}
	tok := &amojo.OAuthToken{AccountURL: "https://acme.amocrm.ru", AccessToken: "a", RefreshToken: "r", Expiry: time.Now()}
	if err := ts.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
}
