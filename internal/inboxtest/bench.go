package inboxtest

import (
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
