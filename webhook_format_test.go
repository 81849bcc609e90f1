package amojo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// formatVerbs are the fmt verbs and flags a value may be printed with.
var formatVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%-40s"}

// renderings returns every way v can end up as text: each fmt verb, the
// text and JSON handlers of log/slog (as an attribute and inside a struct),
// and encoding/json (alone and inside a struct).
func renderings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range formatVerbs {
		out["fmt "+verb] = fmt.Sprintf(verb, v)
	}
	out["fmt Sprint"] = fmt.Sprint(v)
	out["fmt Sprintln"] = fmt.Sprintln(v)
	type wrapper struct {
		Field any
		Slice []any
		Map   map[string]any
	}
	nested := wrapper{Field: v, Slice: []any{v}, Map: map[string]any{"k": v}}
	// In an unexported field fmt cannot call v's methods and prints what it
	// reaches; %s and other verbs on a pointer dereference it once.
	hidden := struct {
		field any
		ptr   *any
	}{v, &v}
	for _, verb := range formatVerbs {
		out["fmt nested "+verb] = fmt.Sprintf(verb, nested)
		out["fmt unexported field "+verb] = fmt.Sprintf(verb, hidden)
		out["fmt pointer to unexported field "+verb] = fmt.Sprintf(verb, &hidden)
	}
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(newHandler(&buf))
		l.Info("value", "v", v)
		l.Info("nested", "w", nested)
		l.Info("group", slog.Group("g", "v", v))
		l.With("v", v).Info("with")
		out[name] = buf.String()
	}
	for name, x := range map[string]any{"json": v, "json nested": nested} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = string(b)
	}
	return out
}

// checkHidden fails if a rendering of v shows one of the secrets.
func checkHidden(t *testing.T, v any, secrets ...string) {
	t.Helper()
	for how, text := range renderings(t, v) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s of %T shows a secret: %s", how, v, text)
			}
		}
	}
}

// TestWebhookHandlerFormattingHidesSecrets: no fmt verb, by value or by
// pointer, no slog handler and no JSON encoding shows a handler's secrets.
func TestWebhookHandlerFormattingHidesSecrets(t *testing.T) {
	t.Parallel()
	const oldSecret = "0ld5ecret0ld5ecret0ld5ecret0ld5ecret0ld5"
	ok := func(context.Context, *WebhookEvent) error { return nil }
	quiet := WithWebhookErrorHandler(ignoreErrors)
	mem, err := NewMemoryInbox()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		h    *WebhookHandler
	}{
		{"sync", NewWebhookHandler(hookSecret, ok, WithWebhookSecrets(oldSecret), quiet)},
		{"async", NewWebhookHandler(hookSecret, ok, WithWebhookSecrets(oldSecret), WithWebhookAsync(3, 1), quiet)},
		{"inbox", NewWebhookHandler(hookSecret, ok, WithWebhookSecrets(oldSecret), WithWebhookInbox(mem), quiet)},
		{"misconfigured", NewWebhookHandler(hookSecret, ok, WithWebhookSecrets(oldSecret), WithWebhookMaxBody(-1), quiet)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			defer c.h.Close(t.Context())
			checkHidden(t, c.h, hookSecret, oldSecret)
			checkHidden(t, *c.h, hookSecret, oldSecret)
			if got, want := fmt.Sprintf("%#v", *c.h), c.h.String(); got != want {
				t.Errorf("%%#v = %q, want %q", got, want)
			}
		})
	}
	checkHidden(t, WebhookHandler{}, hookSecret)
	if got := fmt.Sprint(WebhookHandler{}); got != "amojo.WebhookHandler{}" {
		t.Errorf("zero handler prints %q", got)
	}
}
