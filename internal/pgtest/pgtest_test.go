package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestDSNGivesAnEmptyDatabaseOfItsOwn(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two tests share %q", a)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d tables in a new database, want the 1 just created", n)
	}
	other, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the second database sees %d tables of the first", n)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"host=/tmp/x port=5432 dbname=postgres":      "host=/tmp/x port=5432 dbname=postgres dbname=d",
		"postgres://u:p@127.0.0.1:5432/postgres?x=1": "postgres://u:p@127.0.0.1:5432/d?x=1",
		"postgresql://127.0.0.1/postgres":            "postgresql://127.0.0.1/d",
	} {
		if got := withDatabase(in, "d"); got != want {
			t.Errorf("withDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}
