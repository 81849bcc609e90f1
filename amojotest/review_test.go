package amojotest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
)

func TestUsersPageBeyondTheEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.srv.Token()
	for _, q := range []string{"page=9223372036854775807&limit=2", "page=2&limit=250", "page=3&limit=1"} {
		mustStatus(t, e.rest("GET", "/api/v4/users", q, nil, tok), http.StatusNoContent)
	}
	// The server still answers afterwards.
	mustStatus(t, e.rest("GET", "/api/v4/users", "page=1&limit=1", nil, tok), http.StatusOK)
	mustStatus(t, e.amojo("GET", custom+e.srv.ScopeID()+"/chats/x/history", "", nil), http.StatusNotFound)
}

func TestFailNextRefusesAnInvalidStatus(t *testing.T) {
	t.Parallel()
	srv := amojotest.NewServer()
	defer srv.Close()
	for _, status := range []int{0, 99, 600} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("FailNext(%d) did not panic", status)
				}
			}()
			srv.FailNext(amojotest.RouteAccount, 1, status, "")
		}()
	}
}

func TestRateLimitKeepsRealTimeUnderAFrozenClock(t *testing.T) {
	t.Parallel()
	frozen := func() time.Time { return t0 }
	rate := newClock(t0)
	srv := amojotest.NewServer(amojotest.WithClock(frozen), amojotest.WithRateClock(rate.Now))
	defer srv.Close()
	e := &env{t: t, srv: srv, clock: newClock(t0)}
	tok := srv.Token()
	for range 7 {
		mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), http.StatusOK)
	}
	r := e.rest("GET", "/api/v4/account", "", nil, tok)
	mustStatus(t, r, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q", got)
	}
	// Time passes for the limit although the server's clock stands still.
	rate.Add(time.Second)
	mustStatus(t, e.rest("GET", "/api/v4/account", "", nil, tok), http.StatusOK)
}

func TestBodyWithoutContentMD5IsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sign("POST", custom+e.srv.Channel().ID+"/connect", "", map[string]any{"account_id": e.srv.Account().AmojoID, "title": "x", "hook_api_version": "v2"})
	// Signed with an empty Content-MD5 slot and no header: nothing covers the body.
	s.header.Del("Content-MD5")
	s.header.Set("X-Signature", handSign(e.srv.Channel().Secret, "POST", "", "application/json", s.header.Get("Date"), s.path))
	mustStatus(t, e.send(s), http.StatusForbidden)
}
