package amojotest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/amojo-go/amojo/internal/pipetest"
)

// dial opens a connection to the server on ln and writes raw to it.
func dial(t *testing.T, ln *pipetest.Listener, raw string) net.Conn {
	t.Helper()
	c, err := ln.Dial(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answer reads one answer from c in the background: its status, or 0 when
// the connection closes without one.
func answer(c net.Conn) <-chan int {
	got := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			got <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	return got
}

// closed reports in the background when c is closed by the server.
func closed(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(done)
	}()
	return done
}

// ready reports whether ch has a value once every goroutine of the bubble is
// blocked.
func ready[T any](ch <-chan T) (T, bool) {
	synctest.Wait()
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// TestTimeoutsCutSlowClients runs the fake with the timeouts of Start:
// a client slow to send its headers or its body, one that does not read its
// answer and one that keeps its connection idle are cut off at the
// timeout, not before; an injected latency longer than every timeout is not
// cut.
func TestTimeoutsCutSlowClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewUnstartedServer()
		hs := &http.Server{Handler: s}
		setTimeouts(hs)
		ln, stop := pipetest.Serve(hs)
		defer func() {
			stop()
			s.Close()
		}()
		get := "GET /api/v4/account HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + DefaultToken + "\r\n\r\n"
		const second = time.Second

		// Slow headers: closed without an answer at ReadHeaderTimeout.
		c := dial(t, ln, "GET /api/v4/account HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		got := answer(c)
		time.Sleep(ReadHeaderTimeout - second)
		if _, ok := ready(got); ok {
			t.Fatal("slow headers cut before ReadHeaderTimeout")
		}
		time.Sleep(2 * second)
		if st, ok := ready(got); !ok || st != 0 {
			t.Fatalf("slow headers after ReadHeaderTimeout: answered %d, cut %v", st, ok)
		}

		// Slow body: the fake answers 400 at ReadTimeout and the connection closes.
		c = dial(t, ln, "POST /api/v4/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[")
		got = answer(c)
		time.Sleep(ReadTimeout - second)
		if _, ok := ready(got); ok {
			t.Fatal("slow body cut before ReadTimeout")
		}
		time.Sleep(2 * second)
		if st, ok := ready(got); !ok || st != http.StatusBadRequest {
			t.Fatalf("slow body after ReadTimeout: answered %d, cut %v", st, ok)
		}
		if _, ok := ready(closed(c)); !ok {
			t.Fatal("slow body: connection left open")
		}

		// An answer not read: still there just before WriteTimeout, gone after.
		c = dial(t, ln, get)
		time.Sleep(WriteTimeout - second)
		if st, ok := ready(answer(c)); !ok || st != 200 {
			t.Fatalf("answer read before WriteTimeout: %d %v", st, ok)
		}
		c = dial(t, ln, get)
		time.Sleep(WriteTimeout + second)
		if st, ok := ready(answer(c)); !ok || st != 0 {
			t.Fatalf("answer read after WriteTimeout: %d %v", st, ok)
		}

		// An idle connection: closed at IdleTimeout.
		c = dial(t, ln, get)
		if st, ok := ready(answer(c)); !ok || st != 200 {
			t.Fatalf("answer %d %v", st, ok)
		}
		done := closed(c)
		time.Sleep(IdleTimeout - second)
		if _, ok := ready(done); ok {
			t.Fatal("idle connection closed before IdleTimeout")
		}
		time.Sleep(2 * second)
		if _, ok := ready(done); !ok {
			t.Fatal("idle connection open after IdleTimeout")
		}

		// An injected latency beyond every timeout is the fake's, not cut.
		s.SetLatency(RouteAccount, WriteTimeout+IdleTimeout)
		c = dial(t, ln, get)
		got = answer(c)
		time.Sleep(WriteTimeout + IdleTimeout - second)
		if _, ok := ready(got); ok {
			t.Fatal("answered before the latency ended")
		}
		time.Sleep(2 * second)
		if st, ok := ready(got); !ok || st != 200 {
			t.Fatalf("after the latency: %d %v", st, ok)
		}
		if log := s.Requests(); len(log) == 0 || !strings.HasSuffix(log[len(log)-1].Path, "/account") || log[len(log)-1].Dropped {
			t.Errorf("log %+v", log)
		}
	})
}
