package amojo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
)

func TestMemoryInboxConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) amojo.Inbox {
		in, err := amojo.NewMemoryInbox(amojo.WithInboxClock(now))
		if err != nil {
			t.Fatal(err)
		}
		return in
	})
}

func TestFileInboxConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) amojo.Inbox {
		in, err := amojo.NewFileInbox(filepath.Join(t.TempDir(), "inbox.jsonl"), amojo.WithInboxClock(now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		return in
	})
}

// TestFileInboxConformanceShared runs the suite on an inbox whose every
// operation goes through a second FileInbox of the same file, as another
// process would, so that each state is read back from the file.
func TestFileInboxConformanceShared(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) amojo.Inbox {
		path := filepath.Join(t.TempDir(), "inbox.jsonl")
		var ins [2]*amojo.FileInbox
		for i := range ins {
			in, err := amojo.NewFileInbox(path, amojo.WithInboxClock(now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Close() })
			ins[i] = in
		}
		return &alternating{ins: ins}
	})
}
