package importer

import "sync"

// pipeline prepares conversations in batches (the caller's goroutine, in
// add and close) and sends their messages (WithConcurrency runners). A
// batch is prepared while the conversations of the one before send: its
// chats, looked up and linked contacts and checkpoint states are ready by
// the time a runner is free. Its chat creations share the run's bound on
// requests in flight (importRun.call) and never wait for a conversation to
// end.
//
// Memory: the batch being prepared, the prepared ones waiting for a runner
// (at most a chunk) and one per runner.
type pipeline struct {
	r       *importRun
	ready   chan *importJob
	runners sync.WaitGroup
	batch   []*importJob
}

func (r *importRun) startPipeline() *pipeline {
	cfg := r.im.cfg
	p := &pipeline{r: r, ready: make(chan *importJob, cfg.chunk)}
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

// add queues j, the next conversation to start, for preparation.
func (p *pipeline) add(j *importJob) {
	p.batch = append(p.batch, j)
	if len(p.batch) >= p.r.im.cfg.chunk {
		p.flush()
	}
}

// flush prepares the queued conversations and hands each to the runners as
// soon as it is ready.
func (p *pipeline) flush() {
	batch := p.batch
	p.batch = nil
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
