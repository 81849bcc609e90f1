package multiprocess_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/internal/pgtest"
	"github.com/amojo-go/amojo/internal/testscale"
	"github.com/amojo-go/amojo/pgstore"
)

// envChildDSN makes the test binary a delivering process on that database
// instead of running the tests.
const envChildDSN = "AMOJO_PGSTORE_CHILD_DSN"

// deliverChild delivers the inbox's events, printing "handled ID" for each,
// until its stdin closes.
func deliverChild() int {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv(envChildDSN))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	var mu sync.Mutex
	d, err := amojo.NewInboxDelivery(s.Inbox(), func(ctx context.Context, ev *amojo.WebhookEvent) error {
		id, _ := amojo.InboxEventIDFrom(ctx)
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(os.Stdout, "handled %s\n", id)
		return err
	}, amojo.WithDeliveryWorkers(4), amojo.WithDeliveryPollInterval(10*time.Millisecond),
		amojo.WithDeliveryErrorHandler(func(_ *amojo.InboxEvent, err error) { fmt.Fprintln(os.Stderr, "error:", err) }))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := d.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// TestInboxThreeProcesses has three processes deliver the events of one
// database while this one appends 5000: each event is handled once, none is
// lost.
func TestInboxThreeProcesses(t *testing.T) {
	t.Parallel()
	const appenders = 8
	events := testscale.Size(t, 5000, 200)
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn)
	in := s.Inbox()
	ty := inboxtest.NewTally()
	var children []*inboxtest.Child
	for i := range 3 {
		children = append(children, inboxtest.StartChild(t, ty, i, envChildDSN+"="+dsn))
	}
	want := make(map[string]bool, events)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for g := range appenders {
		wg.Go(func() {
			for i := g; i < events; i += appenders {
				ev := inboxtest.Event("scope", i, start)
				if added, err := in.Append(context.Background(), ev); err != nil || !added {
					t.Errorf("Append %d = %v, %v", i, added, err)
					return
				}
				mu.Lock()
				want[ev.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	ty.Wait(t, events, 2*time.Minute)
	t.Logf("%d events appended and delivered by 3 processes in %v", events, time.Since(start))
	for _, c := range children {
		c.Stop(t)
	}
	ty.Check(t, want)
	var done, other int
	err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state <> 'done') FROM amojo_inbox`).Scan(&done, &other)
	if err != nil || done != events || other != 0 {
		t.Errorf("rows: %d done, %d not (%v); want %d done", done, other, err, events)
	}
}
