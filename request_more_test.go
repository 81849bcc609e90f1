package amojo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPartialRetryPolicyKeepsDefaults(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(429, "", "Retry-After", "1"), status(200, ""))
	c, sl, _ := newTestClient(t, srv.URL, WithRetry(RetryPolicy{MaxAttempts: 2}))
	if _, err := postPing(t.Context(), c, nil); err != nil {
		t.Fatal(err)
	}
	if d := sl.Delays(); len(d) != 1 || d[0] != time.Second {
		t.Fatalf("delays = %v, want [1s]", d)
	}
	want := DefaultRetryPolicy()
	want.MaxAttempts = 2
	if c.r.o.retry != want {
		t.Errorf("policy = %+v, want %+v", c.r.o.retry, want)
	}
}

func TestRESTForbiddenIsNotABadSignature(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(403, ""))
	crm, err := NewCRMClient(srv.URL, StaticToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = crm.Account(t.Context())
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("err = %v; a REST 403 must not read as a bad signature", err)
	}
}

func TestCancelDuringRequestReturnsContextError(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := newScriptServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	c, _, _ := newTestClient(t, srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := postPing(ctx, c, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var ne *networkError
	if errors.As(err, &ne) {
		t.Errorf("err = %v: the transport error, not the context's", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d attempts after cancellation, want 1", n)
	}
}

// deadlineRecorder is a RoundTripper that notes whether each request's
// context has a deadline.
type deadlineRecorder struct {
	mu        sync.Mutex
	deadlines []bool
	next      http.RoundTripper
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	_, ok := r.Context().Deadline()
	d.mu.Lock()
	d.deadlines = append(d.deadlines, ok)
	d.mu.Unlock()
	return d.next.RoundTrip(r)
}

func TestClientWithoutTimeoutStillBoundsAttempts(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, ""))
	rec := &deadlineRecorder{next: http.DefaultTransport}
	c, _, _ := newTestClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: rec}))
	if _, err := postPing(t.Context(), c, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.deadlines) != 1 || !rec.deadlines[0] {
		t.Fatalf("deadlines = %v: an attempt without a timeout could hang forever", rec.deadlines)
	}
}

func TestDotSegmentsAreRefused(t *testing.T) {
	t.Parallel()
	srv := newScriptServer(t, status(200, ""))
	c, _, _ := newTestClient(t, srv.URL)
	for _, id := range []string{".", ".."} {
		var ve *ValidationError
		if err := c.Typing(t.Context(), id, TypingRequest{ConversationID: "c", SenderID: "s"}); !errors.As(err, &ve) {
			t.Errorf("Typing(scope %q) = %v", id, err)
		}
		if _, err := c.History(t.Context(), "scope", id, HistoryOptions{}); !errors.As(err, &ve) {
			t.Errorf("History(chat %q) = %v", id, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestBaseURLWithCredentialsIsRefused(t *testing.T) {
	t.Parallel()
	_, err := NewClient("ch", "secret", WithBaseURL("https://user:pass@amojo.amocrm.ru"))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "BaseURL" || strings.Contains(err.Error(), "pass") {
		t.Fatalf("err = %v", err)
	}
}

func TestLogsLeaveOutServerMessages(t *testing.T) {
	t.Parallel()
	body := `{"title":"Bad Request","detail":"contact +79151112233 is invalid","validation-errors":[{"request_id":"0","errors":[{"code":"InvalidType","path":"email","detail":"client@example.com"}]}]}`
	srv := newScriptServer(t, status(400, body))
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _, _ := newTestClient(t, srv.URL, WithLogger(logger))
	if _, err := postPing(t.Context(), c, nil); err == nil {
		t.Fatal("want an error")
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "status=400") {
		t.Errorf("log lacks the status:\n%s", out)
	}
	for _, private := range []string{"+79151112233", "client@example.com"} {
		if strings.Contains(out, private) {
			t.Errorf("log contains %q:\n%s", private, out)
		}
	}
}

func TestAllHistoryStopsOnARepeatedPage(t *testing.T) {
	t.Parallel()
	var page strings.Builder
	page.WriteString(`{"messages":[`)
	for i := range 2 {
		if i > 0 {
			page.WriteByte(',')
		}
		page.WriteString(`{"timestamp":1,"sender":{"id":"s"},"message":{"id":"m` + string(rune('0'+i)) + `","type":"text","text":"x"}}`)
	}
	page.WriteString(`]}`)
	srv := newScriptServer(t, status(200, page.String()))
	c, _, _ := newTestClient(t, srv.URL)
	var n int
	var last error
	for _, err := range c.AllHistory(t.Context(), "scope", "chat", HistoryOptions{Limit: 2}) {
		if err != nil {
			last = err
			break
		}
		n++
		if n > 10 {
			t.Fatal("AllHistory keeps walking a server that ignores offset")
		}
	}
	if last == nil || n != 2 || len(srv.Requests()) != 2 {
		t.Fatalf("messages %d, requests %d, err %v", n, len(srv.Requests()), last)
	}
}

func TestFrozenClockDoesNotFreezeTheRateLimit(t *testing.T) {
	t.Parallel()
	frozen := time.Date(2021, 12, 16, 13, 15, 29, 0, time.UTC)
	crm, err := NewCRMClient("https://example.amocrm.ru", StaticToken("t"), WithClock(func() time.Time { return frozen }))
	if err != nil {
		t.Fatal(err)
	}
	// The limiter measures the time really waited: with the frozen clock it
	// would wait for ever after the first 7 requests.
	if got := crm.r.o.waitNow(); got.Equal(frozen) {
		t.Fatal("the rate limiter follows the frozen clock")
	}
	for range 7 {
		if d := crm.r.limiter.admit(crm.r.o.waitNow); d != 0 {
			t.Fatalf("waited %v within the burst", d)
		}
	}
	if d := crm.r.limiter.admit(crm.r.o.waitNow); d <= 0 || d > time.Second {
		t.Fatalf("8th request waits %v, want (0, 1s]", d)
	}
}
