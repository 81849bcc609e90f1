package inboxtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
)

// The channel of the receiver processes' webhooks.
const (
	ReceiverSecret  = "0c6e9e3bd2f1a8b07c44d5e6f7a8b9c0d1e2f3a4"
	ReceiverAccount = "52e591f7-c98f-4255-8495-827210138c81"
	ReceiverScope   = "344a5002-f8ca-454d-af3d-396180102ac7_" + ReceiverAccount
	receiverPath    = "/amojo/webhook/"
)

// Environment of a receiver process (see ServeReceiver).
const (
	// EnvReceiverMode is "hang" (each callback prints "got ID" and never
	// returns) or "handle" (each callback records the event, then prints
	// "handled ID").
	EnvReceiverMode = "AMOJO_TEST_RECEIVER_MODE"
	// EnvReceiverLease is the delivery lease, as time.ParseDuration reads
	// it (default 30s).
	EnvReceiverLease = "AMOJO_TEST_RECEIVER_LEASE"
	// EnvReceiverWorkers is the number of delivery workers (default 4).
	EnvReceiverWorkers = "AMOJO_TEST_RECEIVER_WORKERS"
)

// Webhook returns the n-th test webhook, a manager's message to the
// receiver's account, and its X-Signature.
func Webhook(n int) (body []byte, signature string) {
	body = fmt.Appendf(nil, `{"account_id":%q,"time":1700000000,"message":{"conversation":{"id":"chat-%d","client_id":"conv-%d"},"sender":{"id":"manager"},"receiver":{"id":"client","client_id":"c"},"message":{"id":"msg-%d","type":"text","text":"reply %d"}}}`,
		ReceiverAccount, n%50, n%50, n, n)
	return body, amojo.SignWebhook(ReceiverSecret, body)
}

// WebhookID returns the inbox event id of Webhook(n) received for
// ReceiverScope.
func WebhookID(n int) string {
	body, _ := Webhook(n)
	return amojo.InboxEventID(ReceiverScope, body)
}

// ServeReceiver is the body of a receiver process: it serves webhooks signed
// with ReceiverSecret on 127.0.0.1:0 through a WebhookHandler with
// WithWebhookInbox(in), prints "listening URL" (the URL to post webhooks to),
// and delivers the inbox's events as EnvReceiverMode says, calling record
// with each event's id in mode "handle", until its stdin closes. It returns
// the process's exit status.
func ServeReceiver(in amojo.Inbox, record func(ctx context.Context, id string) error) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		return 2
	}
	mode := os.Getenv(EnvReceiverMode)
	lease, workers := 30*time.Second, 4
	if s := os.Getenv(EnvReceiverLease); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fail(err)
		}
		lease = d
	}
	if s := os.Getenv(EnvReceiverWorkers); s != "" {
		if _, err := fmt.Sscan(s, &workers); err != nil {
			return fail(err)
		}
	}
	say := NewSayer()
	fn := func(ctx context.Context, ev *amojo.WebhookEvent) error {
		id, _ := amojo.InboxEventIDFrom(ctx)
		if id != amojo.InboxEventID(ev.ScopeID, ev.Raw) || ev.ScopeID != ReceiverScope || ev.Kind != amojo.EventMessage {
			return fmt.Errorf("event %s: scope %q, kind %s: not the webhook sent", id, ev.ScopeID, ev.Kind)
		}
		switch mode {
		case "hang":
			say("got %s", id)
			<-ctx.Done()
			return ctx.Err()
		case "handle":
			if err := record(ctx, id); err != nil {
				return err
			}
			say("handled %s", id)
			return nil
		}
		return fmt.Errorf("unknown mode %q", mode)
	}
	report := func(_ *amojo.WebhookEvent, err error) { fmt.Fprintln(os.Stderr, "receiver: error:", err) }
	h := amojo.NewWebhookHandler(ReceiverSecret, fn,
		amojo.WithWebhookInbox(in, amojo.WithDeliveryLease(lease), amojo.WithDeliveryWorkers(workers), amojo.WithDeliveryPollInterval(20*time.Millisecond)),
		amojo.WithWebhookErrorHandler(report))
	if err := h.Err(); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.Handle(receiverPath, h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	say("listening http://%s%s%s", ln.Addr(), receiverPath, ReceiverScope)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it, or kills us
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fail(err)
	}
	<-served
	if err := h.Close(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// NewSayer returns a function that prints a line to stdout, one caller at a
// time: what a child process tells its parent.
func NewSayer() func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
}

// Receiver is a running receiver process.
type Receiver struct {
	*Child
	URL string // where to post webhooks
}

// StartReceiver runs the test binary as receiver process number n (see
// StartChild) and waits until it listens.
func StartReceiver(t *testing.T, ty *Tally, n int, env ...string) *Receiver {
	t.Helper()
	c := StartChild(t, ty, n, env...)
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case l := <-c.Lines:
		u, ok := strings.CutPrefix(l, "listening ")
		if !ok {
			t.Fatalf("receiver %d said %q, not where it listens", n, l)
		}
		return &Receiver{Child: c, URL: u}
	case <-c.done:
		t.Fatalf("receiver %d ended before it listened", n)
	case <-timeout.C:
		t.Fatalf("receiver %d did not listen within a minute", n)
	}
	return nil
}

