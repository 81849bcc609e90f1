package importer_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// defaultBenchSeed makes the skewed input of BenchmarkImport.
const defaultBenchSeed = 1

// skewedConversations returns 300 conversations in random order, sized as
// real imports are: most are short, a few are long (246 of 3–15 messages,
// 36 of 16–59, 18 of 60–150). Every other one has a contact to create.
func skewedConversations(tb testing.TB, seed uint64) []*importer.Conversation {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var sizes []int
	for _, g := range []struct{ n, lo, hi int }{{246, 3, 15}, {36, 16, 59}, {18, 60, 150}} {
		for range g.n {
			sizes = append(sizes, g.lo+rng.IntN(g.hi-g.lo+1))
		}
	}
	rng.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	out := make([]*importer.Conversation, len(sizes))
	for i, n := range sizes {
		out[i] = conversationN(tb, i, n)
	}
	return out
}

// benchEnv reads the benchmark's settings from the environment.
type benchEnv struct {
	seed        uint64
	latency     time.Duration
	uniform     [2]int // conversations × messages; zero: the skewed input
	concurrency []int
	stream      bool // ImportAll of ReadConversations instead of ImportFile
}

func readBenchEnv(b *testing.B) benchEnv {
	e := benchEnv{seed: defaultBenchSeed, latency: 20 * time.Millisecond, concurrency: []int{1, 8, 16, 32}}
	if v := os.Getenv("AMOJO_BENCH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			b.Fatalf("AMOJO_BENCH_SEED=%q: %v", v, err)
		}
		e.seed = s
	}
	if v := os.Getenv("AMOJO_BENCH_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("AMOJO_BENCH_LATENCY=%q: %v", v, err)
		}
		e.latency = d
	}
	if v := os.Getenv("AMOJO_BENCH_SIZE"); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &e.uniform[0], &e.uniform[1]); err != nil || e.uniform[0] < 1 || e.uniform[1] < 1 {
			b.Fatalf("AMOJO_BENCH_SIZE=%q: want CONVERSATIONSxMESSAGES, such as 200x50", v)
		}
	}
	switch v := os.Getenv("AMOJO_BENCH_SOURCE"); v {
	case "", "file":
	case "stream":
		e.stream = true
	default:
		b.Fatalf("AMOJO_BENCH_SOURCE=%q: want file or stream", v)
	}
	if v := os.Getenv("AMOJO_BENCH_CONCURRENCY"); v != "" {
		e.concurrency = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("AMOJO_BENCH_CONCURRENCY=%q: want a list such as 16,32", v)
			}
			e.concurrency = append(e.concurrency, n)
		}
	}
	return e
}

