package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/amojo-go/amojo"
)

// webhookPath is where the handler is mounted; amoCRM appends the scope id.
const webhookPath = "/amojo/webhook/"

// shutdownTimeout bounds the wait for webhooks in flight and queued events
// when the program stops.
const shutdownTimeout = 15 * time.Second

// The server's timeouts, so that no client can hold a connection (and its
// goroutines) open: amoCRM sends a webhook at once and waits 5 seconds for
// the answer. The handler also cuts a body off after
// amojo.DefaultWebhookReadTimeout.
const (
	readHeaderTimeout = 5 * time.Second  // the request line and headers
	readTimeout       = 10 * time.Second // the whole request, body included
	writeTimeout      = 10 * time.Second // from the end of the headers to the end of the answer
	idleTimeout       = 60 * time.Second // a kept-alive connection between webhooks
	maxHeaderBytes    = 64 << 10
)

// newServer serves h with the timeouts above.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// receiver is the HTTP side: a listener serving the webhook handler.
type receiver struct {
	handler *amojo.WebhookHandler
	srv     *http.Server
	ln      net.Listener
	done    chan error
}

// listen starts serving webhooks verified with secret on addr; e handles
// them and errors go to errOut. With an inbox, each webhook is stored there
// before it is answered; without, it waits in a queue in memory.
func listen(addr, secret string, inbox amojo.Inbox, e *echoer, errOut io.Writer) (*receiver, error) {
	// One worker keeps each chat's messages in order; the queue absorbs
	// bursts while amoCRM waits only for the 200.
	hand := amojo.WithWebhookAsync(256, 1)
	if inbox != nil {
		hand = amojo.WithWebhookInbox(inbox, amojo.WithDeliveryWorkers(1))
	}
	h := amojo.NewWebhookHandler(secret, e.handle, hand, amojo.WithWebhookErrorHandler(reportTo(errOut)))
	if err := h.Err(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = h.Close(context.Background())
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(webhookPath, h)
	r := &receiver{
		handler: h,
		srv:     newServer(mux),
		ln:      ln,
		done:    make(chan error, 1),
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// webhookURL is the URL to register for the channel, as seen on this host.
func (r *receiver) webhookURL() string {
	return "http://" + r.ln.Addr().String() + webhookPath + ":scope_id"
}

// stop stops accepting webhooks, waits for those in flight, then handles the
// events still queued.
func (r *receiver) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if serr := <-r.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return errors.Join(err, r.handler.Close(ctx))
}

// clients builds the chats and REST clients of the configured account. The
// returned function waits for a token refresh in flight and closes their
// idle connections.
func clients(cfg config) (*amojo.Client, *amojo.CRMClient, func(), error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	chats, crm, closeTokens, err := cfg.Clients(amojo.WithHTTPClient(hc))
	if err != nil {
		return nil, nil, nil, err
	}
	return chats, crm, func() { closeTokens(); tr.CloseIdleConnections() }, nil
}

// connect connects the channel to the account, whose amojo id is accountID
// or, when that is empty, asked from the REST API.
func connect(ctx context.Context, chats *amojo.Client, crm *amojo.CRMClient, accountID, title string) (*amojo.Connection, error) {
	if accountID == "" {
		acc, err := crm.Account(ctx)
		if err != nil {
			return nil, err
		}
		accountID = acc.AmojoID
	}
	return chats.Connect(ctx, amojo.ConnectRequest{AccountID: accountID, Title: title})
}

// serve runs against the configured account until ctx is done.
func serve(ctx context.Context, cfg config, out, errOut io.Writer) int {
	chats, crm, closeIdle, err := clients(cfg)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %s\n", prog, oneLine(err))
		return exitUsage
	}
	defer closeIdle()
	inbox, closeInbox, err := openInbox(ctx, cfg)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %s\n", prog, oneLine(err))
		return exitFailed
	}
	defer closeInbox()
	conn, err := connect(ctx, chats, crm, cfg.AccountID, cfg.title)
	if err != nil {
		fmt.Fprintf(errOut, "%s: connect: %s\n", prog, oneLine(err))
		return exitFailed
	}
	fmt.Fprintf(out, "Connected channel %s to account %s (scope %s).\n", chats.ChannelID(), conn.AccountID, conn.ScopeID)

	e := &echoer{client: chats, now: time.Now, out: out}
	r, err := listen(cfg.addr, cfg.Secret, inbox, e, errOut)
	if err != nil {
		fmt.Fprintf(errOut, "%s: listen: %s\n", prog, oneLine(err))
		return exitFailed
	}
	fmt.Fprintf(out, "Listening on %s; the channel's webhook URL must lead here (path %s:scope_id).\n", r.webhookURL(), webhookPath)
	fmt.Fprintf(out, "Webhooks wait in %s.\n", describeInbox(cfg))
	fmt.Fprintln(out, "Stop with Ctrl-C.")

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-r.done: // the server stopped by itself
		r.done <- err
		code = exitFailed
	}
	if err := r.stop(); err != nil {
		fmt.Fprintf(errOut, "%s: stopping: %s\n", prog, oneLine(err))
		code = exitFailed
	}
	fmt.Fprintln(out, "Stopped.")
	return code
}
