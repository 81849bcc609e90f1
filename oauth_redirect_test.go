package amojo

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testOAuth = OAuthConfig{ClientID: "c1d2e3f4-0000-4000-8000-000000000001", ClientSecret: "s3cr3t-client-secret", RedirectURI: "https://app.example.com/oauth/callback"}

func TestAuthorizationURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		page string
		mode AuthMode
		want string
	}{
		{AmoCRMAuthorizationPage, "", "https://www.amocrm.ru/oauth?client_id=c1d2e3f4-0000-4000-8000-000000000001&state=st-1"},
		{KommoAuthorizationPage, AuthModePopup, "https://www.kommo.com/oauth?client_id=c1d2e3f4-0000-4000-8000-000000000001&mode=popup&state=st-1"},
		{AmoCRMAuthorizationPage, AuthModePostMessage, "https://www.amocrm.ru/oauth?client_id=c1d2e3f4-0000-4000-8000-000000000001&mode=post_message&state=st-1"},
		{"http://127.0.0.1:8080/oauth", "", "http://127.0.0.1:8080/oauth?client_id=c1d2e3f4-0000-4000-8000-000000000001&state=st-1"},
	}
	for _, tt := range tests {
		got, err := testOAuth.AuthorizationURL(tt.page, "st-1", tt.mode)
		assert.NoError(t, err, "AuthorizationURL(%s, %q)", tt.page, tt.mode)
		assert.Equal(t, tt.want, got, "AuthorizationURL(%s, %q)", tt.page, tt.mode)
		assert.NotContains(t, got, testOAuth.ClientSecret, "the URL carries the secret")
		assert.NotContains(t, got, "redirect_uri", "the URL carries a redirect_uri")
	}
	for _, bad := range []struct {
		cfg         OAuthConfig
		page, state string
		mode        AuthMode
		field       string
	}{
		{OAuthConfig{}, AmoCRMAuthorizationPage, "s", "", "OAuthConfig.ClientID"},
		{testOAuth, AmoCRMAuthorizationPage, "", "", "state"},
		{testOAuth, AmoCRMAuthorizationPage, "s", "window", "mode"},
		{testOAuth, "http://www.amocrm.ru/oauth", "s", "", "page"},
		{testOAuth, "oauth", "s", "", "page"},
	} {
		_, err := bad.cfg.AuthorizationURL(bad.page, bad.state, bad.mode)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve, "AuthorizationURL(%q, %q, %q)", bad.page, bad.state, bad.mode) {
			assert.Equal(t, bad.field, ve.Field, "AuthorizationURL(%q, %q, %q)", bad.page, bad.state, bad.mode)
		}
	}
	a, b := NewOAuthState(), NewOAuthState()
	assert.GreaterOrEqual(t, len(a), 20, "NewOAuthState gave %q", a)
	assert.NotEqual(t, a, b, "NewOAuthState twice")
}

