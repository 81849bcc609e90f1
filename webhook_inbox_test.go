package amojo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// appendSpy wraps an Inbox so that a test sees every Append, and can hold
// Appends back or make them fail.
type appendSpy struct {
	Inbox
	mu      sync.Mutex
	appends []InboxEvent
	entered chan struct{} // when set, told when each Append starts
	release chan struct{} // when set, each Append waits until it is closed
	fail    error         // when set, Append fails with it
}

func (s *appendSpy) Append(ctx context.Context, ev InboxEvent) (bool, error) {
	s.mu.Lock()
	s.appends = append(s.appends, ev)
	entered, release, fail := s.entered, s.release, s.fail
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if release != nil {
		<-release
	}
	if fail != nil {
		return false, fail
	}
	return s.Inbox.Append(ctx, ev)
}

// hold makes Appends wait from now on; entered tells when one starts, and
// let (which may be called more than once) lets them go on.
func (s *appendSpy) hold() (entered <-chan struct{}, let func()) {
	ch, release := make(chan struct{}, 4), make(chan struct{})
	s.mu.Lock()
	s.entered, s.release = ch, release
	s.mu.Unlock()
	var once sync.Once
	return ch, func() { once.Do(func() { close(release) }) }
}

func (s *appendSpy) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *appendSpy) all() []InboxEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]InboxEvent(nil), s.appends...)
}

func newSpy(t *testing.T) *appendSpy {
	t.Helper()
	mem, err := NewMemoryInbox()
	if err != nil {
		t.Fatal(err)
	}
	return &appendSpy{Inbox: mem}
}

// codeWriter is a ResponseRecorder that tells when the status is written.
type codeWriter struct {
	*httptest.ResponseRecorder
	code chan int
}

func newCodeWriter() *codeWriter {
	return &codeWriter{ResponseRecorder: httptest.NewRecorder(), code: make(chan int, 1)}
}

func (w *codeWriter) WriteHeader(code int) {
	w.ResponseRecorder.WriteHeader(code)
	w.code <- code
}

// serveInBackground serves r on a goroutine; served is closed when it is
// answered.
func serveInBackground(h http.Handler, r *http.Request) (w *codeWriter, served <-chan struct{}) {
	w = newCodeWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, r)
	}()
	return w, done
}

// delivered is a callback that sends each event and its id on a channel.
type delivered struct {
	ch chan deliveredEvent
}

type deliveredEvent struct {
	id string
	ev *WebhookEvent
}

func newDelivered() *delivered { return &delivered{ch: make(chan deliveredEvent, 64)} }

func (d *delivered) fn(ctx context.Context, ev *WebhookEvent) error {
	id, _ := InboxEventIDFrom(ctx)
	d.ch <- deliveredEvent{id, ev}
	return nil
}

// next returns the next delivered event, failing t when none comes.
func (d *delivered) next(t *testing.T) deliveredEvent {
	t.Helper()
	select {
	case e := <-d.ch:
		return e
	case <-time.After(time.Minute): // fake time inside a bubble
		t.Fatal("no event delivered")
		return deliveredEvent{}
	}
}

// TestWebhookInboxAnswersOnceStored: the 200 is written only after Append
// returned, and the stored event is then delivered.
func TestWebhookInboxAnswersOnceStored(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		spy := newSpy(t)
		entered, let := spy.hold()
		got := newDelivered()
		h := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(spy), WithWebhookErrorHandler(func(_ *WebhookEvent, err error) { t.Error(err) }))
		defer h.Close(context.Background())
		defer let() // before Close, also when the test fails
		w, served := serveInBackground(h, signedRequest(t, hookSecret, hookPath, textBody("m1")))
		<-entered
		synctest.Wait() // everything blocked: the handler waits in Append
		select {
		case code := <-w.code:
			t.Fatalf("answered %d before Append returned", code)
		default:
		}
		let()
		<-served
		checkAnswer(t, w.ResponseRecorder, 200, "ok")
		if e := got.next(t); e.id != InboxEventID(hookScope, textBody("m1")) || e.ev.Message.Message.ID != "m1" {
			t.Errorf("delivered %s %+v", e.id, e.ev)
		}
	})
}

