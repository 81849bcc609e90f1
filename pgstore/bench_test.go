package pgstore_test

import (
	"testing"

	"github.com/amojo-go/amojo"
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

// The WebhookAccept benchmarks measure the webhooks a WebhookHandler with the
// PostgreSQL inbox accepts per second, end to end through ServeHTTP, each
// committed before the 200, while the delivery runs (see package amojo's
// benchmarks of the same name for the queue and the file inbox).
//
//	go test -run '^$' -bench 'WebhookAccept' -benchtime 2000x . ./pgstore

func BenchmarkWebhookAcceptSerial(b *testing.B) {
	inboxtest.BenchAccept(b, false, amojo.WithWebhookInbox(open(b).Inbox()))
}

func BenchmarkWebhookAcceptParallel(b *testing.B) {
	inboxtest.BenchAccept(b, true, amojo.WithWebhookInbox(open(b).Inbox()))
}
