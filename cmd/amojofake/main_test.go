package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe output sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMain runs the program's main instead of the tests when asked, so
// TestSignal can start it as a process.
func TestMain(m *testing.M) {
	if os.Getenv("AMOJOFAKE_RUN_MAIN") == "1" {
		os.Args = append([]string{"amojofake"}, strings.Fields(os.Getenv("AMOJOFAKE_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSignal starts the program as a process and stops it with SIGTERM and
// SIGINT: it must exit 0 after saying so.
func TestSignal(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on windows")
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "AMOJOFAKE_RUN_MAIN=1", "AMOJOFAKE_ARGS=-addr 127.0.0.1:0 -token t1")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var out strings.Builder
		var base string
		for base == "" && sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if strings.Contains(line, "REST v4:") {
				base = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "REST v4:")), "/api/v4/")
			}
		}
		if base == "" {
			t.Fatalf("no URL printed: %s", out.String())
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(base + "/api/v4/account")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("unauthenticated REST call: %d", resp.StatusCode)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(stdout)
		out.Write(rest)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: exit: %v", sig, err)
		}
		if !strings.Contains(out.String(), "amojofake: stopped") {
			t.Errorf("%v: output %s", sig, out.String())
		}
	}
}

// started is a run of the program in the test process.
type started struct {
	base        string
	out, errOut syncBuffer
	cancel      context.CancelFunc
	done        chan error
}

// start runs the program with args until the test ends or cancel.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	p := &started{cancel: cancel, done: make(chan error, 1)}
	urls := make(chan string, 1)
	go func() { p.done <- run(ctx, args, &p.out, &p.errOut, func(u string) { urls <- u }) }()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	select {
	case p.base = <-urls:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("run ended: %v; %s", err, p.errOut.String())
	}
	return p
}

