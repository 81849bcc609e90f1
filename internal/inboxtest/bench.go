package inboxtest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
)

// BenchAppend measures Append on in, reporting appends/s: one at a time, or
// with parallel (16 per CPU) callers at once.
func BenchAppend(b *testing.B, in amojo.Inbox, parallel bool) {
	body := []byte(`{"account_id":"acc","time":1700000000,"message":{"message":{"id":"m","type":"text","text":"hello"}}}`)
	now := time.Now()
	var n atomic.Int64
	appendOne := func() error {
		ev := amojo.InboxEvent{ID: strconv.FormatInt(n.Add(1), 10), ScopeID: "scope", Body: body, Signature: "sig", ReceivedAt: now}
		_, err := in.Append(b.Context(), ev)
		return err
	}
	b.ResetTimer()
	if parallel {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := appendOne(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for range b.N {
			if err := appendOne(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchAccept measures the webhooks a WebhookHandler made with opts accepts
// per second: signed webhooks (Webhook) served through ServeHTTP, one at a
// time or with parallel (16 per CPU) senders at once, each answered 200. The
// callback does nothing; the handler's workers or delivery run meanwhile, as
// they would in a server. Reported as webhooks/s.
func BenchAccept(b *testing.B, parallel bool, opts ...amojo.WebhookOption) {
	report := func(_ *amojo.WebhookEvent, err error) { b.Error(err) }
	h := amojo.NewWebhookHandler(ReceiverSecret, func(context.Context, *amojo.WebhookEvent) error { return nil },
		append([]amojo.WebhookOption{amojo.WithWebhookErrorHandler(report)}, opts...)...)
	if err := h.Err(); err != nil {
		b.Fatal(err)
	}
	path := receiverPath + ReceiverScope
	var n atomic.Int64
	acceptOne := func() bool {
		body, sig := Webhook(int(n.Add(1)))
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set(amojo.WebhookSignatureHeader, sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
			b.Errorf("answered %d %q", w.Code, w.Body.String())
			return false
		}
		return true
	}
	b.ResetTimer()
	if parallel {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !acceptOne() {
					return
				}
			}
		})
	} else {
		for range b.N {
			if !acceptOne() {
				b.FailNow()
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
	b.StopTimer()
	if err := h.Close(context.Background()); err != nil {
		b.Error(err)
	}
}
