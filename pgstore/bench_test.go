package pgstore_test

import (
	"testing"

	"github.com/amojo-go/amojo/internal/inboxtest"
)

// The Append benchmarks measure what bounds the webhooks accepted per second
// with the inbox in PostgreSQL: each Append is an INSERT committed (and, with
// the default synchronous_commit, flushed to disk) before it returns. Serial
// is one request at a time; Parallel is many at once over the pool.
//
//	go test -run '^$' -bench 'InboxAppend' -benchtime 2000x ./pgstore

func BenchmarkInboxAppendSerial(b *testing.B) {
	inboxtest.BenchAppend(b, open(b).Inbox(), false)
}

func BenchmarkInboxAppendParallel(b *testing.B) {
	inboxtest.BenchAppend(b, open(b).Inbox(), true)
}