// TestWebhookInboxDeliversTheSameEvent: the callback gets the event the
// synchronous handler would have got, and the inbox holds the signed bytes,
// the signature, the checked scope and the handler's time of receipt.
func TestWebhookInboxDeliversTheSameEvent(t *testing.T) {
	t.Parallel()
	signed := textBody("m1")
	sig := SignWebhook(hookSecret, signed)
	request := func() *http.Request {
		// Sent with a final newline the signature leaves out.
		r := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(append(signed[:len(signed):len(signed)], '\n')))
		r.Header.Set(WebhookSignatureHeader, sig)
		return r
	}
	received := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := WithWebhookClock(func() time.Time { return received })
	quiet := WithWebhookErrorHandler(func(_ *WebhookEvent, err error) { t.Error(err) })

	var syncEv *WebhookEvent
	hs := NewWebhookHandler(hookSecret, func(_ context.Context, ev *WebhookEvent) error { syncEv = ev; return nil }, clock, quiet)
	checkAnswer(t, serve(hs, request()), 200, "ok")

	spy := newSpy(t)
	got := newDelivered()
	h := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(spy), clock, quiet)
	defer h.Close(context.Background())
	checkAnswer(t, serve(h, request()), 200, "ok")
	e := got.next(t)
	if !reflect.DeepEqual(e.ev, syncEv) {
		t.Errorf("delivered %+v\nsynchronous handler got %+v", e.ev, syncEv)
	}
	if string(e.ev.Raw) != string(signed) || e.ev.ScopeID != hookScope {
		t.Errorf("Raw %q, ScopeID %q; want the signed bytes and %s", e.ev.Raw, e.ev.ScopeID, hookScope)
	}
	stored := spy.all()
	if len(stored) != 1 {
		t.Fatalf("%d appends, want 1", len(stored))
	}
	want := InboxEvent{ID: InboxEventID(hookScope, signed), ScopeID: hookScope, Body: signed, Signature: sig, ReceivedAt: received}
	if s := stored[0]; s.ID != want.ID || s.ScopeID != want.ScopeID || string(s.Body) != string(want.Body) || s.Signature != want.Signature || !s.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("stored %+v, want %+v", s, want)
	}
	if err := VerifyWebhook(hookSecret, stored[0].Body, stored[0].Signature); err != nil {
		t.Errorf("the stored signature does not verify the stored body: %v", err)
	}
	if e.id != want.ID || e.id != InboxEventID(e.ev.ScopeID, e.ev.Raw) {
		t.Errorf("callback's event id %q, want %q = InboxEventID(ev.ScopeID, ev.Raw)", e.id, want.ID)
	}
}