func TestRun(t *testing.T) {
	p := start(t, "-addr", "127.0.0.1:0", "-channel-id", "chan-1", "-channel-secret", "s3cret",
		"-account-id", "acc-1", "-token", "tok-1", "-client-id", "cid-1", "-client-secret", "csecret-1",
		"-redirect-uri", "http://127.0.0.1:9/cb", "-access-token-lifetime", "90s")
	base, cancel, done, out := p.base, p.cancel, p.done, &p.out
	for _, want := range []string{base + "/v2/origin/custom/", base + "/api/v4/", base + "/amojotest/", "chan-1", "s3cret", "acc-1", "tok-1", "chan-1_acc-1",
		base + "/oauth2/access_token", "cid-1", "csecret-1", "http://127.0.0.1:9/cb", "access 1m30s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

	// A connect signed by hand.
	body := []byte(`{"account_id":"acc-1","title":"T","hook_api_version":"v2"}`)
	path := "/v2/origin/custom/chan-1/connect"
	sum := md5.Sum(body)
	md := hex.EncodeToString(sum[:])
	date := time.Now().UTC().Format(time.RFC1123Z)
	mac := hmac.New(sha1.New, []byte("s3cret"))
	io.WriteString(mac, "POST\n"+md+"\napplication/json\n"+date+"\n"+path)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+path, bytes.NewReader(body))
	req.Header.Set("Date", date)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-MD5", md)
	req.Header.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"scope_id":"chan-1_acc-1"`) {
		t.Errorf("connect: %d %s", resp.StatusCode, got)
	}

	// The REST side on the same address, with the token.
	req, _ = http.NewRequestWithContext(t.Context(), "GET", base+"/api/v4/account?with=amojo_id", nil)
	req.Header.Set("Authorization", "Bearer tok-1")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"amojo_id":"acc-1"`) {
		t.Errorf("account: %d %s", resp.StatusCode, got)
	}

	// The control API: what the fake stored.
	resp, err = hc.Get(base + "/amojotest/chats?scope_id=chan-1_acc-1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "[]" {
		t.Errorf("control: %d %s", resp.StatusCode, got)
	}

	// OAuth: the authorization page's code, exchanged by hand for a pair
	// whose access token opens the REST API for the lifetime asked.
	noFollow := &http.Client{Transport: hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(base + "/oauth?client_id=cid-1&state=s1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "127.0.0.1:9" || loc.Query().Get("code") == "" {
		t.Fatalf("authorization page: %d %s", resp.StatusCode, loc)
	}
	exchange := `{"client_id":"cid-1","client_secret":"csecret-1","grant_type":"authorization_code","code":"` + loc.Query().Get("code") + `","redirect_uri":"http://127.0.0.1:9/cb"}`
	resp, err = hc.Post(base+"/oauth2/access_token", "application/json", strings.NewReader(exchange))
	if err != nil {
		t.Fatal(err)
	}
	var pair struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || pair.ExpiresIn != 90 {
		t.Fatalf("exchange: %d %+v %v", resp.StatusCode, pair, err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", base+"/api/v4/account", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	if resp, err = hc.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("REST with the access token: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, err = hc.Post(base+"/amojotest/oauth/expire-access-tokens", "application/json", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("control: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ = http.NewRequestWithContext(t.Context(), "GET", base+"/api/v4/account", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	if resp, err = hc.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("REST with an expired access token: %v %v", resp, err)
	}
	resp.Body.Close()

	cancel()
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(out.String(), "amojofake: stopped") {
		t.Errorf("output %s", out.String())
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	var out, errOut syncBuffer
	err := run(t.Context(), []string{"-h"}, &out, &errOut, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-addr", "-channel-id", "-channel-secret", "-account-id", "-token", "127.0.0.1:8080", "-client-id", "-client-secret", "-redirect-uri", "-access-token-lifetime"} {
		if !strings.Contains(errOut.String(), f) {
			t.Errorf("help lacks %q:\n%s", f, errOut.String())
		}
	}
	for _, args := range [][]string{
		{"-channel-id", ""},
		{"-token", "a b"},
		{"-rate-limit", "-1"},
		{"extra"},
		{"-nope"},
		{"-addr", "256.0.0.1:bad"},
		{"-client-secret", ""},
		{"-redirect-uri", "/cb"},
		{"-access-token-lifetime", "500ms"},
		{"-code-lifetime", "0s"},
		{"-allow-host", "a b"},
		{"-allow-host", "a,,b"},
	} {
		if err := run(t.Context(), args, io.Discard, io.Discard, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestHostHeader: a request whose Host is not a loopback name, the host of
// -addr or an -allow-host name is refused, so a web page that makes its own
// name resolve to 127.0.0.1 cannot use the fake.
func TestHostHeader(t *testing.T) {
	t.Parallel()
	p := start(t, "-addr", "127.0.0.1:0", "-allow-host", "Fake.Test, other.test")
	_, port, _ := strings.Cut(strings.TrimPrefix(p.base, "http://"), ":")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for host, want := range map[string]int{
		"127.0.0.1:" + port:        401, // reaches the fake, which wants a token
		"localhost:" + port:        401,
		"LOCALHOST.":               401,
		"[::1]:" + port:            401,
		"127.1.2.3":                401,
		"fake.test:" + port:        401,
		"other.test":               401,
		"attacker.example:" + port: 403,
		"attacker.example":         403,
		"localhost.attacker.test":  403,
		"0.0.0.0:" + port:          403,
		"10.0.0.1:" + port:         403,
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", p.base+"/api/v4/account", nil)
		req.Host = host
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d %s, want %d", host, resp.StatusCode, body, want)
		}
	}
	if strings.Contains(p.errOut.String(), "warning") {
		t.Errorf("warned on loopback: %s", p.errOut.String())
	}
}

// TestControlWritesNeedJSON: the program's control API takes writes only as
// application/json from no other site, as a web page cannot send them.
func TestControlWritesNeedJSON(t *testing.T) {
	t.Parallel()
	p := start(t, "-addr", "127.0.0.1:0")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for _, tt := range []struct {
		header map[string]string
		want   int
	}{
		{map[string]string{"Content-Type": "text/plain"}, 415},
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{map[string]string{"Content-Type": "application/json"}, 200},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", p.base+"/amojotest/reset-faults", strings.NewReader("{}"))
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%v: %d, want %d", tt.header, resp.StatusCode, tt.want)
		}
	}
}

func TestWarnIfExposed(t *testing.T) {
	t.Parallel()
	for ip, warn := range map[string]bool{"127.0.0.1": false, "::1": false, "0.0.0.0": true, "::": true, "192.168.1.10": true} {
		var b bytes.Buffer
		warnIfExposed(&b, &net.TCPAddr{IP: net.ParseIP(ip), Port: 8080})
		if got := strings.Contains(b.String(), "warning") && strings.Contains(b.String(), "no authentication"); got != warn {
			t.Errorf("%s: warning %q", ip, b.String())
		}
	}
}
