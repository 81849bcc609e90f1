// Package pipetest serves HTTP over in-memory connections (net.Pipe), so a
// test can run a real http.Server inside a testing/synctest bubble, where the
// server's timeouts follow the bubble's clock.
package pipetest

import (
	"io"
	"net"
	"net/http"
	"sync"
)

// Listener is a net.Listener whose connections are opened by Dial.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewListener returns a Listener; serve it with http.Server.Serve.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for a connection opened by Dial, or for Close.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed. It may be called more than once.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Serve serves hs on a new Listener in a goroutine. stop closes hs and waits
// for it to stop serving.
func Serve(hs *http.Server) (ln *Listener, stop func()) {
	ln = NewListener()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	return ln, func() {
		_ = hs.Close()
		<-served
	}
}

// Addr returns the address of every in-memory connection.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial opens a connection to the server that accepts from l, writes raw to
// it, and returns the client's end, which the caller closes. It blocks until
// the server has accepted the connection and read raw, so call it while the
// server runs.
func (l *Listener) Dial(raw string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
	case <-l.done:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	}
	if _, err := io.WriteString(client, raw); err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}

type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "pipe" }
