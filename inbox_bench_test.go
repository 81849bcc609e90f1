package amojo_test

import (
	"path/filepath"
	"testing"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
)

// The Append benchmarks measure what bounds the webhooks a FileInbox accepts
// per second: each Append is written and synced to disk before it returns.
// Serial is one request at a time; Parallel is many at once, sharing writes
// and fsyncs.
//
//	go test -run '^$' -bench 'FileInboxAppend' -benchtime 2000x .

func BenchmarkFileInboxAppendSerial(b *testing.B) {
	inboxtest.BenchAppend(b, benchFileInbox(b), false)
}

func BenchmarkFileInboxAppendParallel(b *testing.B) {
	inboxtest.BenchAppend(b, benchFileInbox(b), true)
}

func benchFileInbox(b *testing.B) *amojo.FileInbox {
	in, err := amojo.NewFileInbox(filepath.Join(b.TempDir(), "inbox.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close() })
	return in
}