// TestWebhookInboxAppendFails: an event the inbox did not take is answered
// 503, reported, never delivered, and forgotten by the dedup memory, so that
// a copy of it is stored once the inbox works again.
func TestWebhookInboxAppendFails(t *testing.T) {
	t.Parallel()
	spy := newSpy(t)
	errDisk := errors.New("disk full")
	spy.setFail(errDisk)
	var rep reports
	got := newDelivered()
	h := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(spy), WithWebhookErrorHandler(rep.add))
	defer h.Close(context.Background())
	checkAnswer(t, postHook(t, h, textBody("m1")), 503, "not stored")
	r := rep.only(t)
	if !errors.Is(r.err, ErrWebhookNotStored) || !errors.Is(r.err, errDisk) || r.ev == nil || r.ev.Message.Message.ID != "m1" {
		t.Errorf("report %+v %v; want ErrWebhookNotStored wrapping the inbox's error, with the event", r.ev, r.err)
	}
	spy.setFail(nil)
	checkAnswer(t, postHook(t, h, textBody("m1")), 200, "ok")
	if e := got.next(t); e.ev.Message.Message.ID != "m1" {
		t.Errorf("delivered %+v", e.ev)
	}
	if n := len(rep.all()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

// TestWebhookInboxDuplicates: the dedup memory and the inbox agree on what
// a repeat is (the signed bytes for the scope): a repeat is answered 200
// "duplicate" and delivered once, whether the memory, the inbox, or the
// inbox after a restart recognises it.
func TestWebhookInboxDuplicates(t *testing.T) {
	t.Parallel()
	body := textBody("m1")
	withNewline := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, hookPath, bytes.NewReader(append(body[:len(body):len(body)], '\n')))
		r.Header.Set(WebhookSignatureHeader, SignWebhook(hookSecret, body))
		return r
	}
	cases := []struct {
		name    string
		opts    []WebhookOption
		appends int // how many copies reach the inbox
	}{
		{"dedup memory", nil, 1},
		{"inbox", []WebhookOption{WithWebhookDedup(0, 0)}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			spy := newSpy(t)
			var rep reports
			got := newDelivered()
			h := NewWebhookHandler(hookSecret, got.fn, append([]WebhookOption{WithWebhookInbox(spy), WithWebhookErrorHandler(rep.add)}, c.opts...)...)
			checkAnswer(t, postHook(t, h, body), 200, "ok")
			got.next(t)
			checkAnswer(t, serve(h, withNewline()), 200, "duplicate")
			if n := len(spy.all()); n != c.appends {
				t.Errorf("%d appends, want %d", n, c.appends)
			}
			if r := rep.only(t); !errors.Is(r.err, ErrWebhookReplay) || r.ev.Message.Message.ID != "m1" {
				t.Errorf("report %+v %v", r.ev, r.err)
			}
			if err := h.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			// A restart: a new handler, with an empty dedup memory, on the
			// same inbox.
			var rep2 reports
			h2 := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(spy), WithWebhookErrorHandler(rep2.add))
			checkAnswer(t, postHook(t, h2, body), 200, "duplicate")
			if r := rep2.only(t); !errors.Is(r.err, ErrWebhookReplay) {
				t.Errorf("after restart: report %v", r.err)
			}
			// Another webhook is another event.
			checkAnswer(t, postHook(t, h2, textBody("m2")), 200, "ok")
			if e := got.next(t); e.ev.Message.Message.ID != "m2" {
				t.Errorf("delivered %s, want m2 (m1 only once)", e.ev.Message.Message.ID)
			}
			if err := h2.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWebhookInboxRetriesThenDead: a callback that keeps failing is retried
// with back-off, then the event is parked as dead and reported to the
// handler's error handler with the event; a delivery error handler among
// the inbox's options takes the reports instead.
func TestWebhookInboxRetriesThenDead(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("delivery error handler %v", own), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				mem, err := NewMemoryInbox()
				if err != nil {
					t.Fatal(err)
				}
				errRefused := errors.New("messenger refused")
				var mu sync.Mutex
				var calls []time.Time
				var ids []string
				fn := func(ctx context.Context, ev *WebhookEvent) error {
					id, _ := InboxEventIDFrom(ctx)
					mu.Lock()
					defer mu.Unlock()
					calls, ids = append(calls, time.Now()), append(ids, id)
					return errRefused
				}
				var rep reports
				var drep deliveryReports
				dopts := []DeliveryOption{WithDeliveryRetry(3, time.Second, time.Minute)}
				if own {
					dopts = append(dopts, WithDeliveryErrorHandler(drep.handler))
				}
				h := NewWebhookHandler(hookSecret, fn, WithWebhookInbox(mem, dopts...), WithWebhookErrorHandler(rep.add))
				start := time.Now()
				checkAnswer(t, postHook(t, h, textBody("m1")), 200, "ok")
				time.Sleep(time.Hour) // fake time: every retry is due long before
				if err := h.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				id := InboxEventID(hookScope, textBody("m1"))
				if len(calls) != 3 || ids[0] != id || ids[1] != id || ids[2] != id {
					t.Fatalf("callback calls %v with ids %v; want 3 with %s", calls, ids, id)
				}
				if calls[0] != start || calls[1].Sub(calls[0]) < time.Second/2 || calls[2].Sub(calls[1]) < time.Second {
					t.Errorf("calls at %v, %v after the first: want the back-off between them", calls[1].Sub(calls[0]), calls[2].Sub(calls[0]))
				}
				dead, err := mem.Dead(t.Context(), "", 10)
				if err != nil || len(dead) != 1 || dead[0].ID != id || !strings.Contains(dead[0].LastError, "messenger refused") {
					t.Fatalf("dead events %v, %v", dead, err)
				}
				reported := rep.all()
				if own {
					reported = nil
					for _, err := range drep.got() {
						reported = append(reported, report{err: err})
					}
					if n := len(rep.all()); n != 0 {
						t.Errorf("the handler's error handler got %d reports; the delivery's should get them", n)
					}
				}
				if len(reported) != 1 || !errors.Is(reported[0].err, ErrInboxDead) || !errors.Is(reported[0].err, errRefused) {
					t.Fatalf("reports %v; want one ErrInboxDead wrapping the callback's error", reported)
				}
				if ev := reported[0].ev; !own && (ev == nil || ev.Message.Message.ID != "m1" || ev.ScopeID != hookScope) {
					t.Errorf("reported with event %+v", ev)
				}
			})
		})
	}
}

