// Package testscale sizes the few tests that check a property at scale: a
// flood of webhooks on three processes, an import killed again and again,
// a stream of 50 000 conversations.
//
// The first run of such a test in a test process has its full size. A
// repeat in the same process, as go test -count=N makes, has a smaller one:
// it goes through the same code paths, looking for what flakes, while
// twenty repeats under -race stay within go test's ten-minute limit for a
// package's test binary. A plain go test ./... (count 1, as in CI) always
// runs the full size.
package testscale

import (
	"sync"
	"testing"
)

// process maps the name of each test that asked in this process to the
// run of it that asked first.
var process sync.Map

// Size returns full in the first run of the test t (by name) in this
// process, and repeat in every later run, saying so in the test's log.
// Every call in one run answers alike.
func Size[T any](t testing.TB, full, repeat T) T {
	t.Helper()
	return size(&process, t, full, repeat)
}

func size[T any](runs *sync.Map, t testing.TB, full, repeat T) T {
	t.Helper()
	if first, _ := runs.LoadOrStore(t.Name(), t); first != t {
		t.Logf("a repeat of %s in this process (-count): size %v instead of %v", t.Name(), repeat, full)
		return repeat
	}
	return full
}
