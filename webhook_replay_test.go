package amojo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// bodyAt is a text message webhook with message id id, generated at unix
// second at (0: no time), for account hookScope's account.
func bodyAt(id string, at int64) []byte {
	tm := ""
	if at != 0 {
		tm = fmt.Sprintf(`,"time":%d`, at)
	}
	return []byte(`{"account_id":"52e591f7-c98f-4255-8495-827210138c81"` + tm + `,"message":{"conversation":{"id":"c","client_id":"mine"},"message":{"id":"` + id + `","type":"text","text":"hi"}}}`)
}

// TestWebhookHandlerRawIsSignedBytes: an event's Raw is exactly what the
// signature covers, not what the sender added after it.
func TestWebhookHandlerRawIsSignedBytes(t *testing.T) {
	t.Parallel()
	x := textBody("m1")
	cases := []struct {
		name     string
		body     []byte
		signedAs []byte
	}{
		{"newline after the signed body", append(bytes.Clone(x), '\n'), x},
		{"CRLF after the signed body", append(bytes.Clone(x), "\r\n"...), x},
		{"newline signed", append(bytes.Clone(x), '\n'), append(bytes.Clone(x), '\n')},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got events
			h := NewWebhookHandler(hookSecret, got.record)
			r := signedRequest(t, hookSecret, hookPath, c.body)
			r.Header.Set("X-Signature", SignWebhook(hookSecret, c.signedAs))
			checkAnswer(t, serve(h, r), 200, "ok")
			if all := got.all(); len(all) != 1 || !bytes.Equal(all[0].Raw, c.signedAs) {
				t.Fatalf("events %v, want Raw = the signed bytes %q", all, c.signedAs)
			}
		})
	}
}

// TestWebhookHandlerRefusesReplays: a repeat of an accepted event (its
// signed bytes, or its scope and message id) is answered "duplicate",
// reported with the event, and never reaches the callback a second time.
func TestWebhookHandlerRefusesReplays(t *testing.T) {
	t.Parallel()
	const otherChannelScope = "0d1f0f5e-8d8b-4f39-a4a3-2e0b8a2c7b11_52e591f7-c98f-4255-8495-827210138c81"
	type send struct {
		path     string
		body     []byte
		signedAs []byte // nil: body
	}
	first := send{path: hookPath, body: textBody("m1")}
	cases := []struct {
		name   string
		repeat send
		dup    bool
	}{
		{"the same request", first, true},
		{"a newline added after the signed bytes", send{hookPath, append(textBody("m1"), '\n'), textBody("m1")}, true},
		{"the same message id in another body", send{hookPath, bodyAt("m1", 1639572999), nil}, true},
		{"the same body to another channel's path", send{"/amojo/webhook/" + otherChannelScope, textBody("m1"), nil}, true},
		{"another message", send{hookPath, textBody("m2"), nil}, false},
		{"the same message id, signed newline", send{hookPath, append(textBody("m1"), '\n'), nil}, true},
	}
	for _, mode := range []struct {
		name string
		opts []WebhookOption
	}{{"sync", nil}, {"async", []WebhookOption{WithWebhookAsync(8, 1)}}} {
		for _, c := range cases {
			t.Run(mode.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				var got events
				var rep reports
				h := NewWebhookHandler(hookSecret, got.record, append(mode.opts, WithWebhookErrorHandler(rep.add))...)
				post := func(s send) httpResult {
					r := signedRequest(t, hookSecret, s.path, s.body)
					if s.signedAs != nil {
						r.Header.Set("X-Signature", SignWebhook(hookSecret, s.signedAs))
					}
					return resultOf(serve(h, r))
				}
				if r := post(first); r.code != 200 || r.text != "ok\n" {
					t.Fatalf("first: %d %q", r.code, r.text)
				}
				r := post(c.repeat)
				if err := h.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				if !c.dup {
					if r.code != 200 || r.text != "ok\n" || len(got.all()) != 2 || len(rep.all()) != 0 {
						t.Errorf("not a repeat: %d %q, %d events, reports %v", r.code, r.text, len(got.all()), rep.all())
					}
					return
				}
				if r.code != 200 || r.text != "duplicate\n" {
					t.Errorf("repeat answered %d %q, want 200 duplicate", r.code, r.text)
				}
				if n := len(got.all()); n != 1 {
					t.Errorf("callback called %d times, want once", n)
				}
				rp := rep.only(t)
				if !errors.Is(rp.err, ErrWebhookReplay) || rp.ev == nil || rp.ev.Message.Message.ID != "m1" {
					t.Errorf("report %+v %v", rp.ev, rp.err)
				}
			})
		}
	}
}