// Post sends Webhook(n) to the receiver and returns the answer's status.
func (r *Receiver) Post(ctx context.Context, client *http.Client, n int) (int, error) {
	body, sig := Webhook(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(amojo.WebhookSignatureHeader, sig)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// WaitLine returns the first of the child's lines (not counted by a Tally)
// with prefix, without it.
func (c *Child) WaitLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case l := <-c.Lines:
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-c.done:
			t.Fatalf("child %d ended before a line %q…", c.Cmd.Process.Pid, prefix)
		case <-timeout.C:
			t.Fatalf("child %d printed no line %q… within a minute", c.Cmd.Process.Pid, prefix)
		}
	}
}

// Kill kills the child with SIGKILL and waits for it.
func (c *Child) Kill(t *testing.T) {
	t.Helper()
	if err := c.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.Cmd.Wait()
	<-c.done
}

// Counts reports, for each event id, how often a store of the test recorded
// it as handled.
type Counts func(t *testing.T) map[string]int

// checkCounts fails t unless counts holds each of want exactly once and
// nothing else.
func checkCounts(t *testing.T, counts Counts, want map[string]bool) {
	t.Helper()
	got := counts(t)
	for id := range want {
		if got[id] != 1 {
			t.Errorf("event %s recorded %d times, want once", id, got[id])
		}
	}
	for id, n := range got {
		if !want[id] {
			t.Errorf("event %s recorded %d times, never sent", id, n)
		}
	}
}

// RunKillAfterAnswer kills a receiver process (env chooses its store) with
// SIGKILL after it answered 200 to three webhooks and before their
// callbacks completed: the first one's callback is running, the others wait
// in the inbox. A receiver restarted on the same store delivers each of them
// once, the first after its lease expired; counts sees each recorded once.
func RunKillAfterAnswer(t *testing.T, counts Counts, env ...string) {
	t.Helper()
	const lease = time.Second
	common := append([]string{EnvReceiverLease + "=" + lease.String(), EnvReceiverWorkers + "=1"}, env...)
	first := StartReceiver(t, nil, 0, append(common, EnvReceiverMode+"=hang")...)
	client := &http.Client{Timeout: 30 * time.Second}
	want := map[string]bool{}
	for n := range 3 {
		code, err := first.Post(t.Context(), client, n)
		if err != nil || code != http.StatusOK {
			t.Fatalf("webhook %d: %d, %v; want 200", n, code, err)
		}
		want[WebhookID(n)] = true
	}
	if got := first.WaitLine(t, "got "); got != WebhookID(0) {
		t.Fatalf("the callback got %s, want the first webhook's %s", got, WebhookID(0))
	}
	first.Kill(t)
	client.CloseIdleConnections()
	if n := len(counts(t)); n != 0 {
		t.Fatalf("%d events recorded before the restart", n)
	}

	ty := NewTally()
	start := time.Now()
	second := StartReceiver(t, ty, 1, append(common, EnvReceiverMode+"=handle")...)
	ty.Wait(t, len(want), time.Minute)
	t.Logf("after the restart, 3 events delivered in %v (lease %v)", time.Since(start), lease)
	second.Stop(t)
	ty.Check(t, want)
	checkCounts(t, counts, want)
}

// RunFlood starts three receiver processes sharing one inbox (env chooses
// it) and posts events signed webhooks to them, spread over the three and
// many at once: every one is answered 200, and every event is handled
// exactly once (counted from the processes' output and by counts).
func RunFlood(t *testing.T, events int, counts Counts, env ...string) {
	t.Helper()
	const receivers, senders = 3, 24
	ty := NewTally()
	var rs []*Receiver
	for i := range receivers {
		rs = append(rs, StartReceiver(t, ty, i, append([]string{EnvReceiverMode + "=handle"}, env...)...))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	want := make(map[string]bool, events)
	for n := range events {
		want[WebhookID(n)] = true
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for s := range senders {
		wg.Go(func() {
			for n := s; n < events; n += senders {
				code, err := rs[n%receivers].Post(t.Context(), client, n)
				if err != nil || code != http.StatusOK {
					mu.Lock()
					refused++
					if refused <= 5 {
						t.Errorf("webhook %d: %d, %v; want 200", n, code, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	accepted := time.Since(start)
	if refused > 0 {
		t.Fatalf("%d of %d webhooks not answered 200", refused, events)
	}
	ty.Wait(t, events, 2*time.Minute)
	t.Logf("%d webhooks accepted by %d receivers in %v (%.0f/s), all handled in %v", events, receivers, accepted, float64(events)/accepted.Seconds(), time.Since(start))
	for _, r := range rs {
		r.Stop(t)
	}
	ty.Check(t, want)
	checkCounts(t, counts, want)
}