// TestWebhookInboxClose: Close waits for an append in progress, then stops
// the delivery; when its context ends it cancels the running callback, whose
// event stays in the inbox, due again; later webhooks are answered 503. No
// goroutine outlives Close (the bubble checks).
func TestWebhookInboxClose(t *testing.T) {
	t.Parallel()
	t.Run("waits for an append", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			spy := newSpy(t)
			got := newDelivered()
			var rep reports
			h := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(spy), WithWebhookErrorHandler(rep.add))
			defer h.Close(context.Background())
			entered, let := spy.hold()
			defer let()
			w, served := serveInBackground(h, signedRequest(t, hookSecret, hookPath, textBody("m1")))
			<-entered
			closed := make(chan error, 1)
			go func() { closed <- h.Close(context.Background()) }()
			synctest.Wait()
			select {
			case err := <-closed:
				t.Fatalf("Close returned (%v) with an append in progress", err)
			default:
			}
			checkAnswer(t, postHook(t, h, textBody("m2")), 503, "shutting down")
			let()
			<-served
			checkAnswer(t, w.ResponseRecorder, 200, "ok")
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			// m1 is stored: delivered before the delivery stopped, or left
			// for the next process.
			evs, err := spy.Claim(t.Context(), 10, time.Minute)
			if err != nil || len(evs)+len(got.ch) != 1 {
				t.Errorf("m1: %d delivered, %d left in the inbox (%v); want it in one place", len(got.ch), len(evs), err)
			}
			if r := rep.only(t); !errors.Is(r.err, ErrWebhookClosed) || r.ev.Message.Message.ID != "m2" {
				t.Errorf("report %+v %v", r.ev, r.err)
			}
		})
	})
	t.Run("gives up at the context deadline", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			spy := newSpy(t)
			started := make(chan string, 4)
			h := NewWebhookHandler(hookSecret, func(ctx context.Context, ev *WebhookEvent) error {
				started <- ev.Message.Message.ID
				<-ctx.Done()
				return ctx.Err()
			}, WithWebhookInbox(spy, WithDeliveryWorkers(1)), WithWebhookErrorHandler(func(_ *WebhookEvent, err error) { t.Error(err) }))
			defer h.Close(context.Background())
			checkAnswer(t, postHook(t, h, textBody("m1")), 200, "ok")
			checkAnswer(t, postHook(t, h, textBody("m2")), 200, "ok")
			if id := <-started; id != "m1" {
				t.Fatalf("callback got %s", id)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
				t.Errorf("Close = %v after %v; want the context's deadline", err, time.Since(start))
			}
			if len(started) != 0 {
				t.Errorf("%d more callbacks started", len(started))
			}
			// m1 was interrupted and is due again; m2 was never claimed.
			evs, err := spy.Claim(t.Context(), 10, time.Minute)
			if err != nil || len(evs) != 2 {
				t.Fatalf("after Close: %d events claimable, %v; want m1 and m2", len(evs), err)
			}
			for _, ev := range evs {
				switch ev.ID {
				case InboxEventID(hookScope, textBody("m1")):
					if ev.Attempts != 2 || !strings.HasPrefix(ev.LastError, "interrupted") {
						t.Errorf("m1: attempts %d, last error %q", ev.Attempts, ev.LastError)
					}
				case InboxEventID(hookScope, textBody("m2")):
					if ev.Attempts != 1 {
						t.Errorf("m2: attempts %d", ev.Attempts)
					}
				default:
					t.Errorf("claimed %s", ev)
				}
			}
		})
	})
}

// TestWebhookInboxFileOverHTTP: webhooks posted at once over loopback to a
// handler with a FileInbox are each delivered once, and the file holds
// nothing to deliver afterwards.
func TestWebhookInboxFileOverHTTP(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	in, err := NewFileInbox(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got := newDelivered()
	h := NewWebhookHandler(hookSecret, got.fn, WithWebhookInbox(in), WithWebhookErrorHandler(func(_ *WebhookEvent, err error) { t.Error(err) }))
	srv := httptest.NewServer(h)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := textBody(fmt.Sprint("m", i))
			req, _ := http.NewRequest(http.MethodPost, srv.URL+hookPath, bytes.NewReader(body))
			req.Header.Set(WebhookSignatureHeader, hmacHex(hookSecret, body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("webhook %d answered %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for range n {
		e := got.next(t)
		if seen[e.id] {
			t.Errorf("%s delivered twice", e.id)
		}
		seen[e.id] = true
	}
	srv.Close()
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	in.Close()
	again, err := NewFileInbox(path, WithInboxClock(func() time.Time { return time.Now().Add(time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if evs, err := again.Claim(t.Context(), n, time.Minute); err != nil || len(evs) != 0 {
		t.Errorf("left in the file: %d events, %v", len(evs), err)
	}
}
