package multiprocess_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/internal/testscale"
	"github.com/amojo-go/amojo/pgstore"
)

// envReceiverDSN makes the test binary a webhook receiver process
// (inboxtest.ServeReceiver) with the inbox of that database, recording each
// event it handles in the table test_handled.
const envReceiverDSN = "AMOJO_PGSTORE_RECEIVER_DSN"

// handledTable counts, under a unique id, each time a callback handled an
// event.
const handledTable = `CREATE TABLE test_handled (id text PRIMARY KEY, n integer NOT NULL)`

func receiverChild() int {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv(envReceiverDSN))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	return inboxtest.ServeReceiver(s.Inbox(), func(ctx context.Context, id string) error {
		_, err := s.Pool().Exec(ctx, `
INSERT INTO test_handled (id, n) VALUES ($1, 1)
ON CONFLICT (id) DO UPDATE SET n = test_handled.n + 1`, id)
		return err
	})
}

// handledDB returns a migrated database with the table test_handled, and
// what that table counts.
func handledDB(t *testing.T) (string, inboxtest.Counts) {
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn)
	if _, err := s.Pool().Exec(t.Context(), handledTable); err != nil {
		t.Fatal(err)
	}
	return dsn, func(t *testing.T) map[string]int {
		rows, err := s.Pool().Query(t.Context(), `SELECT id, n FROM test_handled`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			got[id] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
}

// TestWebhookInboxSurvivesSIGKILL: a receiver process with the PostgreSQL
// inbox is killed after its 200s and before its callbacks completed;
// restarted on the same database, it delivers every event once.
func TestWebhookInboxSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dsn, counts := handledDB(t)
	inboxtest.RunKillAfterAnswer(t, counts, envReceiverDSN+"="+dsn)
}

// TestWebhookInboxThreeReceivers: three receiver processes share one
// PostgreSQL inbox under 5000 signed webhooks posted to them at once: each
// is answered 200 and handled exactly once.
func TestWebhookInboxThreeReceivers(t *testing.T) {
	t.Parallel()
	dsn, counts := handledDB(t)
	inboxtest.RunFlood(t, testscale.Size(t, 5000, 200), counts, envReceiverDSN+"="+dsn)
}
