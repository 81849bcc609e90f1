package amojo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The environment of a child process of TestOAuthProcessesShareOneFileStore.
const (
	envChild    = "AMOJO_TEST_OAUTH_CHILD" // the fake's URL
	envFile     = "AMOJO_TEST_OAUTH_FILE"
	envDuration = "AMOJO_TEST_OAUTH_DURATION"
)

// childResult is what a child process reports on its last line.
type childResult struct {
	Calls    int      `json:"calls"`
	Failures int      `json:"failures"`
	Errors   []string `json:"errors"`
}

const childResultPrefix = "oauth-child-result: "

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
	const processes, duration, lifetime = 3, 10 * time.Second, 2 * time.Second
	srv := amojotest.NewServer(amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Access: lifetime}), amojotest.WithRateLimit(0, 0))
	defer srv.Close()
	cfg := srv.OAuthConfig()
	code, err := srv.AuthorizationCode("")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.Exchange(t.Context(), srv.CRMURL, code, amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token.json")
	store, err := amojo.NewFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}

	results := make([]childResult, processes)
	started := time.Now()
	var wg sync.WaitGroup
	for i := range processes {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestOAuthProcessChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), envChild+"="+srv.CRMURL, envFile+"="+path, envDuration+"="+duration.String())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("process %d: %v\n%s%s", i, err, out, stderr.Bytes())
				return
			}
			results[i], err = parseChildResult(out)
			if err != nil {
				t.Errorf("process %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started) // the run, with the processes' start-up

	st := srv.OAuthStats()
	calls, failures := 0, 0
	for i, r := range results {
		calls += r.Calls
		failures += r.Failures
		if r.Calls == 0 || r.Failures > 0 {
			t.Errorf("process %d: %d calls, %d failed: %v", i, r.Calls, r.Failures, r.Errors)
		}
	}
	t.Logf("%d processes, %v: %d calls, %d failed; %d refreshes, %d refresh tokens sent twice, %d token requests refused",
		processes, duration, calls, failures, st.Refreshes, st.Reused, st.Refused)
	if st.Reused != 0 || st.Refused != 0 {
		t.Errorf("refresh tokens sent twice: %d; refused token requests: %d", st.Reused, st.Refused)
	}
	// One refresh per lifetime among the three processes, not one each:
	// a pair is refreshed a tenth of its lifetime early, so at most one per
	// 0.9 lifetimes of the run (plus the first and the last).
	if maxRefreshes := int(elapsed/(lifetime*9/10)) + 2; st.Refreshes < 3 || st.Refreshes > maxRefreshes {
		t.Errorf("%d refreshes in %v with a %v lifetime, want 3..%d", st.Refreshes, elapsed, lifetime, maxRefreshes)
	}
	final, err := store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if final.RefreshToken != st.RefreshToken {
		t.Error("the file does not hold the newest refresh token")
	}
}

func parseChildResult(out []byte) (childResult, error) {
	var r childResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), childResultPrefix); ok {
			return r, json.Unmarshal([]byte(line), &r)
		}
	}
	return r, fmt.Errorf("no result line")
}

// TestOAuthProcessChild is one process of TestOAuthProcessesShareOneFileStore;
// it does nothing in a normal run.
func TestOAuthProcessChild(t *testing.T) {
	base := os.Getenv(envChild)
	if base == "" {
		t.Skip("a child process of TestOAuthProcessesShareOneFileStore")
	}
	d, err := time.ParseDuration(os.Getenv(envDuration))
	if err != nil {
		t.Fatal(err)
	}
	store, err := amojo.NewFileTokenStore(os.Getenv(envFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg := amojo.OAuthConfig{ClientID: amojotest.DefaultClientID, ClientSecret: amojotest.DefaultClientSecret, RedirectURI: amojotest.DefaultRedirectURI}
	src, err := amojo.NewOAuthTokenSource(cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	crm, err := amojo.NewCRMClient(base, src, amojo.WithRateLimit(25, 1), amojo.WithRetry(amojo.NoRetry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var r childResult
	for ctx.Err() == nil {
		_, err := crm.Account(ctx)
		if ctx.Err() != nil {
			break // the time is up, not a failure
		}
		r.Calls++
		if err != nil {
			r.Failures++
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, err.Error())
			}
		}
	}
	b, _ := json.Marshal(r)
	fmt.Printf("\n%s%s\n", childResultPrefix, b)
}
