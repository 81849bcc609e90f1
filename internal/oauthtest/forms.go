package oauthtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// Verbs are the fmt verbs Forms prints a value with.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%T", "%10.3v"}

// Forms returns the ways v can end up printed, by the name of each: every
// verb of Verbs, v in a slice and in a struct, its JSON, and slog lines about
// it (text and JSON handlers, as an attribute and in a group). A type that
// holds a secret keeps it out of all of them.
func Forms(t *testing.T, v any) map[string]string {
	t.Helper()
	forms := make(map[string]string)
	for _, verb := range Verbs {
		forms[verb] = fmt.Sprintf(verb, v)
	}
	forms["in a slice"] = fmt.Sprintf("%+v", []any{v})
	forms["in a struct"] = fmt.Sprintf("%+v", struct{ V any }{v})
	b, err := json.Marshal(v)
	if err != nil {
		t.Errorf("%T: json: %v", v, err)
	}
	forms["JSON"] = string(b)
	for name, h := range map[string]func(io.Writer) slog.Handler{
		"slog text": func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
		"slog JSON": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(h(&buf))
		l.Info("value", "v", v)
		l.Info("group", slog.Group("g", slog.Any("v", v)))
		forms[name] = buf.String()
	}
	return forms
}
