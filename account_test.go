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
)

func TestCRMAccount(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/account", restReply(200, restFixture(t, "account_response.json")))

	a, err := c.Account(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Account{
		ID: 29190766, Name: "onlinechat", Subdomain: "onlinechat",
		AmojoID: "af9945ff-1490-4cad-807d-945c15d88bec", CurrentUserID: 6158035,
		Country: "RU", CreatedAt: time.Unix(1596469863, 0).UTC(),
	}
	if *a != want {
		t.Errorf("Account = %+v\nwant      %+v", *a, want)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	restCheckHeaders(t, r)
	if r.Method != "GET" || r.Path != restBase+"/api/v4/account" || r.Query != "with=amojo_id" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
}

func TestCRMAccountWithoutAmojoID(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/account", restReply(200, restFixture(t, "account_no_amojo_response.json")))
	_, err := c.Account(t.Context())
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, errNoAmojoID) {
		t.Fatalf("err = %v, want a *DecodeError about amojo_id", err)
	}
	if !strings.Contains(err.Error(), "amojo_id") || !strings.HasPrefix(err.Error(), "amojo: ") {
		t.Errorf("message %q", err)
	}
}

func TestCRMProblemErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		fixture    string
		is         error
		isNot      []error
		title      string
		wantInText []string
	}{
		{"401", 401, "problem_401.json", ErrUnauthorized, []error{ErrInvalidSignature, ErrRateLimited}, "Unauthorized",
			[]string{"amojo: GET /crm/api/v4/account: 401 Unauthorized: Incorrect account"}},
		{"402", 402, "problem_402.json", nil, []error{ErrUnauthorized, ErrInvalidSignature}, "Payment Required",
			[]string{"402 Payment Required", "subscription has expired"}},
		{"403", 403, "problem_403.json", nil, []error{ErrInvalidSignature, ErrUnauthorized}, "Forbidden",
			[]string{"403 Forbidden", "Access denied"}},
		{"402 without body", 402, "", nil, nil, "", []string{"402: Payment Required"}},
		{"403 without body", 403, "", nil, []error{ErrUnauthorized}, "", []string{"403: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, s := restSetup(t)
			var body []byte
			if tt.fixture != "" {
				body = restFixture(t, tt.fixture)
			}
			s.handle("GET", "/api/v4/account", restReply(tt.status, body))
			_, err := c.Account(t.Context())
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Title != tt.title {
				t.Errorf("StatusCode %d Title %q", ae.StatusCode, ae.Title)
			}
			if tt.fixture != "" && (ae.Type != "https://httpstatus.es/"+strconv.Itoa(tt.status) || ae.Detail == "") {
				t.Errorf("Type %q Detail %q", ae.Type, ae.Detail)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(err, %v) = false", tt.is)
			}
			for _, not := range tt.isNot {
				if errors.Is(err, not) {
					t.Errorf("errors.Is(err, %v) = true", not)
				}
			}
			for _, w := range tt.wantInText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), restToken) {
				t.Errorf("message leaks the token: %q", err)
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d attempts, want 1 (never retried)", n)
			}
		})
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if a.AmojoID == "" || calls != 2 {
		t.Errorf("AmojoID %q after %d calls", a.AmojoID, calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != 1 || delays[0] != 2*time.Second {
		t.Errorf("waited %v, want exactly [2s] (Retry-After)", delays)
	}
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
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("err = %v, want ErrRateLimited after 3 attempts", err)
	}
}

func TestCRMNeverSendsCookies(t *testing.T) {
	t.Parallel()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, s := restSetup(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	jar.SetCookies(u, []*http.Cookie{{Name: "session_id", Value: "browser-session", Path: "/"}})
	if len(jar.Cookies(&url.URL{Scheme: "http", Host: u.Host, Path: restBase + "/api/v4/account"})) == 0 {
		t.Fatal("test setup: the jar holds no cookie for the server")
	}
	c, err := NewCRMClient(s.URL+restBase, StaticToken(restToken), WithHTTPClient(&http.Client{Jar: jar}))
	if err != nil {
		t.Fatal(err)
	}
	s.handle("GET", "/api/v4/account", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "new_session", Value: "x", Path: "/"})
		restReply(200, restFixture(t, "account_response.json"))(w, r)
	})
	for range 2 { // the second call would send a cookie set by the first
		if _, err := c.Account(t.Context()); err != nil {
			t.Fatal(err)
		}
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
		if err == nil || !strings.Contains(err.Error(), "refresh failed") || len(s.requests()) != 0 {
			t.Errorf("err = %v after %d requests", err, len(s.requests()))
		}
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
		if _, err := c.Account(t.Context()); err != nil {
			t.Fatal(err)
		}
		reqs := s.requests()
		if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer tok-1" || reqs[1].Header.Get("Authorization") != "Bearer tok-2" {
			t.Errorf("tokens sent: %v", reqs)
		}
	})
	t.Run("static token hides itself", func(t *testing.T) {
		t.Parallel()
		if s := fmt.Sprint(StaticToken(restToken)); strings.Contains(s, restToken) {
			t.Errorf("StaticToken prints %q", s)
		}
	})
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		var ve *ValidationError
		if _, err := NewCRMClient("https://example.amocrm.ru", nil); !errors.As(err, &ve) || ve.Field != "tokens" {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCRMUsers(t *testing.T) {
	t.Parallel()
	c, s := restSetup(t)
	s.handle("GET", "/api/v4/users", restReply(200, restFixture(t, "users_response.json")))
	users, err := c.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{ID: 6158035, Name: "Менеджер Василий", Email: "vasily@example.com", AmojoID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5"},
		{ID: 6158036, Name: "Example Admin", Email: "admin@example.com", AmojoID: "5c1b9a4e-2f0d-4c3e-9d8e-0a1b2c3d4e5f"},
	}
	if fmt.Sprint(users) != fmt.Sprint(want) {
		t.Errorf("Users = %+v", users)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 (no next link ends the walk)", len(reqs))
	}
	restCheckHeaders(t, reqs[0])
	if reqs[0].Path != restBase+"/api/v4/users" || reqs[0].Query != "limit=250&page=1&with=amojo_id" {
		t.Errorf("request %s?%s", reqs[0].Path, reqs[0].Query)
	}
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
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if len(users) != tt.wantUsers {
				t.Errorf("%d users, want %d", len(users), tt.wantUsers)
			}
			for i, u := range users {
				if u.ID != int64(i) || u.AmojoID != fmt.Sprintf("amojo-%d", i) {
					t.Fatalf("users[%d] = %+v", i, u)
				}
			}
			reqs := s.requests()
			if len(reqs) != tt.wantPages {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantPages)
			}
			for i, r := range reqs {
				if want := fmt.Sprintf("limit=250&page=%d&with=amojo_id", i+1); r.Query != want {
					t.Errorf("request %d query %q, want %q", i, r.Query, want)
				}
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
		if err != nil {
			t.Fatal(err)
		}
		n++
		if u.ID == 260 {
			break
		}
	}
	if n != 261 || len(s.requests()) != 2 {
		t.Errorf("read %d users with %d requests, want 261 with 2", n, len(s.requests()))
	}
}
