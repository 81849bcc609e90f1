package importer_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// The import benchmarks move 200 conversations of 50 messages each through
// the fake amoCRM with 20 ms of latency on every call, as over a real
// network. The REST client keeps amoCRM's 7 requests per second. The
// sequential run takes minutes; run them with
//
//	go test -run '^$' -bench 'Import' -benchtime 1x
//
// AMOJO_BENCH_SIZE=CONVERSATIONSxMESSAGES (such as 40x50) and
// AMOJO_BENCH_LATENCY (such as 5ms) change the load.
func benchmarkImport(b *testing.B, concurrency int) {
	convN, msgN := 200, 50
	if v := os.Getenv("AMOJO_BENCH_SIZE"); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &convN, &msgN); err != nil {
			b.Fatalf("AMOJO_BENCH_SIZE=%q: %v", v, err)
		}
	}
	latency := 20 * time.Millisecond
	if v := os.Getenv("AMOJO_BENCH_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		latency = d
	}
	convs := manyConversations(b, convN, msgN)
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		// A fresh account each time, so every round imports everything. The
		// server's own REST limit is off: the client keeps to 7/s itself.
		srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
		srv.SetLatency(amojotest.AllRoutes, latency)
		im, err := importer.New(srv.Client(), srv.CRMClient(), importer.WithConcurrency(concurrency), importer.WithVerifyWait(0))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := im.ImportAll(b.Context(), importer.ConversationsOf(convs))
		elapsed += time.Since(start)
		b.StopTimer()
		srv.Close()
		if err != nil {
			b.Fatal(err)
		}
		if res.MessagesSent != convN*msgN {
			b.Fatalf("sent %d of %d messages", res.MessagesSent, convN*msgN)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*convN*msgN)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N*convN)/elapsed.Seconds(), "convs/s")
}

func BenchmarkImportSequential(b *testing.B) { benchmarkImport(b, 1) }

func BenchmarkImportConcurrent(b *testing.B) {
	for _, n := range []int{importer.DefaultConcurrency, 32} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchmarkImport(b, n) })
	}
}
