package amojo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The delivery tests run in a synctest bubble: time is fake and moves only
// when every goroutine waits, and the bubble fails the test if a goroutine
// outlives it (that is, Close).

// childEvent is the n-th event a process appends for scope, received now;
// its id depends on scope and n only.
func childEvent(scope string, n int) InboxEvent {
	body := fmt.Appendf(nil, `{"account_id":"acc","time":1700000000,"message":{"message":{"id":"%s-%d","type":"text","text":"hi"}}}`, scope, n)
	return NewInboxEvent(scope, body, "sig", time.Now())
}

// forEachStore runs f with a memory and a file inbox.
func forEachStore(t *testing.T, f func(t *testing.T, in Inbox)) {
	t.Run("memory", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			in, err := NewMemoryInbox()
			if err != nil {
				t.Fatal(err)
			}
			f(t, in)
		})
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "inbox.jsonl")
		synctest.Test(t, func(t *testing.T) {
			in, err := NewFileInbox(path)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			f(t, in)
		})
	})
}

// recorder is a callback that records its calls and answers with the
// errors of fail, in turn (nil when they run out).
type recorder struct {
	mu    sync.Mutex
	calls []call
	fail  []error
	block bool // wait for the context to end
}

type call struct {
	at    time.Time
	id    string
	ev    *WebhookEvent
	ctxOK bool
}

func (r *recorder) fn(ctx context.Context, ev *WebhookEvent) error {
	id, ok := InboxEventIDFrom(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, call{at: time.Now(), id: id, ev: ev, ctxOK: ok})
	var err error
	if len(r.fail) > 0 {
		err, r.fail = r.fail[0], r.fail[1:]
	}
	block := r.block
	r.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if err != nil && err.Error() == "panic" {
		panic("callback exploded")
	}
	return err
}

func (r *recorder) got() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// deliveryReports collects what the error handler is told.
type deliveryReports struct {
	mu   sync.Mutex
	errs []error
}

func (r *deliveryReports) handler(_ *InboxEvent, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *deliveryReports) got() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func startDelivery(t *testing.T, in Inbox, fn func(context.Context, *WebhookEvent) error, opts ...DeliveryOption) *InboxDelivery {
	t.Helper()
	d, err := NewInboxDelivery(in, fn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func TestDeliveryAppendDeliversAtOnceAndDone(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		var r recorder
		d := startDelivery(t, in, r.fn, WithDeliveryPollInterval(time.Hour))
		ev := childEvent("scope-1", 1)
		start := time.Now()
		if added, err := d.Append(t.Context(), ev); err != nil || !added {
			t.Fatalf("Append = %v, %v", added, err)
		}
		synctest.Wait()
		calls := r.got()
		if len(calls) != 1 {
			t.Fatalf("%d calls, want 1", len(calls))
		}
		c := calls[0]
		if c.at != start {
			t.Errorf("delivered after %v, want at once (no poll)", c.at.Sub(start))
		}
		if !c.ctxOK || c.id != ev.ID || c.ev.ScopeID != "scope-1" || c.ev.Kind != EventMessage || c.ev.Message.Message.ID != "scope-1-1" {
			t.Errorf("call %+v", c)
		}
		if added, _ := d.Append(t.Context(), ev); added {
			t.Error("a delivered event was appended again")
		}
		time.Sleep(2 * DefaultDeliveryLease)
		if err := d.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := len(r.got()); n != 1 {
			t.Errorf("%d calls after the lease, want 1 (the event is done)", n)
		}
		if evs, err := in.Claim(t.Context(), 10, time.Minute); err != nil || len(evs) != 0 {
			t.Errorf("Claim after delivery = %d, %v", len(evs), err)
		}
	})
}

func TestDeliveryPollsForEventsOfOtherProcesses(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		var r recorder
		startDelivery(t, in, r.fn, WithDeliveryPollInterval(3*time.Second))
		synctest.Wait()
		start := time.Now()
		if _, err := in.Append(t.Context(), childEvent("s", 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		calls := r.got()
		if len(calls) != 1 || calls[0].at.Sub(start) > 3*time.Second {
			t.Fatalf("calls %v, want one within the poll interval", calls)
		}
	})
}

