package amojo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// ErrWebhookNotStored reports a verified webhook that the handler could not
// append to its inbox (WithWebhookInbox). It was answered 503, never 200, and
// the error wraps the inbox's.
var ErrWebhookNotStored = errors.New("amojo: webhook not stored")

// webhookTextNotStored answers a webhook the inbox did not take.
const webhookTextNotStored = "not stored"

// WithWebhookInbox makes the handler durable: a webhook that passes every
// check is appended to inbox — its signed bytes, its X-Signature, its scope
// id and the time received (NewInboxEvent) — and answered 200 only once
// Append returned. When Append fails the webhook is answered 503 "not
// stored" and reported with ErrWebhookNotStored; amoCRM never retries, so
// the 200 is given only for an event the inbox holds. A webhook the inbox
// holds already (a replay, a proxy's copy, received by another replica) is
// answered 200 "duplicate" and reported with ErrWebhookReplay, as the dedup
// memory does.
//
// The handler starts an InboxDelivery configured by opts that claims the
// inbox's events — also those appended by other processes sharing the inbox,
// and those left by a process that died, once their lease has expired —
// and calls the handler's callback with the event parsed from the stored
// bytes: the same *WebhookEvent as without an inbox (Raw the signed bytes,
// ScopeID the stored scope id). A callback that fails is retried with
// back-off and, after its last attempt, parked as dead and reported
// (ErrInboxDead); nothing is dropped. Delivery is at-least-once: make the
// callback idempotent with the event id, InboxEventIDFrom(ctx) in the
// callback, which is InboxEventID(ev.ScopeID, ev.Raw) everywhere else.
//
// The callback's context does not carry the request's values: the event may
// be delivered by another process, or after a restart. Delivery failures go
// to the WithDeliveryErrorHandler or WithDeliveryLogger among opts when
// there is one, and otherwise to the handler's WithWebhookErrorHandler (with
// the event, parsed) and logger. Close stops the delivery.
//
// The inbox replaces the asynchronous queue and the synchronous callback:
// WithWebhookAsync and WithWebhookSyncTimeout (use WithDeliveryWorkers and
// WithDeliveryTimeout) are configuration errors beside it, as are a nil
// inbox, an invalid delivery option and a second WithWebhookInbox. The
// inbox stays the caller's: close it after the handler.
func WithWebhookInbox(inbox Inbox, opts ...DeliveryOption) WebhookOption {
	opts = slices.Clone(opts)
	return func(c *webhookConfig) error {
		if inbox == nil {
			return invalid("WebhookInbox", "nil")
		}
		if _, err := newDeliveryConfig(opts); err != nil {
			if ve, ok := errors.AsType[*ValidationError](err); ok {
				return invalid("WebhookInbox."+ve.Field, ve.Reason)
			}
			return err
		}
		if c.inbox != nil {
			return invalid("WebhookInbox", "given twice")
		}
		c.inbox, c.deliveryOpts = inbox, opts
		return nil
	}
}

// inboxConflict reports the options an inbox cannot be combined with.
func (c *webhookConfig) inboxConflict() error {
	switch {
	case c.inbox == nil:
		return nil
	case c.async:
		return invalid("WebhookInbox", "given with WebhookAsync: the inbox replaces the asynchronous queue (set its workers with WithDeliveryWorkers)")
	case c.syncTimeoutSet:
		return invalid("WebhookInbox", "given with WebhookSyncTimeout: callbacks run from the inbox, not while amoCRM waits (bound them with WithDeliveryTimeout)")
	}
	return nil
}

// startInbox starts the delivery of the inbox's events to the callback.
// Without delivery options of its own for failures, it reports them to the
// handler's error handler and logger.
func (c *webhookCore) startInbox(inbox Inbox, opts []DeliveryOption) {
	dc, _ := newDeliveryConfig(opts) // WithWebhookInbox validated them
	if dc.onError == nil && dc.logger == nil {
		if onError := c.onError; onError != nil {
			dc.onError = func(iev *InboxEvent, err error) { onError(webhookOf(iev), err) }
		}
		dc.logger = c.logger
	}
	c.delivery = runDelivery(inbox, c.fn, dc)
}

// webhookOf is the event a delivery report is about, parsed, or nil.
func webhookOf(iev *InboxEvent) *WebhookEvent {
	if iev == nil {
		return nil
	}
	ev, err := iev.Webhook()
	if err != nil {
		return nil
	}
	return ev
}

// store appends an accepted event to the inbox and answers once Append has
// returned: 200 when the inbox took it, 200 "duplicate" when the inbox held
// it already, 503 when it failed. The append is not cut short when the
// sender hangs up: an event stored late is still delivered.
func (c *webhookCore) store(w http.ResponseWriter, r *http.Request, ev *WebhookEvent, claim dedupClaim) {
	defer c.leave()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
	defer cancel()
	iev := NewInboxEvent(ev.ScopeID, ev.Raw, r.Header.Get(WebhookSignatureHeader), c.now())
	added, err := c.delivery.Append(ctx, iev)
	switch {
	case err != nil:
		claim.release()
		c.lost(r.Context(), ev, fmt.Errorf("%w: %w", ErrWebhookNotStored, err))
		reply(w, http.StatusServiceUnavailable, webhookTextNotStored)
	case !added:
		// Kept in the dedup memory: the event is known.
		c.refuse(r.Context(), w, r, refused(http.StatusOK, webhookTextDuplicate,
			fmt.Errorf("%w: the inbox holds event %s already", ErrWebhookReplay, iev.ID), ev))
	default:
		reply(w, http.StatusOK, webhookTextOK)
	}
}
