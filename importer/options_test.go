package importer

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/optionscan"
)

// sharedOptions returns one value of every exported Option constructor of
// the package, keyed by its name, for an importer of channel "ch".
func sharedOptions(cp Checkpoint, logger *slog.Logger, progress func(Progress)) map[string]Option {
	return map[string]Option{
		"WithAccountID":        WithAccountID("acc"),
		"WithScopeID":          WithScopeID("ch_acc"),
		"WithChannelTitle":     WithChannelTitle("Import"),
		"WithBotRefID":         WithBotRefID("bot-1"),
		"WithCheckpoint":       WithCheckpoint(cp),
		"WithConcurrency":      WithConcurrency(3),
		"WithChunkSize":        WithChunkSize(20),
		"WithLookahead":        WithLookahead(7),
		"WithNotifyNewest":     WithNotifyNewest(true),
		"WithRecreateContacts": WithRecreateContacts(true),
		"WithVerify":           WithVerify(false),
		"WithVerifyWait":       WithVerifyWait(time.Second),
		"WithProgress":         WithProgress(progress),
		"WithLogger":           WithLogger(logger),
	}
}

// TestOptionsAreSafeToShare applies one value of every option from many
// goroutines at once: an option that changes what it captured races (run
// with -race) or gives later importers other settings than the first.
func TestOptionsAreSafeToShare(t *testing.T) {
	t.Parallel()
	chats, err := amojo.NewClient("ch", "secret")
	require.NoError(t, err)
	cp := NewMemoryCheckpoint()
	logger := slog.New(slog.DiscardHandler)
	progress := func(Progress) {}
	var opts, fresh []Option
	for name, o := range sharedOptions(cp, logger, progress) {
		opts = append(opts, o)
		fresh = append(fresh, sharedOptions(cp, logger, progress)[name])
	}
	const goroutines = 16
	start := make(chan struct{})
	ims := make([]*Importer, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			<-start
			ims[i], errs[i] = New(chats, nil, opts...)
		})
	}
	close(start)
	wg.Wait()
	// Options never applied before give the same settings.
	first, err := New(chats, nil, fresh...)
	require.NoError(t, err)
	want := settings(first.cfg)
	assert.Equal(t, importConfig{accountID: "acc", scopeID: "ch_acc", title: "Import", botRefID: "bot-1", concurrency: 3, chunk: 20,
		lookahead: 7, notifyNewest: true, recreate: true, verify: false, verifyWait: time.Second}, want)
	for i, im := range ims {
		require.NoError(t, errs[i])
		assert.Equal(t, want, settings(im.cfg))
		assert.Same(t, cp, im.cfg.checkpoint)
		assert.Same(t, logger, im.cfg.logger)
		assert.NotNil(t, im.cfg.progress)
	}
}

// settings returns cfg without the values compared by identity (the
// checkpoint, the logger, the progress function).
func settings(cfg importConfig) importConfig {
	cfg.checkpoint, cfg.logger, cfg.progress = nil, nil, nil
	return cfg
}

// TestSharedOptionsCoverEveryOption keeps sharedOptions complete: it lists
// the package's exported functions that return an Option.
func TestSharedOptionsCoverEveryOption(t *testing.T) {
	t.Parallel()
	constructors, err := optionscan.Constructors(".", "Option")
	require.NoError(t, err)
	var listed []string
	for name := range sharedOptions(nil, nil, nil) {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	assert.Equal(t, constructors, listed, "add every Option constructor to sharedOptions")
}
