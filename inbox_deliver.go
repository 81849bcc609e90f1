package amojo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrInboxDead reports an event parked as dead: its callback failed on
// every attempt, or the event could not be delivered at all. It stays in the
// inbox (see Inbox.Dead and Inbox.Requeue); it is never dropped.
var ErrInboxDead = errors.New("amojo: webhook event dead")

// Defaults of an InboxDelivery.
const (
	DefaultDeliveryWorkers     = 4
	DefaultDeliveryLease       = time.Minute
	DefaultDeliveryMaxAttempts = 12
	DefaultDeliveryMinBackoff  = time.Second
	DefaultDeliveryMaxBackoff  = 30 * time.Minute
	DefaultDeliveryPoll        = time.Second
	DefaultDeliveryTimeout     = 5 * time.Minute
)

// storeTimeout bounds each call an InboxDelivery makes to its Inbox.
const storeTimeout = 30 * time.Second

// DeliveryOption configures an InboxDelivery.
type DeliveryOption func(*deliveryConfig) error

type deliveryConfig struct {
	workers                int
	lease                  time.Duration
	maxAttempts            int
	minBackoff, maxBackoff time.Duration
	poll                   time.Duration
	timeout                time.Duration
	onError                func(*InboxEvent, error)
	logger                 *slog.Logger
}

// WithDeliveryWorkers sets how many callbacks run at once (default
// DefaultDeliveryWorkers).
func WithDeliveryWorkers(n int) DeliveryOption {
	return func(c *deliveryConfig) error {
		if n < 1 {
			return invalid("DeliveryWorkers", "less than 1")
		}
		c.workers = n
		return nil
	}
}

// WithDeliveryLease sets the lease of a claimed event (default
// DefaultDeliveryLease). While the callback runs the lease is extended every
// third of it, so a callback may take longer than the lease; the lease is how
// long an event waits, after its process died, before another process
// delivers it.
func WithDeliveryLease(d time.Duration) DeliveryOption {
	return func(c *deliveryConfig) error {
		if d < 3*time.Millisecond {
			return invalid("DeliveryLease", "shorter than 3ms")
		}
		c.lease = d
		return nil
	}
}

// WithDeliveryRetry sets how often a failing event is tried (maxAttempts,
// the first included; default DefaultDeliveryMaxAttempts) and the back-off
// between attempts: capped exponential with equal jitter, from minBackoff up
// to maxBackoff (defaults DefaultDeliveryMinBackoff and
// DefaultDeliveryMaxBackoff; together about half an hour of retrying).
func WithDeliveryRetry(maxAttempts int, minBackoff, maxBackoff time.Duration) DeliveryOption {
	return func(c *deliveryConfig) error {
		switch {
		case maxAttempts < 1:
			return invalid("DeliveryRetry.MaxAttempts", "less than 1")
		case minBackoff < 0:
			return invalid("DeliveryRetry.MinBackoff", "negative")
		case maxBackoff < minBackoff:
			return invalid("DeliveryRetry.MaxBackoff", "less than MinBackoff")
		}
		c.maxAttempts, c.minBackoff, c.maxBackoff = maxAttempts, minBackoff, maxBackoff
		return nil
	}
}

// WithDeliveryPollInterval sets how often the inbox is asked for due events
// when nothing was appended through this InboxDelivery (default
// DefaultDeliveryPoll): the latency of events appended by other processes
// and of retries.
func WithDeliveryPollInterval(d time.Duration) DeliveryOption {
	return func(c *deliveryConfig) error {
		if d <= 0 {
			return invalid("DeliveryPollInterval", "not positive")
		}
		c.poll = d
		return nil
	}
}

// WithDeliveryTimeout bounds one call of the callback (default
// DefaultDeliveryTimeout): its context ends after d, and the attempt counts
// as failed.
func WithDeliveryTimeout(d time.Duration) DeliveryOption {
	return func(c *deliveryConfig) error {
		if d <= 0 {
			return invalid("DeliveryTimeout", "not positive")
		}
		c.timeout = d
		return nil
	}
}