func TestDeliveryRetriesWithBackoffThenDeadThenRequeue(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		boom := errors.New("messenger down")
		r := recorder{fail: []error{boom, errors.New("panic"), boom}}
		var rep deliveryReports
		const poll = 100 * time.Millisecond
		d := startDelivery(t, in, r.fn, WithDeliveryRetry(3, time.Second, 2*time.Second),
			WithDeliveryPollInterval(poll), WithDeliveryErrorHandler(rep.handler))
		ev := childEvent("s", 1)
		if _, err := d.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		calls := r.got()
		if len(calls) != 3 {
			t.Fatalf("%d calls, want 3 attempts", len(calls))
		}
		for i, ceiling := range []time.Duration{time.Second, 2 * time.Second} {
			gap := calls[i+1].at.Sub(calls[i].at)
			if gap < ceiling/2 || gap > ceiling+poll {
				t.Errorf("back-off before attempt %d: %v, want between %v and %v", i+2, gap, ceiling/2, ceiling+poll)
			}
		}
		errs := rep.got()
		if len(errs) != 1 || !errors.Is(errs[0], ErrInboxDead) || !errors.Is(errs[0], boom) {
			t.Fatalf("reported %v, want one ErrInboxDead wrapping the last failure", errs)
		}
		dead, err := in.Dead(t.Context(), "", 10)
		if err != nil || len(dead) != 1 || dead[0].ID != ev.ID || dead[0].Attempts != 3 || dead[0].LastError != boom.Error() {
			t.Fatalf("Dead = %+v, %v", dead, err)
		}
		if err := in.Requeue(t.Context(), ev.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if n := len(r.got()); n != 4 {
			t.Fatalf("%d calls after Requeue, want 4", n)
		}
		time.Sleep(time.Minute)
		if n := len(r.got()); n != 4 {
			t.Errorf("%d calls a minute later, want 4 (the requeued event was delivered)", n)
		}
	})
}

func TestDeliveryUnparseableBodyIsDeadAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		var r recorder
		var rep deliveryReports
		d := startDelivery(t, in, r.fn, WithDeliveryErrorHandler(rep.handler))
		ev := NewInboxEvent("s", []byte("not json"), "sig", time.Now())
		if _, err := d.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(r.got()) != 0 {
			t.Error("the callback got an unparseable event")
		}
		if errs := rep.got(); len(errs) != 1 || !errors.Is(errs[0], ErrInboxDead) || !errors.Is(errs[0], ErrMalformedWebhook) {
			t.Errorf("reported %v", errs)
		}
		if dead, _ := in.Dead(t.Context(), "", 1); len(dead) != 1 {
			t.Error("the event is not dead")
		}
	})
}

func TestDeliveryExtendsTheLeaseOfASlowCallback(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		var mu sync.Mutex
		calls := 0
		slow := func(ctx context.Context, ev *WebhookEvent) error {
			mu.Lock()
			calls++
			mu.Unlock()
			time.Sleep(time.Minute) // twenty leases
			return nil
		}
		opts := []DeliveryOption{WithDeliveryLease(3 * time.Second), WithDeliveryPollInterval(100 * time.Millisecond)}
		a := startDelivery(t, in, slow, opts...)
		startDelivery(t, in, slow, opts...) // another process, polling
		if _, err := a.Append(t.Context(), childEvent("s", 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if calls != 1 {
			t.Errorf("%d calls, want 1: the lease is extended while the callback runs", calls)
		}
	})
}

func TestDeliveryReclaimsTheEventOfADeadWorker(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		ctx := t.Context()
		ev := childEvent("s", 1)
		if _, err := in.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		// A process claims it and dies.
		if evs, err := in.Claim(ctx, 1, 10*time.Second); err != nil || len(evs) != 1 {
			t.Fatal(evs, err)
		}
		start := time.Now()
		var r recorder
		startDelivery(t, in, r.fn, WithDeliveryPollInterval(time.Second))
		time.Sleep(time.Minute)
		calls := r.got()
		if len(calls) != 1 || calls[0].id != ev.ID {
			t.Fatalf("calls %+v, want the event once", calls)
		}
		if wait := calls[0].at.Sub(start); wait < 10*time.Second || wait > 11*time.Second {
			t.Errorf("delivered after %v, want when the lease of 10s ended", wait)
		}
	})
}

