package multiprocess_test

import (
	"os"
	"testing"
	"time"

	"github.com/amojo-go/amojo/internal/oauthtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/internal/testscale"
	"github.com/amojo-go/amojo/pgstore"
)

// The environment of a child process of TestTokenStoreThreeProcesses: the
// database and the key of the pair.
const (
	envTokenDSN = "AMOJO_PGSTORE_TOKEN_DSN"
	envTokenKey = "AMOJO_PGSTORE_TOKEN_KEY"
)

// Three processes (this test binary, run again), each with its own pool,
// share one token row and call the REST API as fast as their rate limits
// allow for 10 seconds, while every access token stops working after 2
// seconds. No call fails, no refresh token is sent twice, each expiry costs
// one refresh among the three, and the row ends up holding the newest pair.
func TestTokenStoreThreeProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs three processes for 10 s")
	}
	const key = "acme/user-6101"
	dsn := pgtest.DSN(t)
	ts, err := openDSN(t, dsn).TokenStore(key)
	if err != nil {
		t.Fatal(err)
	}
	oauthtest.Run(t, ts, oauthtest.Processes{
		N: 3, Duration: testscale.Size(t, 10*time.Second, 8*time.Second), Lifetime: 2 * time.Second,
		ChildTest: "TestTokenStoreProcessChild", Env: []string{envTokenDSN + "=" + dsn, envTokenKey + "=" + key},
	})
}

// TestTokenStoreProcessChild is one process of TestTokenStoreThreeProcesses;
// it does nothing in a normal run.
func TestTokenStoreProcessChild(t *testing.T) {
	if !oauthtest.IsChild() {
		t.Skip("a child process of TestTokenStoreThreeProcesses")
	}
	s, err := pgstore.Open(t.Context(), os.Getenv(envTokenDSN))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts, err := s.TokenStore(os.Getenv(envTokenKey))
	if err != nil {
		t.Fatal(err)
	}
	oauthtest.Child(t, ts)
}
