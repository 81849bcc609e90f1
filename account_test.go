package amojo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCRMAccount(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/account", restReply(200, restFixture(t, "account_response.json")))

	a, err := c.Account(t.Context())
	require.NoError(t, err)
	want := Account{
		ID: 29190766, Name: "onlinechat", Subdomain: "onlinechat",
		AmojoID: "af9945ff-1490-4cad-807d-945c15d88bec", CurrentUserID: 6158035,
		Country: "RU", CreatedAt: time.Unix(1596469863, 0).UTC(),
	}
	assert.Equal(t, want, *a)
	reqs := s.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	restCheckHeaders(t, r)
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, restBase+"/api/v4/account", r.Path)
	assert.Equal(t, "with=amojo_id", r.Query)
}

func TestCRMAccountWithoutAmojoID(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/account", restReply(200, restFixture(t, "account_no_amojo_response.json")))
	_, err := c.Account(t.Context())
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, errNoAmojoID)
	assert.Contains(t, err.Error(), "amojo_id")
	assert.True(t, strings.HasPrefix(err.Error(), "amojo: "), "message %q", err)
}

func TestCRMRetryAfter429(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var delays []time.Duration
	sleeper := func(_ <-chan struct{}, d time.Duration) bool {
		mu.Lock()
		defer mu.Unlock()
		delays = append(delays, d)
		return true
	}
	c, s := restSetup(t, withTestSleep(sleeper))
	var calls int
	ok := restFixture(t, "account_response.json")
	s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "2")
			restReply(429, []byte(`{"title":"Too Many Requests","type":"https://httpstatus.es/429","status":429,"detail":"Too many requests"}`))(w, r)
			return
		}
		restReply(200, ok)(w, r)
	})
	a, err := c.Account(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, a.AmojoID)
	assert.Equal(t, 2, calls)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []time.Duration{2 * time.Second}, delays, "want exactly one wait of Retry-After")
	for _, r := range s.requests() {
		restCheckHeaders(t, r)
	}
}

func TestCRMRateLimitedGivesUp(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t, WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetryAfter: time.Minute}))
	s.handle("GET", "/api/v4/account", restReply(429, []byte(`{"title":"Too Many Requests","status":429}`)))
	_, err := c.Account(t.Context())
	var re *RetryError
	require.ErrorIs(t, err, ErrRateLimited)
	require.ErrorAs(t, err, &re)
	require.Equal(t, 3, re.Attempts)
}

func TestCRMNeverSendsCookies(t *testing.T) {
	t.Parallel()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	_, s := restSetup(t)
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	jar.SetCookies(u, []*http.Cookie{{Name: "session_id", Value: "browser-session", Path: "/"}})
	require.NotEmpty(t, jar.Cookies(&url.URL{Scheme: "http", Host: u.Host, Path: restBase + "/api/v4/account"}), "test setup: the jar holds no cookie for the server")
	c, err := NewCRMClient(s.URL+restBase, StaticToken(restToken), WithHTTPClient(&http.Client{Jar: jar}))
	require.NoError(t, err)
	s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "new_session", Value: "x", Path: "/"})
		restReply(200, restFixture(t, "account_response.json"))(w, r)
	})
	for range 2 { // the second call would send a cookie set by the first
		_, err := c.Account(t.Context())
		require.NoError(t, err)
	}
	for _, r := range s.requests() {
		restCheckHeaders(t, r)
	}
}

func TestCRMTokenSource(t *testing.T) {
	t.Parallel()
	t.Run("error", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		c.tokens = TokenFunc(func(context.Context) (string, error) { return "", errors.New("refresh failed") })
		_, err := c.Account(t.Context())
		assert.ErrorContains(t, err, "refresh failed")
		assert.Empty(t, s.requests())
	})
	t.Run("per attempt", func(t *testing.T) {
		t.Parallel()
		c, s := restSetup(t)
		var n int
		var mu sync.Mutex
		c.tokens = TokenFunc(func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("tok-%d", n), nil
		})
		calls := 0
		s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, r *http.Request) {
			calls++
			if calls == 1 {
				restReply(503, nil)(w, r)
				return
			}
			restReply(200, restFixture(t, "account_response.json"))(w, r)
		})
		_, err := c.Account(t.Context())
		require.NoError(t, err)
		reqs := s.requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, "Bearer tok-1", reqs[0].Header.Get("Authorization"))
		assert.Equal(t, "Bearer tok-2", reqs[1].Header.Get("Authorization"))
	})
	t.Run("static token hides itself", func(t *testing.T) {
		t.Parallel()
		assert.NotContains(t, fmt.Sprint(StaticToken(restToken)), restToken)
	})
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		var ve *ValidationError
		_, err := NewCRMClient("https://example.amocrm.ru", nil)
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "tokens", ve.Field)
	})
}

