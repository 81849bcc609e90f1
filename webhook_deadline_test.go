package amojo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// trickle is a body that arrives one byte every every.
type trickle struct {
	data  []byte
	every time.Duration
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	n := copy(p[:1], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestWebhookHandlerTricklingBody: a sender trickling the body one byte every
// 500 ms is cut off at the read timeout, well before amoCRM's 5 s, even when
// the ResponseWriter cannot set a connection deadline.
func TestWebhookHandlerTricklingBody(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts []WebhookOption
		want time.Duration
	}{
		{"default", nil, DefaultWebhookReadTimeout},
		{"WithWebhookReadTimeout", []WebhookOption{WithWebhookReadTimeout(time.Second)}, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var rep reports
				h := NewWebhookHandler(hookSecret, neverCalled(t), append(c.opts, WithWebhookErrorHandler(rep.add))...)
				body := textBody("m1")
				r := signedRequest(t, hookSecret, hookPath, body)
				r.Body = io.NopCloser(&trickle{data: body, every: 500 * time.Millisecond})
				start := time.Now()
				w := serve(h, r)
				if elapsed := time.Since(start); elapsed != c.want {
					t.Errorf("answered after %v, want %v", elapsed, c.want)
				}
				checkAnswer(t, w, http.StatusRequestTimeout, "body timeout")
				if got := w.Header().Get("Connection"); got != "close" {
					t.Errorf("Connection %q, want close", got)
				}
				if rp := rep.only(t); rp.ev != nil || !errors.Is(rp.err, ErrWebhookReadTimeout) {
					t.Errorf("report %v %v", rp.ev, rp.err)
				}
				if err := h.Close(t.Context()); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// pipeListener serves in-memory connections (net.Pipe), whose deadlines run
// on the fake clock of a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// dial connects a client to the server behind l.
func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

// rawWebhook is a signed webhook request as bytes: the head, then the body.
func rawWebhook(body []byte) (head, rest []byte) {
	head = fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nX-Signature: %s\r\nContent-Length: %d\r\n\r\n",
		hookPath, SignWebhook(hookSecret, body), len(body))
	return head, body
}

// slowClient sends a webhook's head at once, then the body as send says, and
// returns the answer's status and when it came, and whether the server closed
// the connection afterwards.
func slowClient(l *pipeListener, body []byte, send func(c net.Conn, body []byte)) (status int, after time.Duration, closed bool, err error) {
	start := time.Now()
	c := l.dial()
	head, rest := rawWebhook(body)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if _, err := c.Write(head); err != nil {
			return
		}
		send(c, rest)
	}()
	defer func() {
		c.Close()
		<-sent // the sender stops at its next write
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, 0, false, err
	}
	after = time.Since(start)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp.StatusCode, after, errors.Is(err, io.EOF), nil
}

func trickleBytes(c net.Conn, body []byte) {
	for i := range body {
		time.Sleep(500 * time.Millisecond)
		if _, err := c.Write(body[i : i+1]); err != nil {
			return
		}
	}
}

func stallAfterHalf(c net.Conn, body []byte) {
	_, _ = c.Write(body[:len(body)/2]) // and never the rest
}

// TestWebhookHandlerSlowBodiesOverConnections: behind a real http.Server,
// 50 clients trickling their bodies and 50 that stall halfway are all
// answered 408 at the read timeout, and their connections are closed, so no
// goroutine is held; a server ReadTimeout shorter than the handler's wins.
func TestWebhookHandlerSlowBodiesOverConnections(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		readTimeout time.Duration // the server's
		want        time.Duration
	}{
		{"handler deadline", 0, DefaultWebhookReadTimeout},
		{"server ReadTimeout shorter", time.Second, time.Second},
		{"server ReadTimeout longer", time.Minute, DefaultWebhookReadTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var rep reports
				h := NewWebhookHandler(hookSecret, neverCalled(t), WithWebhookErrorHandler(rep.add))
				l := newPipeListener()
				srv := &http.Server{Handler: h, ReadTimeout: c.readTimeout}
				served := make(chan error, 1)
				go func() { served <- srv.Serve(l) }()

				const clients = 50
				type result struct {
					status int
					after  time.Duration
					closed bool
					err    error
				}
				results := make(chan result, 2*clients)
				for i := range 2 * clients {
					send := trickleBytes
					if i%2 == 1 {
						send = stallAfterHalf
					}
					go func() {
						var r result
						r.status, r.after, r.closed, r.err = slowClient(l, textBody(fmt.Sprint("m", i)), send)
						results <- r
					}()
				}
				for range 2 * clients {
					r := <-results
					if r.err != nil || r.status != http.StatusRequestTimeout || r.after != c.want || !r.closed {
						t.Errorf("client: %d after %v, closed %v, err %v; want 408 after %v, closed", r.status, r.after, r.closed, r.err, c.want)
					}
				}
				if n := len(rep.all()); n != 2*clients {
					t.Errorf("%d reports, want %d", n, 2*clients)
				}
				for _, rp := range rep.all() {
					if !errors.Is(rp.err, ErrWebhookReadTimeout) {
						t.Errorf("report %v", rp.err)
					}
				}
				if err := srv.Close(); err != nil {
					t.Error(err)
				}
				if err := <-served; !errors.Is(err, http.ErrServerClosed) {
					t.Errorf("Serve: %v", err)
				}
				if err := h.Close(t.Context()); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// TestWebhookHandlerStalledBodyOverTCP: over a real loopback connection, a
// client that stops sending halfway through the body is answered 408 at the
// handler's read timeout instead of holding the request open.
func TestWebhookHandlerStalledBodyOverTCP(t *testing.T) {
	t.Parallel()
	var rep reports
	h := NewWebhookHandler(hookSecret, neverCalled(t), WithWebhookReadTimeout(100*time.Millisecond), WithWebhookErrorHandler(rep.add))
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close(t.Context())

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head, body := rawWebhook(textBody("m1"))
	if _, err := c.Write(append(head, body[:len(body)/2]...)); err != nil {
		t.Fatal(err)
	}
	// Without a deadline the server would wait for the rest forever; this
	// bound only turns that into a failure.
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body stalls: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("answer %d, close %v; want 408 and the connection closed", resp.StatusCode, resp.Close)
	}
	if rp := rep.only(t); !errors.Is(rp.err, ErrWebhookReadTimeout) {
		t.Errorf("report %v", rp.err)
	}
}

// TestWebhookHandlerKeepsConnectionAfterBody: the read deadline bounds the
// body only: a callback running past it neither sees the request's context
// end nor loses the kept-alive connection for the next webhook.
func TestWebhookHandlerKeepsConnectionAfterBody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var got events
		h := NewWebhookHandler(hookSecret, func(_ context.Context, ev *WebhookEvent) error {
			got.add(ev)
			time.Sleep(2 * DefaultWebhookReadTimeout) // past the body's deadline, within the sync timeout
			return nil
		}, WithWebhookSyncTimeout(time.Minute))
		var ctxErrs []error
		wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			ctxErrs = append(ctxErrs, r.Context().Err())
		})
		l := newPipeListener()
		srv := &http.Server{Handler: wrapped}
		go func() { _ = srv.Serve(l) }()
		c := l.dial()
		br := bufio.NewReader(c)
		for _, id := range []string{"m1", "m2"} {
			head, body := rawWebhook(textBody(id))
			go func() { _, _ = c.Write(append(head, body...)) }()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Close {
				t.Errorf("%s: %d, close %v", id, resp.StatusCode, resp.Close)
			}
		}
		c.Close()
		if n := len(got.all()); n != 2 {
			t.Errorf("%d events, want 2", n)
		}
		for i, err := range ctxErrs {
			if err != nil {
				t.Errorf("request %d: context ended while the callback ran: %v", i+1, err)
			}
		}
		_ = srv.Close()
		if err := h.Close(t.Context()); err != nil {
			t.Error(err)
		}
	})
}
