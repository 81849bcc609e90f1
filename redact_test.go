package amojo

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets of the formatting tests: long and distinctive, so that finding one
// in an output means it leaked.
const (
	fmtSecret = "channel-secret-4e1f9a0c77d2b3"
	fmtToken  = "bearer-token-91c2d8e05fa4b7"
)

// secretHolders returns every value of the package that holds fmtSecret or
// fmtToken, by value and by pointer, and the internals a client is made of.
func secretHolders(t *testing.T) map[string]any {
	t.Helper()
	c, err := NewClient("channel-1", fmtSecret, WithBaseURL("https://amojo.example"))
	require.NoError(t, err)
	crm, err := NewCRMClient("https://example.amocrm.example", StaticToken(fmtToken))
	require.NoError(t, err)
	tok := StaticToken(fmtToken)
	fn := TokenFunc(func(context.Context) (string, error) { return fmtToken, nil })
	type config struct {
		Token  StaticToken
		Client Client
		CRM    CRMClient
	}
	cfg := config{Token: tok, Client: *c, CRM: *crm}
	return map[string]any{
		"*Client":              c,
		"Client":               *c,
		"*CRMClient":           crm,
		"CRMClient":            *crm,
		"StaticToken":          tok,
		"*StaticToken":         &tok,
		"TokenSource":          TokenSource(tok),
		"TokenFunc":            fn,
		"struct of them":       cfg,
		"*struct of them":      &cfg,
		"[]StaticToken":        []StaticToken{tok},
		"Client's requester":   c.r,
		"Client's *requester":  *c.r,
		"Client's options":     *c.r.o,
		"CRMClient's *options": crm.r.o,
	}
}

// assertNoSecret fails if out shows fmtSecret or fmtToken, as text or in hex.
func assertNoSecret(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{fmtSecret, fmtToken} {
		assert.NotContains(t, out, s)
		assert.NotContains(t, out, hex.EncodeToString([]byte(s)))
	}
}

func TestSecretsNeverShowWhenFormatted(t *testing.T) {
	t.Parallel()
	for name, v := range secretHolders(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.40s"} {
				out := fmt.Sprintf(verb, v)
				assertNoSecret(t, out)
			}
			assertNoSecret(t, fmt.Sprint(v))
			assertNoSecret(t, fmt.Sprintln(v))

			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v, slog.Group("g", "v", v))
			slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v, slog.Group("g", "v", v))
			assertNoSecret(t, text.String())
			assertNoSecret(t, js.String())

			if b, err := json.Marshal(v); err == nil {
				assertNoSecret(t, string(b))
			}
		})
	}
}

func TestFormattedClientsDescribeThemselves(t *testing.T) {
	t.Parallel()
	h := secretHolders(t)
	assert.Equal(t, "amojo.Client{channel: channel-1, base: https://amojo.example}", fmt.Sprintf("%#v", h["Client"]))
	assert.Equal(t, "amojo.CRMClient{base: https://example.amocrm.example}", fmt.Sprintf("%+v", h["*CRMClient"]))
	assert.Equal(t, `"amojo.StaticToken(redacted)"`, fmt.Sprintf("%q", h["StaticToken"]))
	b, err := json.Marshal(h["StaticToken"])
	require.NoError(t, err)
	assert.JSONEq(t, `"amojo.StaticToken(redacted)"`, string(b))

	var js bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "client", h["Client"])
	assert.Contains(t, js.String(), `"client":{"channel":"channel-1","base":"https://amojo.example"}`)

	// The zero value prints too, instead of panicking.
	assert.Equal(t, "amojo.Client{channel: , base: }", fmt.Sprint(Client{}))
	// And the token still works as a token.
	got, err := StaticToken(fmtToken).Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, fmtToken, got)
}
