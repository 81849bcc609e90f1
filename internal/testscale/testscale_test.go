package testscale

import (
	"sync"
	"testing"
)

func TestSizeIsFullInTheFirstRunThenRepeat(t *testing.T) {
	var runs sync.Map
	for range 2 { // one run asks twice: the same answer
		if got := size(&runs, t, 5000, 500); got != 5000 {
			t.Errorf("size in the first run = %d, want 5000", got)
		}
	}
	t.Run("again", func(t *testing.T) {
		if got := size(&runs, t, 5000, 500); got != 5000 {
			t.Errorf("size of another test = %d, want 5000", got)
		}
	})
	// A later run of the same test (what -count makes) has the same name.
	repeat := &namedTB{TB: t, name: t.Name()}
	if got := size(&runs, repeat, 5000, 500); got != 500 {
		t.Errorf("size in a repeat = %d, want 500", got)
	}
}

// namedTB is another run of a test: another value, the same name.
type namedTB struct {
	testing.TB
	name string
}

func (n *namedTB) Name() string { return n.name }