type httpResult struct {
	code int
	text string
}

func resultOf(w *httptest.ResponseRecorder) httpResult { return httpResult{w.Code, w.Body.String()} }

// TestWebhookHandlerDedupWindow: an event is remembered for the window, and
// accepted again after it.
func TestWebhookHandlerDedupWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		opts   []WebhookOption
		window time.Duration
	}{
		{"default", nil, DefaultWebhookDedupWindow},
		{"WithWebhookDedup", []WebhookOption{WithWebhookDedup(time.Minute, 10)}, time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error { return nil },
					append(c.opts, WithWebhookErrorHandler(ignoreErrors))...)
				defer h.Close(t.Context())
				body := textBody("m1")
				checkAnswer(t, postHook(t, h, body), 200, "ok")
				time.Sleep(c.window - time.Second)
				checkAnswer(t, postHook(t, h, body), 200, "duplicate")
				time.Sleep(time.Second)
				checkAnswer(t, postHook(t, h, body), 200, "ok")
			})
		})
	}
}

// TestWebhookHandlerDedupSize: the memory holds at most size events; the
// oldest are forgotten first.
func TestWebhookHandlerDedupSize(t *testing.T) {
	t.Parallel()
	h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error { return nil },
		WithWebhookDedup(time.Hour, 2), WithWebhookErrorHandler(ignoreErrors))
	defer h.Close(t.Context())
	post := func(id string) httpResult {
		return resultOf(postHook(t, h, textBody(id)))
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		if r := post(id); r.text != "ok\n" {
			t.Fatalf("%s: %q", id, r.text)
		}
	}
	if r := post("m3"); r.text != "duplicate\n" {
		t.Errorf("m3 again: %q, want duplicate", r.text)
	}
	if r := post("m1"); r.text != "ok\n" {
		t.Errorf("m1 again: %q, want ok (forgotten, the oldest of three)", r.text)
	}
	for i := range 1000 {
		post(fmt.Sprint("n", i))
	}
	if n := h.c.dedup.len(); n != 2 {
		t.Errorf("%d events remembered, want 2", n)
	}
	if n := len(h.c.dedup.order) - h.c.dedup.head; n > 2 {
		t.Errorf("%d entries kept in order, want at most 2", n)
	}
}

