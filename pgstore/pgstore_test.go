package pgstore_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open returns a migrated store on a new database.
func open(t testing.TB, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	return openDSN(t, pgtest.DSN(t), opts...)
}

func openDSN(t testing.TB, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := pgstore.Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Version(ctx); err != nil || v != pgstore.SchemaVersion() {
		t.Fatalf("Version = %d, %v; want %d", v, err, pgstore.SchemaVersion())
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM amojo_schema_version`).Scan(&rows); err != nil || rows != pgstore.SchemaVersion() {
		t.Fatalf("%d version rows (%v), want one per version", rows, err)
	}
	// A newer release migrated: this one leaves the schema alone.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO amojo_schema_version (version, description) VALUES (1000, 'future')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a newer schema: %v", err)
	}
	if v, _ := s.Version(ctx); v != 1000 {
		t.Errorf("Version = %d, want 1000", v)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	const n = 5
	stores := make([]*pgstore.Store, n)
	for i := range stores {
		s, err := pgstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	var rows int
	if err := stores[0].Pool().QueryRow(t.Context(), `SELECT count(*) FROM amojo_schema_version`).Scan(&rows); err != nil || rows != pgstore.SchemaVersion() {
		t.Fatalf("%d version rows (%v) after concurrent migrations, want %d", rows, err, pgstore.SchemaVersion())
	}
}

func TestOpenRefusesBadInput(t *testing.T) {
	t.Parallel()
	if _, err := pgstore.Open(t.Context(), ""); err == nil {
		t.Error("Open(\"\") did not fail")
	}
	_, err := pgstore.Open(t.Context(), "postgres://u:s3cret@127.0.0.1:1/db?sslmode=bogus")
	if err == nil {
		t.Fatal("Open of a bad DSN did not fail")
	}
	if s := err.Error(); strings.Contains(s, "s3cret") {
		t.Errorf("error %q shows the password", s)
	}
	if _, err := pgstore.New(nil); err == nil {
		t.Error("New(nil) did not fail")
	}
	if _, err := pgstore.New(nil, pgstore.WithRetention(0)); err == nil {
		t.Error("WithRetention(0) accepted")
	}
}
