// Package killtest runs a child process behind an HTTP handler that kills
// it with SIGKILL at a planned point of its conversation with the server:
// before a request is served (it never arrives), right after one is served
// (its answer is lost), or after a time.
package killtest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Plan says when to kill the child. Zero fields never kill.
type Plan struct {
	At     int                      // the child's request number At (from 1)
	Before bool                     // kill before request At is served, not after
	After  func(*http.Request) bool // also kill right after serving a request it accepts
	Within time.Duration            // also kill after this time
}

// Proxy serves Next to the child that Run runs, killing it as planned.
type Proxy struct {
	Next http.Handler

	mu     sync.Mutex
	plan   Plan
	n      int
	child  *os.Process
	exited chan struct{}
	killed string
}

// ServeHTTP counts the child's requests and serves them, killing the child
// before or after one as planned.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	plan, n := p.plan, p.n
	p.mu.Unlock()
	if plan.Before && n == plan.At {
		p.kill(fmt.Sprintf("before request %d", n))
		return
	}
	p.Next.ServeHTTP(w, r) // the answer is still buffered in w
	switch {
	case plan.After != nil && plan.After(r):
		p.kill(fmt.Sprintf("after request %d (%s %s)", n, r.Method, r.URL.Path))
	case !plan.Before && n == plan.At:
		p.kill(fmt.Sprintf("after request %d", n))
	}
}

// kill sends SIGKILL to the child and waits until it is gone, so it never
// sees an answer being written.
func (p *Proxy) kill(why string) {
	p.mu.Lock()
	if p.killed != "" || p.child == nil {
		p.mu.Unlock()
		return
	}
	p.killed = why
	child, exited := p.child, p.exited
	p.mu.Unlock()
	_ = child.Kill()
	<-exited
}

// Run starts cmd, kills it as plan says, and waits for it. It returns why
// it was killed ("" when it ended by itself) and what cmd.Wait returned.
// One child runs at a time.
func (p *Proxy) Run(cmd *exec.Cmd, plan Plan) (killed string, err error) {
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.plan, p.n, p.child, p.exited, p.killed = plan, 0, cmd.Process, exited, ""
	p.mu.Unlock()
	if plan.Within > 0 {
		start := time.Now()
		timer := time.AfterFunc(plan.Within, func() { p.kill(fmt.Sprintf("after %v", time.Since(start).Round(time.Millisecond))) })
		defer timer.Stop()
	}
	err = cmd.Wait()
	close(exited)
	p.mu.Lock()
	killed, p.plan, p.child = p.killed, Plan{}, nil
	p.mu.Unlock()
	return killed, err
}
