package amojo_test

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/amojo-go/amojo"
)

// alternating is an Inbox that sends each call to the next of two FileInbox
// values of one file, so every call must see what the other wrote.
type alternating struct {
	ins [2]*amojo.FileInbox
	n   atomic.Uint64
}

func (a *alternating) next() *amojo.FileInbox { return a.ins[a.n.Add(1)%2] }

func (a *alternating) Append(ctx context.Context, ev amojo.InboxEvent) (bool, error) {
	return a.next().Append(ctx, ev)
}

func (a *alternating) Claim(ctx context.Context, n int, lease time.Duration) ([]amojo.InboxEvent, error) {
	return a.next().Claim(ctx, n, lease)
}

func (a *alternating) Extend(ctx context.Context, id, token string, lease time.Duration) error {
	return a.next().Extend(ctx, id, token, lease)
}

func (a *alternating) Done(ctx context.Context, id, token string) error {
	return a.next().Done(ctx, id, token)
}

func (a *alternating) Fail(ctx context.Context, id, token string, f amojo.InboxFailure) error {
	return a.next().Fail(ctx, id, token, f)
}

func (a *alternating) Dead(ctx context.Context, after string, n int) ([]amojo.InboxEvent, error) {
	return a.next().Dead(ctx, after, n)
}

func (a *alternating) Requeue(ctx context.Context, id string) error {
	return a.next().Requeue(ctx, id)
}
