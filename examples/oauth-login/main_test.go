package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token.json")
	var out, errOut strings.Builder
	code := run(t.Context(), []string{"-token-file", path}, func(string) string { return "" }, &out, &errOut)
	if code != exitOK || errOut.String() != "" {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`1\. Authorization URL, where the user grants access:\n   http://127\.0\.0\.1:\d+/oauth\?client_id=` + amojotest.DefaultClientID + `&mode=post_message&state=\w+\n`),
		regexp.MustCompile(`2\. Consent \(simulated\): the fake granted access and called the Redirect URI\n   http://127\.0\.0\.1:\d+/oauth/callback\?code=…&referer=http://127\.0\.0\.1:\d+&platform=1&state=…\n   state checked; account http://127\.0\.0\.1:\d+\n`),
		regexp.MustCompile(`3\. Exchange: POST http://127\.0\.0\.1:\d+/oauth2/access_token → access token valid until \S+, refresh token #[0-9a-f]{8}\n`),
		regexp.MustCompile(`4\. Token file written: ` + regexp.QuoteMeta(path) + ` \(mode 0600\)\n`),
		regexp.MustCompile(`5\. REST call: GET /api/v4/account → "Example account" \(id 29283370\)\n`),
		regexp.MustCompile(`6\. Forced expiry: the fake stops accepting its access tokens \(1 expired\)`),
		regexp.MustCompile(`7\. REST call again: answered 401 then 200; the token source refreshed \(1 refresh request\) and sent the call once more → "Example account"\n`),
		regexp.MustCompile(`8\. Rotated pair saved in ` + regexp.QuoteMeta(path) + `: refresh token (#[0-9a-f]{8}) → (#[0-9a-f]{8}), access token valid until \S+\n`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if m := regexp.MustCompile(`refresh token (#\w+) → (#\w+)`).FindStringSubmatch(out.String()); m == nil || m[1] == m[2] {
		t.Errorf("the refresh token did not rotate: %v", m)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("token file: %v %v", fi, err)
		}
	}
	store, _ := amojo.NewFileTokenStore(path)
	if _, err := store.Load(t.Context()); err != nil {
		t.Errorf("the token file does not load: %v", err)
	}
}

// lineReader hands out what the program prints, line by line.
type lineReader struct {
	lines chan string
	w     *io.PipeWriter
}

func newLineReader() *lineReader {
	r, w := io.Pipe()
	l := &lineReader{lines: make(chan string, 100), w: w}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
	return l
}

func (l *lineReader) find(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				t.Fatalf("output ended before %s", re)
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no line %s", re)
		}
	}
}

// startLogin runs the real flow with the fake standing in for amoCRM: the
// authorization page it prints is the fake's, the fake's referer is
// accepted, and the Redirect URI's listener is opened by the test.
// errOut may be read once done has delivered the exit status.
func startLogin(t *testing.T, srvOpts ...amojotest.Option) (srv *amojotest.Server, redirectURI string, out *lineReader, errOut *strings.Builder, done chan int, path string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirectURI = "http://" + ln.Addr().String() + "/cb"
	srv = amojotest.NewServer(append(srvOpts, amojotest.WithOAuthClient(amojotest.OAuthClient{ID: "cid", Secret: "csecret", RedirectURI: redirectURI}))...)
	t.Cleanup(srv.Close)
	path = filepath.Join(t.TempDir(), "token.json")
	env := map[string]string{"AMOCRM_CLIENT_ID": "cid", "AMOCRM_CLIENT_SECRET": "csecret", "AMOCRM_REDIRECT_URI": redirectURI}
	out, errOut, done = newLineReader(), &strings.Builder{}, make(chan int, 1)
	go func() {
		done <- runWith(t.Context(), []string{"-token-file", path}, func(k string) string { return env[k] }, out.w, errOut,
			hooks{page: srv.AuthorizationPage(), allowHost: srv.IsHost, listener: ln})
		out.w.Close()
	}()
	return srv, redirectURI, out, errOut, done, path
}

func TestLogin(t *testing.T) {
	t.Parallel()
	srv, redirectURI, out, errOut, done, path := startLogin(t)
	authURL := out.find(t, regexp.MustCompile(`^  (http://\S+/oauth\?client_id=cid&state=\w+)$`))[1]
	out.find(t, regexp.MustCompile(`^Waiting for amoCRM's redirect to `+regexp.QuoteMeta(redirectURI)))

	// A redirect of another attempt is refused, and the program waits on.
	resp, err := http.Get(redirectURI + "?code=x&referer=acme.amocrm.ru&state=other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong state: %d", resp.StatusCode)
	}
	// The browser: the fake's page consents and redirects to the program.
	resp, err = srv.HTTPClient().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Access granted") {
		t.Errorf("redirect answered %d %s", resp.StatusCode, body)
	}
	out.find(t, regexp.MustCompile(`^Redirect received \(state checked\): account `+regexp.QuoteMeta(srv.URL)+`\.$`))
	out.find(t, regexp.MustCompile(`^Token file written: `+regexp.QuoteMeta(path)+` \(mode 0600\)`))
	out.find(t, regexp.MustCompile(`^REST check: account "Example account"`))
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "another state was refused") {
		t.Errorf("stderr %q", errOut.String())
	}
	store, _ := amojo.NewFileTokenStore(path)
	if tok, err := store.Load(t.Context()); err != nil || tok.RefreshToken != srv.OAuthStats().RefreshToken {
		t.Errorf("token file: %v", err)
	}
}

func TestLoginDenied(t *testing.T) {
	t.Parallel()
	_, redirectURI, out, errOut, done, _ := startLogin(t)
	authURL := out.find(t, regexp.MustCompile(`^  (http://\S+)$`))[1]
	u, _ := url.Parse(authURL)
	resp, err := http.Get(redirectURI + "?error=access_denied&state=" + u.Query().Get("state"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := <-done; code != exitFailed || !strings.Contains(errOut.String(), "denied access") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

func TestConfiguration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{map[string]string{"AMOCRM_CLIENT_ID": "x"}, nil, exitUsage, "set AMOCRM_CLIENT_SECRET and AMOCRM_REDIRECT_URI too"},
		{map[string]string{"AMOCRM_CLIENT_ID": "x", "AMOCRM_CLIENT_SECRET": "s", "AMOCRM_REDIRECT_URI": "https://app.example.com/cb"}, []string{"-token-file", filepath.Join(t.TempDir(), "t.json")}, exitUsage, "must be http://127.0.0.1:PORT"},
		{nil, []string{"-timeout", "0s"}, exitUsage, "-timeout must be positive"},
		{nil, []string{"extra"}, exitUsage, "unexpected argument"},
		{nil, []string{"-h"}, exitOK, "-token-file"},
	} {
		var out, errOut strings.Builder
		code := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want %d and %q", tt.env, tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
}