func TestParseRedirect(t *testing.T) {
	t.Parallel()
	fake := func(h string) bool { return h == "127.0.0.1:8081" }
	tests := []struct {
		name     string
		query    string
		state    string
		allow    func(string) bool
		want     *Authorization
		wantErr  error
		badField string
	}{
		{name: "bare host", query: "code=C0DE&referer=acme.amocrm.ru&platform=1&state=st", state: "st",
			want: &Authorization{Code: "C0DE", AccountURL: "https://acme.amocrm.ru", State: "st", Platform: PlatformAmoCRM}},
		{name: "kommo URL referer", query: "code=C0DE&referer=https%3A%2F%2FAcme.Kommo.com%2F&platform=2&state=st", state: "st",
			want: &Authorization{Code: "C0DE", AccountURL: "https://acme.kommo.com", State: "st", Platform: PlatformKommo}},
		{name: "widget hook without state", query: "code=C0DE&referer=acme.amocrm.com&from_widget=1",
			want: &Authorization{Code: "C0DE", AccountURL: "https://acme.amocrm.com", FromWidget: true}},
		{name: "fake allowed", query: "code=C0DE&referer=http%3A%2F%2F127.0.0.1%3A8081&state=st", state: "st", allow: fake,
			want: &Authorization{Code: "C0DE", AccountURL: "http://127.0.0.1:8081", State: "st"}},
		{name: "denied", query: "error=access_denied&state=st", state: "st", wantErr: ErrAccessDenied},
		{name: "denied with wrong state", query: "error=access_denied&state=other", state: "st", wantErr: ErrStateMismatch},
		{name: "wrong state", query: "code=C0DE&referer=acme.amocrm.ru&state=other", state: "st", wantErr: ErrStateMismatch},
		{name: "missing state", query: "code=C0DE&referer=acme.amocrm.ru", state: "st", wantErr: ErrStateMismatch},
		{name: "unexpected state", query: "code=C0DE&referer=acme.amocrm.ru&state=st", wantErr: ErrStateMismatch},
		{name: "no code", query: "referer=acme.amocrm.ru&state=st", state: "st", badField: "code"},
		{name: "no referer", query: "code=C0DE&state=st", state: "st", badField: "referer"},
		{name: "foreign host", query: "code=C0DE&referer=evil.example.com&state=st", state: "st", badField: "referer"},
		{name: "lookalike host", query: "code=C0DE&referer=acme.amocrm.ru.evil.com&state=st", state: "st", badField: "referer"},
		{name: "www host", query: "code=C0DE&referer=www.amocrm.ru&state=st", state: "st", badField: "referer"},
		{name: "bare domain", query: "code=C0DE&referer=amocrm.ru&state=st", state: "st", badField: "referer"},
		{name: "port", query: "code=C0DE&referer=acme.amocrm.ru%3A8443&state=st", state: "st", badField: "referer"},
		{name: "credentials", query: "code=C0DE&referer=https%3A%2F%2Fu%3Ap%40acme.amocrm.ru&state=st", state: "st", badField: "referer"},
		{name: "http account host", query: "code=C0DE&referer=http%3A%2F%2Facme.amocrm.ru&state=st", state: "st", badField: "referer"},
		{name: "loopback not allowed by default", query: "code=C0DE&referer=http%3A%2F%2F127.0.0.1%3A8081&state=st", state: "st", badField: "referer"},
		{name: "bad platform", query: "code=C0DE&referer=acme.amocrm.ru&platform=x&state=st", state: "st", badField: "platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			got, err := ParseRedirect(q, tt.state, tt.allow)
			switch {
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
			case tt.badField != "":
				var ve *ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tt.badField, ve.Field)
			default:
				require.NoError(t, err)
				require.Equal(t, *tt.want, *got)
			}
			if err != nil {
				assert.NotContains(t, err.Error(), "C0DE", "the error shows the code")
			}
		})
	}
	var re *RedirectError
	_, err := ParseRedirect(url.Values{"error": {"server_error"}}, "", nil)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "server_error", re.Code)
	assert.NotErrorIs(t, err, ErrAccessDenied)
}

func TestIsAccountHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"acme.amocrm.ru": true, "acme.kommo.com": true, "acme.amocrm.com": true, "api-b.amocrm.ru": true, "ACME.AMOCRM.RU": true,
		"www.amocrm.ru": false, "amocrm.ru": false, ".amocrm.ru": false, "acme.amocrm.ru.evil": false, "acme-.amocrm.ru": false,
		"acme.amocrm.ru:443": false, "a_b.amocrm.ru": false, "evil.com/acme.amocrm.ru": false, "": false,
	} {
		assert.Equal(t, want, IsAccountHost(host), "IsAccountHost(%q)", host)
	}
	for host, want := range map[string]bool{"127.0.0.1:80": true, "localhost": true, "LOCALHOST:1": true, "[::1]:8080": true, "::1": true, "127.9.9.9": true, "10.0.0.1": false, "example.com": false} {
		assert.Equal(t, want, IsLoopbackHost(host), "IsLoopbackHost(%q)", host)
	}
}

func FuzzParseRedirect(f *testing.F) {
	f.Add("code=C0DE&referer=acme.amocrm.ru&platform=1&state=st", "st")
	f.Add("error=access_denied&state=st", "st")
	f.Add("code=x&referer=http%3A%2F%2F127.0.0.1%3A1&state=", "")
	f.Add("code=x&referer=%5B%3A%3A1%5D&from_widget", "")
	f.Fuzz(func(t *testing.T, query, state string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		a, err := ParseRedirect(q, state, IsLoopbackHost)
		if err != nil {
			return
		}
		u, perr := url.Parse(a.AccountURL)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" || u.User != nil {
			t.Fatalf("account URL %q from %q", a.AccountURL, query)
		}
		if !IsAccountHost(u.Host) && !IsLoopbackHost(u.Host) {
			t.Fatalf("host %q accepted from %q", u.Host, query)
		}
		if u.Scheme == "http" && !IsLoopbackHost(u.Host) {
			t.Fatalf("plain http to %q accepted", u.Host)
		}
		if a.Code == "" || a.State != state {
			t.Fatalf("accepted %+v for state %q", a, state)
		}
	})
}