func TestDeliveryBuriesAnEventThatKeepsKillingItsWorker(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		ctx := t.Context()
		ev := childEvent("s", 1)
		if _, err := in.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		for range 2 { // two processes died delivering it
			if evs, err := in.Claim(ctx, 1, time.Second); err != nil || len(evs) != 1 {
				t.Fatal(evs, err)
			}
			time.Sleep(2 * time.Second)
		}
		var r recorder
		var rep deliveryReports
		startDelivery(t, in, r.fn, WithDeliveryRetry(2, time.Second, time.Second), WithDeliveryErrorHandler(rep.handler))
		synctest.Wait()
		if len(r.got()) != 0 {
			t.Error("the callback was called a third time")
		}
		errs := rep.got()
		if len(errs) != 1 || !errors.Is(errs[0], ErrInboxDead) || !strings.Contains(errs[0].Error(), "lease expired") {
			t.Errorf("reported %v", errs)
		}
	})
}

func TestDeliveryCloseWaitsThenCancels(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		r := recorder{block: true}
		d, err := NewInboxDelivery(in, r.fn)
		if err != nil {
			t.Fatal(err)
		}
		ev := childEvent("s", 1)
		if _, err := d.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err = d.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Fatalf("Close = %v after %v; want the deadline after 3s", err, time.Since(start))
		}
		if err := d.Close(t.Context()); err != nil {
			t.Errorf("second Close: %v", err)
		}
		// The interrupted event is due again at once.
		evs, err := in.Claim(t.Context(), 1, time.Minute)
		if err != nil || len(evs) != 1 || evs[0].ID != ev.ID || !strings.HasPrefix(evs[0].LastError, "interrupted") {
			t.Fatalf("Claim after Close = %+v, %v", evs, err)
		}
	})
}

func TestDeliveryCloseLetsRunningCallbacksFinish(t *testing.T) {
	forEachStore(t, func(t *testing.T, in Inbox) {
		var finished bool
		d, err := NewInboxDelivery(in, func(ctx context.Context, ev *WebhookEvent) error {
			time.Sleep(time.Second)
			finished = ctx.Err() == nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Append(t.Context(), childEvent("s", 1)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := d.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !finished {
			t.Error("the callback's context ended before it returned")
		}
		time.Sleep(2 * DefaultDeliveryLease)
		if evs, _ := in.Claim(t.Context(), 1, time.Minute); len(evs) != 0 {
			t.Error("the event finished during Close is due again")
		}
	})
}

func TestNewInboxDeliveryValidates(t *testing.T) {
	in, _ := NewMemoryInbox()
	fn := func(context.Context, *WebhookEvent) error { return nil }
	for name, tc := range map[string]struct {
		in   Inbox
		fn   func(context.Context, *WebhookEvent) error
		opt  DeliveryOption
		want string
	}{
		"nil inbox": {nil, fn, nil, "inbox"},
		"nil fn":    {in, nil, nil, "fn"},
		"workers":   {in, fn, WithDeliveryWorkers(0), "DeliveryWorkers"},
		"lease":     {in, fn, WithDeliveryLease(time.Millisecond), "DeliveryLease"},
		"attempts":  {in, fn, WithDeliveryRetry(0, time.Second, time.Second), "DeliveryRetry.MaxAttempts"},
		"backoff":   {in, fn, WithDeliveryRetry(3, time.Second, time.Millisecond), "DeliveryRetry.MaxBackoff"},
		"poll":      {in, fn, WithDeliveryPollInterval(0), "DeliveryPollInterval"},
		"timeout":   {in, fn, WithDeliveryTimeout(0), "DeliveryTimeout"},
		"handler":   {in, fn, WithDeliveryErrorHandler(nil), "DeliveryErrorHandler"},
		"logger":    {in, fn, WithDeliveryLogger(nil), "DeliveryLogger"},
	} {
		var opts []DeliveryOption
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		d, err := NewInboxDelivery(tc.in, tc.fn, opts...)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.want {
			t.Errorf("%s: %v, want a ValidationError naming %s", name, err, tc.want)
		}
		if d != nil {
			d.Close(context.Background())
		}
	}
}
