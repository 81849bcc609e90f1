package pgstore_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/importer"
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

// BenchmarkCheckpointRecordMsgID records the n-th msgid of one conversation,
// as the importer does after each message: one statement, committed (and,
// with the default synchronous_commit, flushed to disk) before it returns.
// The cost must not grow with n. Run with a fixed count so that n stays n:
//
//	go test -run '^$' -bench 'CheckpointRecord' -benchtime 2000x ./pgstore
func BenchmarkCheckpointRecordMsgID(b *testing.B) {
	for _, n := range []int{1_000, 50_000} {
		b.Run("msgs="+strconv.Itoa(n), func(b *testing.B) {
			s := open(b)
			seedMsgIDs(b, s, "bench", "c", n-1)
			cp := s.Checkpoint("bench")
			i := n
			for b.Loop() {
				if err := cp.Record(b.Context(), "c", importer.CheckpointEntry{MsgID: fmt.Sprintf("m-%08d", i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkCheckpointLoad loads a conversation of n msgids, as the importer
// does once per conversation; ns/msgid is the cost of one.
//
//	go test -run '^$' -bench 'CheckpointLoad' -benchtime 20x ./pgstore
func BenchmarkCheckpointLoad(b *testing.B) {
	for _, n := range []int{1_000, 50_000} {
		b.Run("msgs="+strconv.Itoa(n), func(b *testing.B) {
			s := open(b)
			seedMsgIDs(b, s, "bench", "c", n)
			cp := s.Checkpoint("bench")
			for b.Loop() {
				if st, err := cp.Load(b.Context(), "c"); err != nil || len(st.Sent) != n {
					b.Fatalf("%d msgids, %v", len(st.Sent), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/msgid")
		})
	}
}