// BenchmarkImport imports a skewed input (see skewedConversations; the seed
// is printed) through the fake amoCRM with the same latency on every route,
// as over a real network, at several concurrencies, and compares the time
// with the least any importer could take: every message is one request and
// a conversation's requests go one after the other, so with C requests in
// flight and a round trip of RTT an import of N chats API requests takes at
// least RTT × max(N / C, the longest conversation's own chain of requests).
// N and the chains are counted on the fake's wire. It reports the time
// (s/op), the bound (bound-s), their ratio (of-bound: 1 is the bound) and
// the chats API requests per message. The REST client keeps amoCRM's 7
// requests per second. The conversations come from a JSON Lines file,
// imported with ImportFile and a file checkpoint. C=1 takes about two
// minutes; run them with
//
//	go test -run '^$' -bench Import -benchtime 1x ./importer
//
// AMOJO_BENCH_CONCURRENCY (such as 16,32) chooses the concurrencies,
// AMOJO_BENCH_SEED the input, AMOJO_BENCH_LATENCY (such as 5ms) the round
// trip, AMOJO_BENCH_SIZE=CONVERSATIONSxMESSAGES (such as 200x50) makes a
// uniform input instead, and AMOJO_BENCH_SOURCE=stream imports with
// ImportAll of ReadConversations instead of ImportFile.
func BenchmarkImport(b *testing.B) {
	env := readBenchEnv(b)
	var convs []*importer.Conversation
	input := ""
	if env.uniform[0] > 0 {
		convs = manyConversations(b, env.uniform[0], env.uniform[1])
		input = fmt.Sprintf("uniform %dx%d", env.uniform[0], env.uniform[1])
	} else {
		convs = skewedConversations(b, env.seed)
		input = fmt.Sprintf("skewed, seed %d", env.seed)
	}
	msgs, longest := 0, 0
	for _, c := range convs {
		msgs += len(c.Messages)
		longest = max(longest, len(c.Messages))
	}
	input += fmt.Sprintf(": %d conversations, %d messages, the longest %d; round trip %v", len(convs), msgs, longest, env.latency)
	path := filepath.Join(b.TempDir(), "conversations.jsonl")
	lines, _ := jsonLines(b, convs)
	if err := os.WriteFile(path, lines, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, n := range env.concurrency {
		b.Run(fmt.Sprintf("C=%d", n), func(b *testing.B) {
			b.Log("input: " + input)
			benchmarkImport(b, path, msgs, n, env)
		})
	}
}

// benchmarkImport imports the JSON Lines file at path as a program would:
// ImportFile of the file (or ImportAll of ReadConversations, with
// AMOJO_BENCH_SOURCE=stream), with a file checkpoint.
func benchmarkImport(b *testing.B, path string, msgs, concurrency int, env benchEnv) {
	var elapsed, bound time.Duration
	var requests int
	for range b.N {
		b.StopTimer()
		// A fresh account each time, so every round imports everything. The
		// server's own REST limit is off: the client keeps to 7/s itself.
		srv := amojotest.NewServer(amojotest.WithRateLimit(0, 0))
		srv.SetLatency(amojotest.AllRoutes, env.latency)
		cp, err := importer.NewFileCheckpoint(filepath.Join(b.TempDir(), "checkpoint.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		im, err := importer.New(srv.Client(), srv.CRMClient(), importer.WithCheckpoint(cp), importer.WithConcurrency(concurrency), importer.WithVerifyWait(0))
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		var res *importer.BatchResult
		if env.stream {
			res, err = im.ImportAll(b.Context(), importer.ReadConversations(f))
		} else {
			res, err = im.ImportFile(b.Context(), f)
		}
		took := time.Since(start)
		b.StopTimer()
		f.Close()
		cp.Close()
		if err != nil {
			b.Fatal(err)
		}
		if res.MessagesSent != msgs {
			b.Fatalf("sent %d of %d messages", res.MessagesSent, msgs)
		}
		n, chain := wireLoad(b, srv)
		srv.Close()
		requests += n
		elapsed += took
		bound += env.latency * time.Duration(max((n+concurrency-1)/concurrency, chain))
		b.StartTimer()
	}
	ratio := bound.Seconds() / elapsed.Seconds()
	b.ReportMetric(bound.Seconds()/float64(b.N), "bound-s")
	b.ReportMetric(ratio, "of-bound")
	b.ReportMetric(float64(requests)/float64(b.N*msgs), "req/msg")
	b.ReportMetric(float64(b.N*msgs)/elapsed.Seconds(), "msgs/s")
	b.Logf("C=%d: %.2fs, bound %.2fs (%.0f%% of it), %.3f chats API requests per message",
		concurrency, elapsed.Seconds()/float64(b.N), bound.Seconds()/float64(b.N), 100*ratio, float64(requests)/float64(b.N*msgs))
}

// wireLoad counts the chats API requests the fake received and the longest
// chain of them one conversation made (chat creation, history reads,
// messages).
func wireLoad(b *testing.B, srv *amojotest.Server) (requests, longest int) {
	chain := map[string]int{}
	for _, r := range srv.Requests() {
		if !strings.HasPrefix(r.Path, "/v2/") {
			continue
		}
		requests++
		var conv string
		switch r.Route {
		case amojotest.RouteCreateChat:
			var body struct {
				ConversationID string `json:"conversation_id"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				b.Fatal(err)
			}
			conv = body.ConversationID
		case amojotest.RouteMessage:
			conv = payloadConversation(b, r)
		case amojotest.RouteHistory:
			parts := strings.Split(r.Path, "/")
			chat, ok := srv.Chat(parts[len(parts)-2])
			if !ok {
				b.Fatalf("history of an unknown chat: %s", r.Path)
			}
			conv = chat.ConversationID
		}
		if conv != "" {
			chain[conv]++
			longest = max(longest, chain[conv])
		}
	}
	return requests, longest
}