func TestCRMUsers(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/users", restReply(200, restFixture(t, "users_response.json")))
	users, err := c.Users(t.Context())
	require.NoError(t, err)
	want := []User{
		{ID: 6158035, Name: "Менеджер Василий", Email: "vasily@example.com", AmojoID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5"},
		{ID: 6158036, Name: "Example Admin", Email: "admin@example.com", AmojoID: "5c1b9a4e-2f0d-4c3e-9d8e-0a1b2c3d4e5f"},
	}
	assert.Equal(t, want, users)
	reqs := s.requests()
	require.Len(t, reqs, 1, "no next link ends the walk")
	restCheckHeaders(t, reqs[0])
	assert.Equal(t, restBase+"/api/v4/users", reqs[0].Path)
	assert.Equal(t, "limit=250&page=1&with=amojo_id", reqs[0].Query)
}

// restUsersPage renders a page of n users starting at id first, with a next
// link when next is true.
func restUsersPage(page, first, n int, next bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"_page":%d,"_links":{"self":{"href":"https://x.amocrm.ru/api/v4/users?page=%d"}`, page, page)
	if next {
		fmt.Fprintf(&b, `,"next":{"href":"https://x.amocrm.ru/api/v4/users?page=%d"}`, page+1)
	}
	b.WriteString(`},"_embedded":{"users":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"u%d","email":"u%d@example.com","amojo_id":"amojo-%d"}`, first+i, first+i, first+i, first+i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func TestCRMUsersPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pages     func(page int) (int, []byte)
		wantUsers int
		wantPages int
		wantErr   bool
	}{
		{"three pages", func(p int) (int, []byte) {
			if p < 3 {
				return 200, restUsersPage(p, (p-1)*250, 250, true)
			}
			return 200, restUsersPage(p, 500, 3, false)
		}, 503, 3, false},
		{"full page then 204", func(p int) (int, []byte) {
			if p == 1 {
				return 200, restUsersPage(p, 0, 250, true)
			}
			return 204, nil
		}, 250, 2, false},
		{"full page without next link", func(p int) (int, []byte) {
			return 200, restUsersPage(p, (p-1)*250, 250, false)
		}, 250, 1, false},
		{"short pages with next links", func(p int) (int, []byte) {
			return 200, restUsersPage(p, (p-1)*50, 50, p < 3)
		}, 150, 3, false},
		{"empty page with a next link", func(p int) (int, []byte) {
			if p == 1 {
				return 200, restUsersPage(p, 0, 250, true)
			}
			return 200, restUsersPage(p, 0, 0, true)
		}, 250, 2, false},
		{"204 at once", func(int) (int, []byte) { return 204, nil }, 0, 1, false},
		{"server ignores page", func(p int) (int, []byte) {
			return 200, restUsersPage(p, 0, 250, true)
		}, 250, 2, true},
		{"error on page 2", func(p int) (int, []byte) {
			if p == 1 {
				return 200, restUsersPage(p, 0, 250, true)
			}
			return 401, restFixture(t, "problem_401.json")
		}, 250, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			s.handle("GET", "/api/v4/users", func(w http.ResponseWriter, r *http.Request) {
				p, _ := strconv.Atoi(r.URL.Query().Get("page"))
				status, body := tt.pages(p)
				restReply(status, body)(w, r)
			})
			users, err := c.Users(t.Context())
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, users, tt.wantUsers)
			for i, u := range users {
				require.Equal(t, int64(i), u.ID, "users[%d] = %+v", i, u)
				require.Equal(t, fmt.Sprintf("amojo-%d", i), u.AmojoID, "users[%d] = %+v", i, u)
			}
			reqs := s.requests()
			assert.Len(t, reqs, tt.wantPages)
			for i, r := range reqs {
				assert.Equal(t, fmt.Sprintf("limit=250&page=%d&with=amojo_id", i+1), r.Query, "request %d", i)
			}
		})
	}
}

func TestCRMAllUsersStopsEarly(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/users", func(w http.ResponseWriter, r *http.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		restReply(200, restUsersPage(p, (p-1)*250, 250, true))(w, r)
	})
	n := 0
	for u, err := range c.AllUsers(t.Context()) {
		require.NoError(t, err)
		n++
		if u.ID == 260 {
			break
		}
	}
	assert.Equal(t, 261, n, "users read")
	assert.Len(t, s.requests(), 2)
}
