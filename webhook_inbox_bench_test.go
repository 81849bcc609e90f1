package amojo_test

import (
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
)

// The WebhookAccept benchmarks measure the webhooks a WebhookHandler accepts
// per second, end to end through ServeHTTP (verify, parse, dedup, hand off)
// while its workers handle them: with the asynchronous queue in memory, and
// with the inbox in memory and in a file (each Append written and synced
// before the 200). pgstore has the same benchmarks for PostgreSQL.
//
//	go test -run '^$' -bench 'WebhookAccept' -benchtime 2000x . ./pgstore

func BenchmarkWebhookAcceptSerial(b *testing.B) {
	benchWebhookAccept(b, false)
}

func BenchmarkWebhookAcceptParallel(b *testing.B) {
	benchWebhookAccept(b, true)
}

func benchWebhookAccept(b *testing.B, parallel bool) {
	b.Run("queue", func(b *testing.B) {
		inboxtest.BenchAccept(b, parallel, amojo.WithWebhookAsync(b.N, amojo.DefaultDeliveryWorkers))
	})
	b.Run("memory-inbox", func(b *testing.B) {
		in, err := amojo.NewMemoryInbox()
		if err != nil {
			b.Fatal(err)
		}
		inboxtest.BenchAccept(b, parallel, amojo.WithWebhookInbox(in))
	})
	b.Run("file-inbox", func(b *testing.B) {
		inboxtest.BenchAccept(b, parallel, amojo.WithWebhookInbox(benchFileInbox(b)))
	})
}