// TestWebhookHandlerDedupForgetsFailures: an event answered with an error is
// forgotten, so that a copy of it is still handled; a timed-out callback,
// which may yet finish, keeps its event remembered.
func TestWebhookHandlerDedupForgetsFailures(t *testing.T) {
	t.Parallel()
	t.Run("callback error", func(t *testing.T) {
		t.Parallel()
		calls := 0
		h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error {
			calls++
			if calls == 1 {
				return errors.New("messenger down")
			}
			return nil
		}, WithWebhookErrorHandler(ignoreErrors))
		defer h.Close(t.Context())
		body := textBody("m1")
		checkAnswer(t, postHook(t, h, body), 500, "handler error")
		checkAnswer(t, postHook(t, h, body), 200, "ok")
		checkAnswer(t, postHook(t, h, body), 200, "duplicate")
		if calls != 2 {
			t.Errorf("%d calls, want 2", calls)
		}
	})
	t.Run("queue full", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			h := NewWebhookHandler(hookSecret, blockUntil(release), WithWebhookAsync(0, 1), WithWebhookErrorHandler(ignoreErrors))
			synctest.Wait() // the worker waits for an event
			checkAnswer(t, postHook(t, h, textBody("m1")), 200, "ok")
			synctest.Wait()
			checkAnswer(t, postHook(t, h, textBody("m2")), 503, "queue full")
			close(release)
			synctest.Wait()
			checkAnswer(t, postHook(t, h, textBody("m2")), 200, "ok")
			if err := h.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error { return nil },
			WithWebhookErrorHandler(ignoreErrors))
		if err := h.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, postHook(t, h, textBody("m1")), 503, "shutting down")
		if n := h.c.dedup.len(); n != 0 {
			t.Errorf("%d events remembered after a refusal at close", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			h := NewWebhookHandler(hookSecret, blockUntil(release), WithWebhookErrorHandler(ignoreErrors))
			body := textBody("m1")
			checkAnswer(t, postHook(t, h, body), 503, "handler timeout")
			checkAnswer(t, postHook(t, h, body), 200, "duplicate")
			close(release)
			if err := h.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestWebhookHandlerDedupOff(t *testing.T) {
	t.Parallel()
	calls := 0
	h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error {
		calls++
		return nil
	}, WithWebhookDedup(0, 0))
	defer h.Close(t.Context())
	for range 3 {
		checkAnswer(t, postHook(t, h, textBody("m1")), 200, "ok")
	}
	if calls != 3 {
		t.Errorf("%d calls, want 3", calls)
	}
}

// TestWebhookHandlerMaxAge: with a maximum age, an event whose signed time is
// too far from the clock, or missing, is refused and reported; without one,
// any time passes.
func TestWebhookHandlerMaxAge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cases := []struct {
		name  string
		opts  []WebhookOption
		at    time.Time
		stale bool
	}{
		{"fresh", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, now.Add(-14 * time.Minute), false},
		{"at the limit", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, now.Add(-15 * time.Minute), false},
		{"too old", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, now.Add(-16 * time.Minute), true},
		{"slightly ahead", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, now.Add(14 * time.Minute), false},
		{"too far ahead", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, now.Add(16 * time.Minute), true},
		{"no time", []WebhookOption{WithWebhookMaxAge(15 * time.Minute)}, time.Time{}, true},
		{"no maximum age: years old", nil, now.AddDate(-5, 0, 0), false},
		{"no maximum age: no time", nil, time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var got events
			var rep reports
			h := NewWebhookHandler(hookSecret, got.record, append(c.opts, WithWebhookClock(clock), WithWebhookErrorHandler(rep.add))...)
			defer h.Close(t.Context())
			var at int64
			if !c.at.IsZero() {
				at = c.at.Unix()
			}
			w := postHook(t, h, bodyAt("m1", at))
			if !c.stale {
				checkAnswer(t, w, 200, "ok")
				if len(got.all()) != 1 || len(rep.all()) != 0 {
					t.Errorf("events %v, reports %v", got.all(), rep.all())
				}
				return
			}
			checkAnswer(t, w, 400, "stale event")
			if len(got.all()) != 0 {
				t.Error("the callback got a stale event")
			}
			if rp := rep.only(t); !errors.Is(rp.err, ErrWebhookStale) || rp.ev == nil || rp.ev.ScopeID != hookScope {
				t.Errorf("report %+v %v", rp.ev, rp.err)
			}
		})
	}
}

// TestDedupSetReleasesStayBounded: events accepted and released again (a
// full queue under a flood) leave no unbounded trail.
func TestDedupSetReleasesStayBounded(t *testing.T) {
	t.Parallel()
	d := newDedupSet(time.Hour, 10)
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		ev := &WebhookEvent{Raw: fmt.Appendf(nil, `{"n":%d}`, i)}
		c, ok := d.claim(ev, now)
		if !ok {
			t.Fatalf("event %d refused", i)
		}
		if i%10 != 9 { // nine in ten are released, the last one kept
			c.release()
		}
	}
	if n := d.len(); n != 10 {
		t.Errorf("%d remembered, want 10", n)
	}
	if n, max := len(d.order)-d.head, 2*10+1; n > max {
		t.Errorf("%d entries in order, want at most %d", n, max)
	}
	if n := len(d.owner); n != 10 {
		t.Errorf("%d keys, want 10", n)
	}
}
