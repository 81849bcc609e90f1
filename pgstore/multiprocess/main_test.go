// Package multiprocess_test runs pgstore across processes that share one
// PostgreSQL database: three webhook receivers under a flood, three
// delivering processes, three processes refreshing one OAuth token, an
// import split over two processes one of which is killed again and again,
// and receivers killed between the 200 and the callback. Each process is
// this test binary started again; TestMain makes it the process the
// environment asks for. These tests have a package of their own because
// they take most of the time of pgstore's tests.
package multiprocess_test

import (
	"context"
	"os"
	"testing"

	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/pgstore"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChildDSN) != "" {
		os.Exit(deliverChild())
	}
	if os.Getenv(envReceiverDSN) != "" {
		os.Exit(receiverChild())
	}
	if os.Getenv(envClaimChildDSN) != "" {
		os.Exit(claimChild())
	}
	if os.Getenv(envImportChild) != "" {
		os.Exit(importChild())
	}
	os.Exit(pgtest.Main(m))
}

// openDSN returns a migrated store on the database of dsn, closed when t
// ends.
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

// claimRows counts the claims held in s's database.
func claimRows(t *testing.T, s *pgstore.Store) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM amojo_checkpoint_claims`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