// WithDeliveryErrorHandler sets the function told about every event parked as
// dead (the error matches ErrInboxDead and wraps the last failure), every
// failure of the inbox itself (ev is nil when no event is concerned), and
// every claim lost to another worker (ErrInboxLeaseLost). It may be called
// from several goroutines at once and must not panic.
func WithDeliveryErrorHandler(fn func(ev *InboxEvent, err error)) DeliveryOption {
	return func(c *deliveryConfig) error {
		if fn == nil {
			return invalid("DeliveryErrorHandler", "nil")
		}
		c.onError = fn
		return nil
	}
}

// WithDeliveryLogger logs what WithDeliveryErrorHandler reports, at error
// level, and each failed attempt that will be retried, at warning level,
// with the event id, scope id and attempt; bodies and signatures are never
// logged. Without this option and without WithDeliveryErrorHandler, they are
// logged to slog.Default().
func WithDeliveryLogger(l *slog.Logger) DeliveryOption {
	return func(c *deliveryConfig) error {
		if l == nil {
			return invalid("DeliveryLogger", "nil")
		}
		c.logger = l
		return nil
	}
}

// InboxDelivery delivers the events of an Inbox to a callback: workers claim
// due events, parse each one's body with ParseWebhook (ScopeID set from the
// event), call the callback, and mark the event done when it returns nil.
// When it fails (an error, a panic, the timeout), the event is due again
// after a capped exponential back-off with jitter; after the last attempt it
// is parked as dead and reported, never dropped.
//
// Delivery is at-least-once: a callback may see an event again after a crash,
// a kill or a lost lease, even when an earlier call succeeded. Make the
// callback idempotent, keyed by the event's InboxEvent.ID (which
// NewInboxEvent derives from the scope and the signed body, stable across
// deliveries) or by the webhook's own ids (the message id). The callback
// gets the id through InboxEventIDFrom(ctx).
//
// Events appended through Append are claimed at once; events appended by
// other processes, and retries, are found by polling. An event claimed by a
// process that died is delivered again when its lease has expired. An event
// claimed more than the maximum attempts times without an answer (its
// callback crashes the process every time) is parked as dead without calling
// the callback again. Events of different chats, and the events of one chat,
// may be delivered out of order.
type InboxDelivery struct {
	inbox Inbox
	fn    func(context.Context, *WebhookEvent) error
	c     deliveryConfig

	notify chan struct{}
	stop   context.Context // ends at Close: no more claims
	halt   context.CancelFunc
	base   context.Context // the callbacks' contexts: ends when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewInboxDelivery starts delivering the events of inbox to fn. Call Close
// to stop it.
func NewInboxDelivery(inbox Inbox, fn func(ctx context.Context, ev *WebhookEvent) error, opts ...DeliveryOption) (*InboxDelivery, error) {
	if inbox == nil {
		return nil, invalid("inbox", "nil")
	}
	if fn == nil {
		return nil, invalid("fn", "nil")
	}
	c, err := newDeliveryConfig(opts)
	if err != nil {
		return nil, err
	}
	if c.onError == nil && c.logger == nil {
		c.logger = slog.Default()
	}
	return runDelivery(inbox, fn, c), nil
}

// newDeliveryConfig applies opts to the defaults.
func newDeliveryConfig(opts []DeliveryOption) (deliveryConfig, error) {
	c := deliveryConfig{
		workers: DefaultDeliveryWorkers, lease: DefaultDeliveryLease,
		maxAttempts: DefaultDeliveryMaxAttempts, minBackoff: DefaultDeliveryMinBackoff,
		maxBackoff: DefaultDeliveryMaxBackoff, poll: DefaultDeliveryPoll, timeout: DefaultDeliveryTimeout,
	}
	for i, opt := range opts {
		if opt == nil {
			return c, invalid(fmt.Sprintf("opts[%d]", i), "nil option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// runDelivery starts the dispatcher and workers of a valid configuration.
func runDelivery(inbox Inbox, fn func(context.Context, *WebhookEvent) error, c deliveryConfig) *InboxDelivery {
	d := &InboxDelivery{inbox: inbox, fn: fn, c: c, notify: make(chan struct{}, 1)}
	d.stop, d.halt = context.WithCancel(context.Background())
	d.base, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1)
	go d.dispatch()
	return d
}

// Append appends ev to the inbox and, when it is new, has it claimed at
// once.
func (d *InboxDelivery) Append(ctx context.Context, ev InboxEvent) (bool, error) {
	added, err := d.inbox.Append(ctx, ev)
	if added {
		d.Notify()
	}
	return added, err
}

// Notify tells the workers that an event was appended, so that it is claimed
// without waiting for the next poll.
func (d *InboxDelivery) Notify() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// Close stops claiming events and waits for the callbacks running to return
// and their events to be settled. If ctx ends first, the callbacks' contexts
// are cancelled, Close waits for them to return (a callback must return when
// its context ends), their events are made due again, and Close returns
// ctx's error. No goroutine of the InboxDelivery outlives Close. Close may be
// called more than once; it does not close the inbox.
func (d *InboxDelivery) Close(ctx context.Context) error {
	d.halt()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("amojo: closing inbox delivery: %w", ctx.Err())
	}
}

// dispatch claims events for the idle workers until Close.
func (d *InboxDelivery) dispatch() {
	defer d.wg.Done()
	jobs := make(chan InboxEvent)
	idle := make(chan struct{}, d.c.workers)
	d.wg.Add(d.c.workers)
	for range d.c.workers {
		go d.work(jobs, idle)
	}
	defer close(jobs)
	timer := time.NewTimer(d.c.poll)
	defer timer.Stop()
	free := d.c.workers
	claimNow, backlog := true, false
	for {
		if claimNow && free > 0 && d.stop.Err() == nil {
			claimNow = false
			ctx, cancel := context.WithTimeout(d.stop, storeTimeout)
			evs, err := d.inbox.Claim(ctx, free, d.c.lease)
			cancel()
			if err != nil && d.stop.Err() == nil {
				d.report(nil, fmt.Errorf("amojo: inbox claim: %w", err))
			}
			backlog = err == nil && len(evs) == free
			for _, ev := range evs {
				jobs <- ev // a worker is idle for each
			}
			free -= len(evs)
		}
		timer.Reset(d.c.poll)
		select {
		case <-d.stop.Done():
			return
		case <-d.notify:
			claimNow = true
		case <-idle:
			free++
			claimNow = claimNow || backlog
		case <-timer.C:
			claimNow = true
		}
	}
}

// work delivers the events dispatch hands it.
func (d *InboxDelivery) work(jobs <-chan InboxEvent, idle chan<- struct{}) {
	defer d.wg.Done()
	for ev := range jobs {
		d.deliver(ev)
		idle <- struct{}{}
	}
}

// deliver runs one attempt of ev and settles it.
func (d *InboxDelivery) deliver(ev InboxEvent) {
	if ev.Attempts > d.c.maxAttempts {
		d.bury(ev, fmt.Errorf("claimed %d times without an answer (each time its lease expired)", ev.Attempts-1))
		return
	}
	we, err := ev.Webhook()
	if err != nil {
		d.bury(ev, err) // the body will never parse
		return
	}
	err, lost := d.call(ev, we)
	switch {
	case lost != nil:
		d.report(&ev, fmt.Errorf("amojo: inbox event %s: %w", ev.ID, lost))
	case err == nil:
		d.settle(ev, func(ctx context.Context) error { return d.inbox.Done(ctx, ev.ID, ev.Token) })
	case d.base.Err() != nil:
		// Close gave up on the callback: the event is due again at once.
		f := InboxFailure{Reason: "interrupted: " + err.Error(), RetryAt: time.Now()}
		d.settle(ev, func(ctx context.Context) error { return d.inbox.Fail(ctx, ev.ID, ev.Token, f) })
	case ev.Attempts >= d.c.maxAttempts:
		d.bury(ev, err)
	default:
		wait := jitteredBackoff(d.c.minBackoff, d.c.maxBackoff, ev.Attempts)
		f := InboxFailure{Reason: err.Error(), RetryAt: time.Now().Add(wait)}
		d.log(slog.LevelWarn, "amojo inbox: delivery failed, will retry", &ev, err, slog.Duration("retry_in", wait))
		d.settle(ev, func(ctx context.Context) error { return d.inbox.Fail(ctx, ev.ID, ev.Token, f) })
	}
}

// call runs the callback, extending the lease every third of it until the
// callback returns. lost is set when the lease went to another worker; the
// callback's context is then cancelled.
func (d *InboxDelivery) call(ev InboxEvent, we *WebhookEvent) (err, lost error) {
	ctx, cancel := context.WithTimeout(context.WithValue(d.base, inboxEventIDKey{}, ev.ID), d.c.timeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- d.safeCall(ctx, we) }()
	tick := time.NewTicker(d.c.lease / 3)
	defer tick.Stop()
	for {
		select {
		case err := <-res:
			return err, lost
		case <-tick.C:
			if lost != nil {
				continue
			}
			sctx, scancel := context.WithTimeout(context.Background(), storeTimeout)
			xerr := d.inbox.Extend(sctx, ev.ID, ev.Token, d.c.lease)
			scancel()
			switch {
			case errors.Is(xerr, ErrInboxLeaseLost) || errors.Is(xerr, ErrInboxNotFound):
				lost = xerr
				cancel()
			case xerr != nil:
				d.report(&ev, fmt.Errorf("amojo: inbox extend lease: %w", xerr))
			}
		}
	}
}

// safeCall runs the callback, turning a panic into an error.
func (d *InboxDelivery) safeCall(ctx context.Context, we *WebhookEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("amojo: webhook callback panicked: %v", p)
		}
	}()
	return d.fn(ctx, we)
}

// bury parks ev as dead and reports it.
func (d *InboxDelivery) bury(ev InboxEvent, cause error) {
	f := InboxFailure{Reason: cause.Error(), Dead: true}
	if d.settle(ev, func(ctx context.Context) error { return d.inbox.Fail(ctx, ev.ID, ev.Token, f) }) {
		d.report(&ev, fmt.Errorf("%w after %d attempts: %w", ErrInboxDead, ev.Attempts, cause))
	}
}

// settle runs one settling call of the inbox, reporting its failure. A
// failed settle leaves the event claimed until its lease ends, when it is
// delivered again.
func (d *InboxDelivery) settle(ev InboxEvent, op func(context.Context) error) bool {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := op(ctx); err != nil {
		d.report(&ev, fmt.Errorf("amojo: inbox event %s: %w", ev.ID, err))
		return false
	}
	return true
}

// report tells the error handler and the logger about a failure.
func (d *InboxDelivery) report(ev *InboxEvent, err error) {
	if d.c.onError != nil {
		d.c.onError(ev, err)
	}
	d.log(slog.LevelError, "amojo inbox: event not delivered", ev, err)
}

func (d *InboxDelivery) log(level slog.Level, msg string, ev *InboxEvent, err error, extra ...slog.Attr) {
	ctx := context.Background()
	if d.c.logger == nil || !d.c.logger.Enabled(ctx, level) {
		return
	}
	attrs := append([]slog.Attr{slog.String("error", err.Error())}, extra...)
	if ev != nil {
		attrs = append(attrs, slog.String("event_id", ev.ID), slog.String("scope_id", ev.ScopeID), slog.Int("attempt", ev.Attempts))
	}
	d.c.logger.LogAttrs(ctx, level, msg, attrs...)
}

type inboxEventIDKey struct{}

// InboxEventIDFrom returns the InboxEvent.ID of the event whose callback got
// ctx from an InboxDelivery, the key to make the callback idempotent.
func InboxEventIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(inboxEventIDKey{}).(string)
	return id, ok
}
