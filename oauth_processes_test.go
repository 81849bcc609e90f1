package amojo_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/oauthtest"
)

// envFile tells a child process of TestOAuthProcessesShareOneFileStore the
// token file.
const envFile = "AMOJO_TEST_OAUTH_FILE"

// Three processes (this test binary, run again) share one FileTokenStore
// and call the REST API as fast as their rate limits allow for 10 seconds,
// while every access token stops working after 2 seconds. No call fails, no
// refresh token is ever sent twice, each expiry costs one refresh among the
// three, and the file ends up holding the newest pair.
func TestOAuthProcessesShareOneFileStore(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs three processes for 10 s")
	}
	path := filepath.Join(t.TempDir(), "token.json")
	store, err := amojo.NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	oauthtest.Run(t, store, oauthtest.Processes{
		N: 3, Duration: 10 * time.Second, Lifetime: 2 * time.Second,
		ChildTest: "TestOAuthProcessChild", Env: []string{envFile + "=" + path},
	})
}

// TestOAuthProcessChild is one process of TestOAuthProcessesShareOneFileStore;
// it does nothing in a normal run.
func TestOAuthProcessChild(t *testing.T) {
	if !oauthtest.IsChild() {
		t.Skip("a child process of TestOAuthProcessesShareOneFileStore")
	}
	store, err := amojo.NewFileTokenStore(os.Getenv(envFile))
	if err != nil {
		t.Fatal(err)
	}
	oauthtest.Child(t, store)
}
