// Package pgtest gives tests a real PostgreSQL database.
//
// A test calls DSN(t) and gets a connection string to a new, empty database
// that is dropped when the test ends. The server is, in this order:
//
//   - the one named by AMOJO_TEST_POSTGRES_DSN (a role that may create
//     databases; CI starts a throwaway cluster and sets it), or
//   - a throwaway cluster this package starts itself (initdb in a temporary
//     directory, pg_ctl on a unix socket there) when the PostgreSQL server
//     binaries are installed: on PATH, under /usr/lib/postgresql/*/bin, or in
//     AMOJO_TEST_POSTGRES_BIN. A package whose tests use DSN runs them through
//     Main, which stops that cluster when they are done. For tests it runs
//     without flushing commits to disk (fsync off: the tests kill
//     processes, never the machine); for benchmarks (-test.bench) with the
//     flush, as production has it.
//
// When neither is available the test is skipped with a message saying so,
// unless AMOJO_TEST_POSTGRES_REQUIRED is set (as in CI), when it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by the package.
const (
	EnvDSN      = "AMOJO_TEST_POSTGRES_DSN"
	EnvBin      = "AMOJO_TEST_POSTGRES_BIN"
	EnvRequired = "AMOJO_TEST_POSTGRES_REQUIRED"
)

var (
	mu      sync.Mutex
	started *cluster // the cluster Main may have to stop
	baseDSN string
	whyNot  string // why no server is available, once found out
)

// Main runs m and stops the cluster that DSN started, if any. Use it from
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	c := started
	started = nil
	mu.Unlock()
	if c != nil {
		c.stop()
	}
	if whyNot != "" && code == 0 {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL tests were SKIPPED: %s\n", whyNot)
	}
	return code
}

// Server returns the connection string of the server the tests use (its
// maintenance database), starting a cluster on first use. It skips t, or
// fails it when AMOJO_TEST_POSTGRES_REQUIRED is set, when there is none.
func Server(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if baseDSN == "" && whyNot == "" {
		baseDSN, whyNot = findServer()
	}
	if baseDSN == "" {
		msg := "PostgreSQL is not available (" + whyNot + "); install the postgresql server package or set " + EnvDSN
		if os.Getenv(EnvRequired) != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return baseDSN
}

func findServer() (dsn, whyNot string) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, ""
	}
	bin, err := findBinaries()
	if err != nil {
		return "", err.Error()
	}
	c, err := startCluster(bin)
	if err != nil {
		return "", "starting a cluster with " + bin + ": " + err.Error()
	}
	started = c
	return c.dsn, ""
}

// DSN returns a connection string to a new empty database, dropped (with
// every connection to it) when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := Server(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "amojo_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

// withDatabase returns dsn with its database replaced by name. dsn is a
// postgres:// URL or a keyword/value string.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	// In a keyword/value string a later keyword wins.
	return dsn + " dbname=" + name
}

// redact drops a password from a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
			return u.String()
		}
	}
	if strings.Contains(dsn, "password") {
		return "(a connection string with a password)"
	}
	return dsn
}
