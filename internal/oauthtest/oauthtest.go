// Package oauthtest runs OAuth token sources in several processes that
// share one token store, against one amojotest fake whose access tokens
// expire quickly, and checks that no call fails, no refresh token is sent
// twice, each expiry costs one refresh among all the processes, and the
// store ends up holding the newest pair.
//
// The processes are the test binary run again: the parent test calls Run
// with its view of the store, and names a test function of the same package
// that calls Child with the child's view of it.
package oauthtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The environment Run gives a child process.
const (
	envURL      = "AMOJO_TEST_OAUTH_CHILD" // the fake's REST URL
	envDuration = "AMOJO_TEST_OAUTH_DURATION"
)

// resultPrefix starts the line a child reports its result on.
const resultPrefix = "oauth-child-result: "

// result is what a child process reports.
type result struct {
	Calls    int       `json:"calls"`
	Failures int       `json:"failures"`
	Errors   []string  `json:"errors"`
	End      time.Time `json:"end"` // when its last call ended
}

// Processes describes a run.
type Processes struct {
	N         int           // processes
	Duration  time.Duration // how long each makes calls
	Lifetime  time.Duration // of the fake's access tokens
	ChildTest string        // the test function the processes run; it calls Child
	Env       []string      // added to their environment: where the store is
}

// Report is what a run measured.
type Report struct {
	Calls, Failures int
	Refreshes       int           // refresh tokens rotated
	Reused, Refused int           // refresh tokens sent twice; refused token requests
	Elapsed         time.Duration // the run, the processes' start-up included
	// Expiries counts the pairs (the first and each refreshed one) whose
	// refresh point, a tenth of their lifetime before they expire, came
	// before the last call ended: each needed exactly one refresh.
	Expiries int
	MinGap   time.Duration // the shortest time between two refreshes
}

// Run starts a fake whose access tokens last p.Lifetime, authorizes once,
// saves the first pair in store (the shared store as this process sees it),
// runs p.N processes for p.Duration, checks what they did and returns the
// numbers.
func Run(t *testing.T, store amojo.TokenStore, p Processes) Report {
	t.Helper()
	srv := amojotest.NewServer(amojotest.WithOAuthLifetimes(amojotest.OAuthLifetimes{Access: p.Lifetime}), amojotest.WithRateLimit(0, 0))
	defer srv.Close()
	code, err := srv.AuthorizationCode("")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.OAuthConfig().Exchange(t.Context(), srv.CRMURL, code, amojo.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(t.Context(), tok); err != nil {
		t.Fatal(err)
	}

	results := make([]result, p.N)
	started := time.Now()
	var wg sync.WaitGroup
	for i := range p.N {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+p.ChildTest+"$", "-test.count=1", "-test.v")
			cmd.Env = append(append(os.Environ(), envURL+"="+srv.CRMURL, envDuration+"="+p.Duration.String()), p.Env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("process %d: %v\n%s%s", i, err, out, stderr.Bytes())
				return
			}
			results[i], err = parseResult(out)
			if err != nil {
				t.Errorf("process %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()

	st := srv.OAuthStats()
	rep := Report{Refreshes: st.Refreshes, Reused: st.Reused, Refused: st.Refused, Elapsed: time.Since(started)}
	var end time.Time
	for i, r := range results {
		rep.Calls += r.Calls
		rep.Failures += r.Failures
		if r.Calls == 0 || r.Failures > 0 {
			t.Errorf("process %d: %d calls, %d failed: %v", i, r.Calls, r.Failures, r.Errors)
		}
		if r.End.After(end) {
			end = r.End
		}
	}
	issued := issueTimes(t, srv.RequestsTo(amojotest.RouteOAuthToken))
	// A pair is refreshed a tenth of its lifetime early.
	cycle := p.Lifetime * 9 / 10
	var lastDue time.Time
	for _, at := range issued {
		if due := at.Add(cycle); due.Before(end) {
			rep.Expiries++
			lastDue = due
		}
	}
	rep.MinGap = time.Duration(1<<63 - 1)
	for i := 2; i < len(issued); i++ { // issued[0] is the first pair's
		rep.MinGap = min(rep.MinGap, issued[i].Sub(issued[i-1]))
	}
	t.Logf("%d processes, %v: %d calls, %d failed; %d refreshes for %d expiries in %v (shortest gap %v), %d refresh tokens sent twice, %d token requests refused",
		p.N, p.Duration, rep.Calls, rep.Failures, rep.Refreshes, rep.Expiries, rep.Elapsed.Round(time.Millisecond), rep.MinGap.Round(time.Millisecond), rep.Reused, rep.Refused)
	if st.Reused != 0 || st.Refused != 0 {
		t.Errorf("refresh tokens sent twice: %d; refused token requests: %d", st.Reused, st.Refused)
	}
	// One refresh per lifetime among the processes, not one each: at most
	// one per cycle of the run (plus the first and the last), and never
	// two for one expiry, which would come within a fraction of a lifetime.
	if maxRefreshes := rep.Expiries + 2; st.Refreshes < 3 || st.Refreshes > maxRefreshes {
		t.Errorf("%d refreshes in %v with a %v lifetime, want 3..%d", st.Refreshes, rep.Elapsed, p.Lifetime, maxRefreshes)
	}
	if rep.MinGap < p.Lifetime/2 {
		t.Errorf("two refreshes %v apart: one pair was refreshed twice", rep.MinGap)
	}
	// Every pair that came due was refreshed, but perhaps the last one, if
	// it came due just before the end (no call came in between).
	if missed := rep.Expiries - rep.Refreshes; missed != 0 && (missed != 1 || end.Sub(lastDue) > p.Lifetime/10) {
		t.Errorf("%d refreshes for %d pairs that came due (the last %v before the end)", rep.Refreshes, rep.Expiries, end.Sub(lastDue))
	}
	final, err := store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if final.RefreshToken != st.RefreshToken {
		t.Error("the store does not hold the newest refresh token")
	}
	return rep
}

// issueTimes returns when the token endpoint issued each pair, by the
// arrival of the requests it granted: the code's exchange, then each
// refresh.
func issueTimes(t *testing.T, reqs []amojotest.Request) []time.Time {
	t.Helper()
	var times []time.Time
	for _, r := range reqs {
		var body struct {
			GrantType string `json:"grant_type"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Errorf("a token request's body: %v", err)
			continue
		}
		if r.StatusCode == http.StatusOK && (body.GrantType == "refresh_token" || body.GrantType == "authorization_code") {
			times = append(times, r.Time)
		}
	}
	return times
}

func parseResult(out []byte) (result, error) {
	var r result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			return r, json.Unmarshal([]byte(line), &r)
		}
	}
	return r, errors.New("no result line")
}

// IsChild reports whether this process is one that Run started.
func IsChild() bool { return os.Getenv(envURL) != "" }

// Child is the body of a child process's test: it calls the fake's REST API
// through an OAuthTokenSource over store, as fast as a 25-per-second rate
// limit allows, for the run's duration, and prints its result for Run.
func Child(t *testing.T, store amojo.TokenStore) {
	t.Helper()
	base := os.Getenv(envURL)
	d, err := time.ParseDuration(os.Getenv(envDuration))
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
	var r result
	defer func() {
		r.End = time.Now()
		b, _ := json.Marshal(r)
		fmt.Printf("\n%s%s\n", resultPrefix, b)
	}()
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
}
