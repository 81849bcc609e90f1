package amojo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// logLines collects log lines, safely from several goroutines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// with returns the lines that contain every one of parts.
func (l *logLines) with(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.buf.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// TestWebhookHandlerRefusalLogLimit: a flood of junk requests gives a few
// log lines and one summary per interval, while the error handler still gets
// every refusal and every lost event is still logged.
func TestWebhookHandlerRefusalLogLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var logs logLines
		var rep reports
		h := NewWebhookHandler(hookSecret, func(_ context.Context, ev *WebhookEvent) error {
			return errors.New("messenger down")
		}, WithWebhookErrorHandler(rep.add), WithWebhookLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		junk := func() { serve(h, signedRequest(t, "not the secret", hookPath, textBody("junk"))) }

		for range 1000 {
			junk()
		}
		if n := len(rep.all()); n != 1000 {
			t.Errorf("%d refusals reported, want 1000", n)
		}
		if n := len(logs.with("level=WARN", "invalid signature")); n != DefaultWebhookLogLines {
			t.Errorf("%d lines for 1000 refusals, want %d", n, DefaultWebhookLogLines)
		}
		if n := len(logs.with("refusals not logged")); n != 0 {
			t.Errorf("%d summaries before the interval ended", n)
		}

		// Lost events are each logged, whatever the refusals did.
		for i := range 5 {
			checkAnswer(t, serve(h, signedRequest(t, hookSecret, hookPath, textBody(fmt.Sprint("m", i)))), 500, "handler error")
		}
		if n := len(logs.with(`msg="amojo webhook not handled"`, "level=ERROR", "messenger down")); n != 5 {
			t.Errorf("%d lines for 5 failed events, want 5", n)
		}

		// The first refusal after the interval logs the summary, then itself.
		time.Sleep(DefaultWebhookLogInterval)
		junk()
		sums := logs.with("refusals not logged", "level=WARN", "count=990", "reasons.invalid_signature=990")
		if len(sums) != 1 {
			t.Errorf("summaries %q, want one counting 990 invalid signatures:\n%s", sums, logs.with("refusals"))
		}
		if n := len(logs.with(`msg="amojo webhook refused"`)); n != DefaultWebhookLogLines+1 {
			t.Errorf("%d refusal lines, want %d", n, DefaultWebhookLogLines+1)
		}

		// Close logs what the current interval held back, by reason.
		for range DefaultWebhookLogLines {
			junk()
		}
		postHook(t, h, []byte("[]"))
		serve(h, signedRequest(t, hookSecret, "/hooks/x", textBody("m9")))
		if err := h.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if sums := logs.with("refusals not logged", "count=3", "reasons.invalid_signature=1", "reasons.malformed=1", "reasons.scope=1"); len(sums) != 1 {
			t.Errorf("no summary at Close:\n%s", logs.with("refusals"))
		}
		if n := len(rep.all()); n != 1000+5+1+DefaultWebhookLogLines+2 {
			t.Errorf("%d reports, want every refusal and failure", n)
		}
	})
}

// TestWebhookHandlerLogLimitOption: WithWebhookLogLimit(0, d) logs summaries
// only, one per interval with refusals.
func TestWebhookHandlerLogLimitOption(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var logs logLines
		h := NewWebhookHandler(hookSecret, func(context.Context, *WebhookEvent) error { return nil },
			WithWebhookLogLimit(0, time.Second), WithWebhookLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		for i := range 30 {
			serve(h, signedRequest(t, "not the secret", hookPath, textBody("junk")))
			if i%10 == 9 {
				time.Sleep(time.Second)
			}
		}
		if err := h.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := len(logs.with(`msg="amojo webhook refused"`)); n != 0 {
			t.Errorf("%d refusal lines, want none", n)
		}
		if n := len(logs.with("refusals not logged", "count=10")); n != 3 {
			t.Errorf("%d summaries of 10, want 3:\n%s", n, logs.with(""))
		}
	})
}
