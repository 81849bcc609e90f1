package amojo

import (
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amojo-go/amojo/internal/optionscan"
)

// sharedOptions returns one value of every exported Option constructor of
// the package, keyed by its name.
func sharedOptions() map[string]Option {
	return map[string]Option{
		"WithBaseURL":       WithBaseURL("https://amojo.example/prefix/"),
		"WithHTTPClient":    WithHTTPClient(&http.Client{}),
		"WithClock":         WithClock(time.Now),
		"WithRetry":         WithRetry(RetryPolicy{MaxAttempts: 3}), // zero durations: the option fills them in
		"WithRateLimit":     WithRateLimit(5, 2),
		"WithLogger":        WithLogger(slog.New(slog.DiscardHandler)),
		"WithUserAgent":     WithUserAgent("test-agent/1"),
		"WithInsecureHTTP":  WithInsecureHTTP(),
		"WithRefreshMargin": WithRefreshMargin(time.Minute),
		"WithAccountHosts":  WithAccountHosts(func(string) bool { return true }),
	}
}

// TestOptionsAreSafeToShare applies one value of every option from many
// goroutines at once: an option that changes what it captured races (run
// with -race) or gives later clients other settings than the first.
func TestOptionsAreSafeToShare(t *testing.T) {
	t.Parallel()
	var opts, fresh []Option
	for name, o := range sharedOptions() {
		opts = append(opts, o)
		fresh = append(fresh, sharedOptions()[name])
	}
	const goroutines = 16
	start := make(chan struct{})
	clients := make([]*Client, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			<-start
			clients[i], errs[i] = NewClient("ch", "secret", opts...)
			if errs[i] == nil {
				_, errs[i] = NewCRMClient("https://example.amocrm.example", StaticToken("t"), opts...)
			}
		})
	}
	close(start)
	wg.Wait()
	// Options never applied before give the same settings.
	first, err := NewClient("ch", "secret", fresh...)
	require.NoError(t, err)
	for i, c := range clients {
		require.NoError(t, errs[i])
		assert.Equal(t, first.r.o.retry, c.r.o.retry)
		assert.Equal(t, first.BaseURL(), c.BaseURL())
		assert.Equal(t, first.r.o.userAgent, c.r.o.userAgent)
	}
}

// TestSharedOptionsCoverEveryOption keeps sharedOptions complete: it lists
// the package's exported functions that return an Option.
func TestSharedOptionsCoverEveryOption(t *testing.T) {
	t.Parallel()
	constructors, err := optionscan.Constructors(".", "Option")
	require.NoError(t, err)
	var listed []string
	for name := range sharedOptions() {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	assert.Equal(t, constructors, listed, "add every Option constructor to sharedOptions")
}

func TestPlainHTTPNeedsLoopbackOrOptIn(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://127.0.0.1:8080", "http://127.1.2.3", "http://[::1]:9000/prefix",
		"http://localhost", "http://LocalHost:80", "http://localhost.:80", "http://[::ffff:127.0.0.1]:1",
		"https://amojo.example", "https://10.0.0.1",
	} {
		c, err := NewClient("ch", "secret", WithBaseURL(u))
		if assert.NoError(t, err, u) {
			assert.Equal(t, u, c.BaseURL())
		}
		_, err = NewCRMClient(u, StaticToken("t"))
		assert.NoError(t, err, u)
	}
	for _, u := range []string{
		"http://amojo.amocrm.ru", "http://example.amocrm.ru", "http://10.0.0.1:8080", "http://0.0.0.0:8080",
		"http://[::]:80", "http://localhost.example", "http://127.0.0.1.example", "http://192.168.1.1",
	} {
		_, err := NewClient("ch", "secret", WithBaseURL(u))
		wantValidation(t, err, "BaseURL")
		assert.Contains(t, err.Error(), "WithInsecureHTTP", u)
		_, err = NewCRMClient(u, StaticToken("t"))
		wantValidation(t, err, "BaseURL")

		// The opt-in works in either order.
		c, err := NewClient("ch", "secret", WithInsecureHTTP(), WithBaseURL(u))
		if assert.NoError(t, err, u) {
			assert.Equal(t, u, c.BaseURL())
		}
		_, err = NewCRMClient(u, StaticToken("t"), WithInsecureHTTP())
		assert.NoError(t, err, u)
	}
}
