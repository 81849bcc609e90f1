package importer

import (
	"container/heap"
	"sync"
)

// The order conversations start in, and the pipeline that prepares them
// while those started before send their messages.
//
// Every message is one request and a conversation's messages go one after
// the other, so an import cannot be faster than its longest conversation,
// nor than its requests divided by the requests in flight. Started in input
// order, the long conversations met late run alone at the end, long after
// the others are done; started first, they run beside all the others. So
// conversations start longest first: ImportAll among those it reads ahead
// (lookahead), ImportFile over the whole file (indexFile).

// lookahead holds conversations read but not started, the longest first.
type lookahead struct {
	size int
	jobs jobHeap
}

func newLookahead(size int) *lookahead { return &lookahead{size: size} }

// push adds j; once the lookahead is full it returns the conversation to
// start next, the longest it holds (the first read, among equals).
func (l *lookahead) push(j *importJob) *importJob {
	heap.Push(&l.jobs, j)
	if l.jobs.Len() < l.size {
		return nil
	}
	return heap.Pop(&l.jobs).(*importJob)
}

// pop returns the longest conversation held, or nil.
func (l *lookahead) pop() *importJob {
	if l.jobs.Len() == 0 {
		return nil
	}
	return heap.Pop(&l.jobs).(*importJob)
}

// jobHeap orders jobs by their number of messages, most first, then by
// their place in the input.
type jobHeap []*importJob

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(a, b int) bool {
	if na, nb := len(h[a].conv.Messages), len(h[b].conv.Messages); na != nb {
		return na > nb
	}
	return h[a].index < h[b].index
}
func (h jobHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(*importJob)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}

// pipeline prepares conversations in batches (the caller's goroutine, in
// add and close) and sends their messages (WithConcurrency runners). A
// batch is prepared while the conversations of the one before send: its
// chats, looked up and linked contacts and checkpoint states are ready by
// the time a runner is free. Its chat creations share the run's bound on
// requests in flight (importRun.call) and never wait for a conversation to
// end. The first batch holds one conversation per runner, so that the first
// messages leave after the fewest round trips; the next ones a chunk.
//
// Memory: the batch being prepared, the prepared ones waiting for a runner
// (at most a chunk) and one per runner.
type pipeline struct {
	r       *importRun
	ready   chan *importJob
	runners sync.WaitGroup
	batch   []*importJob
	size    int
}

func (r *importRun) startPipeline() *pipeline {
	cfg := r.im.cfg
	p := &pipeline{r: r, ready: make(chan *importJob, cfg.chunk), size: min(cfg.chunk, cfg.concurrency)}
	for range cfg.concurrency {
		p.runners.Go(func() {
			for j := range p.ready {
				if r.ctx.Err() != nil {
					continue // stopped: leave it for the next run
				}
				r.importMessages(j)
			}
		})
	}
	return p
}

// add queues j, the next conversation to start, for preparation; left is
// how many conversations are still to come after it (-1: not known). A
// last batch smaller than half a chunk joins the one before: it would cost
// the same REST requests as a full one, at the end, when the conversations
// are the shortest and go fastest.
func (p *pipeline) add(j *importJob, left int) {
	p.batch = append(p.batch, j)
	if len(p.batch) >= p.size && (left < 0 || left >= p.size/2 || len(p.batch)+left > maxChunkSize) {
		p.flush()
	}
}

// flush prepares the queued conversations and hands each to the runners as
// soon as it is ready.
func (p *pipeline) flush() {
	batch := p.batch
	p.batch, p.size = nil, p.r.im.cfg.chunk
	// While the runners are busy, the conversations ready first wait here,
	// so that the batch's REST steps go on meanwhile.
	var waiting []*importJob
	p.r.prepare(batch, func(j *importJob) {
		if len(waiting) == 0 {
			select {
			case p.ready <- j:
				return
			default:
			}
		}
		waiting = append(waiting, j)
	})
	for _, j := range waiting {
		select {
		case p.ready <- j:
		case <-p.r.ctx.Done(): // stopped: left for the next run
			return
		}
	}
}

// close prepares what is queued (unless the run stopped) and waits for the
// runners to finish.
func (p *pipeline) close() {
	if p.r.ctx.Err() == nil {
		p.flush()
	}
	close(p.ready)
	p.runners.Wait()
}
