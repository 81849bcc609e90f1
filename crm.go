package amojo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// DefaultCRMRateLimit is amoCRM's REST v4 limit: 7 requests per second.
const DefaultCRMRateLimit = 7

// TokenSource supplies the OAuth access token (or long-lived token) for REST v4
// calls. It is called once per request attempt and must be safe for concurrent
// use. For OAuth use OAuthTokenSource, which saves every rotated refresh token
// and serialises refreshes across processes (see TokenRefresher for a 401).
// An oauth2.TokenSource fits in two lines, but refreshes without either:
//
//	tokens := amojo.TokenFunc(func(ctx context.Context) (string, error) {
//		t, err := oauthSource.Token()
//		if err != nil {
//			return "", err
//		}
//		return t.AccessToken, nil
//	})
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to a TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken is a TokenSource that always returns the same token, such as an
// amoCRM long-lived token. Printed with any fmt verb, logged with log/slog or
// marshalled (JSON, text) it reads "amojo.StaticToken(redacted)": only Token
// gives the token.
type StaticToken string

// Token returns the token itself.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

const staticTokenText = "amojo.StaticToken(redacted)"

// String hides the token.
func (t StaticToken) String() string { return staticTokenText }

// Format hides the token for every verb (%#v, %x and %q included).
func (t StaticToken) Format(f fmt.State, verb rune) { formatRedacted(f, verb, staticTokenText) }

// LogValue hides the token from log/slog.
func (t StaticToken) LogValue() slog.Value { return slog.StringValue(staticTokenText) }

// MarshalText hides the token from encoding/json and other encoders.
func (t StaticToken) MarshalText() ([]byte, error) { return []byte(staticTokenText), nil }

// CRMClient calls the amoCRM REST v4 API (https://{subdomain}.amocrm.ru or
// https://{subdomain}.kommo.com) with a Bearer token. It shares the chats
// client's request path: retries, typed errors and logging. By default it
// limits itself to DefaultCRMRateLimit requests in any one-second window,
// shared by every goroutine that uses it, so a burst of calls is spread out
// instead of earning 429s: the first 7 go at once, the next 7 a second later,
// and so on. WithRateLimit replaces that window by a token bucket of the given
// rate and burst (or, with 0, turns limiting off). It never sends cookies,
// even when the http.Client given by WithHTTPClient has a cookie jar. It is
// safe for concurrent use. Printed with any fmt verb, logged with log/slog or
// marshalled to JSON, it shows its base URL, never its token.
//
// Its calls are those a chat integration needs: Account and Users for the
// amojo ids, CreateContacts, FindContacts, LinkChats and ChatLinks for the
// contacts of chats; the sources calls (AddSources, …), the chat templates
// calls with their WhatsApp review (AddChatTemplates, SendChatTemplateForReview,
// …), GetTalk and CloseTalk, and ChatEvents for what happened in the chats.
type CRMClient struct {
	tokens TokenSource
	r      *requester
}

// NewCRMClient returns a REST v4 client for the account at baseURL, such as
// "https://example.amocrm.ru". Any https URL is accepted (a proxy), plain
// http:// only for a loopback host (a test server) or with WithInsecureHTTP.
// tokens must not be nil. A WithBaseURL option overrides baseURL.
func NewCRMClient(baseURL string, tokens TokenSource, opts ...Option) (*CRMClient, error) {
	if tokens == nil {
		return nil, invalid("tokens", "nil TokenSource")
	}
	o, err := buildOptions("", append([]Option{WithBaseURL(baseURL)}, opts...))
	if err != nil {
		return nil, err
	}
	c := &CRMClient{tokens: tokens}
	// By default at most 7 in any one-second window: never more than amoCRM
	// allows, however the server counts (per second, sliding, or token bucket).
	c.r = newRequester(o, newWindowLimiter(DefaultCRMRateLimit, time.Second), c.bearer)
	c.r.rest = true
	c.tokens, c.r.rejected = checkLongLivedExpiry(tokens, o.now), tokenRejectedHook(tokens)
	return c, nil
}

func (c *CRMClient) bearer(ctx context.Context, req *http.Request, _ []byte, _ time.Time) error {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return fmt.Errorf("token source: %w", err)
	}
	if tok == "" {
		return errors.New("token source returned an empty token")
	}
	if strings.ContainsAny(tok, "\r\n") {
		return errors.New("token source returned a token with a line break")
	}
	req.Header["Authorization"] = []string{"Bearer " + tok}
	req.Header["Content-Type"] = []string{ContentTypeJSON}
	return nil
}

// BaseURL returns the REST API address the client talks to.
func (c *CRMClient) BaseURL() string { return c.r.baseURL() }

// CloseIdleConnections closes the connections the client keeps open for
// reuse; calls made later dial again. With WithHTTPClient it closes the idle
// connections of that client's transport.
func (c *CRMClient) CloseIdleConnections() { c.r.closeIdleConnections() }

// String describes the client without its token.
func (c CRMClient) String() string { return "amojo.CRMClient{base: " + c.r.baseURL() + "}" }

// Format prints the client as String does, for every verb (%#v included).
func (c CRMClient) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue describes the client to log/slog without its token.
func (c CRMClient) LogValue() slog.Value { return slog.GroupValue(slog.String("base", c.r.baseURL())) }
