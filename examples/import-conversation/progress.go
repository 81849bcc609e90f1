package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/amojo-go/amojo/importer"
)

// progress shows how a long import goes: a progress bar on a terminal,
// a plain line every few seconds otherwise (logs, pipes, CI).
type progress struct {
	w             io.Writer
	bar           *progressbar.ProgressBar
	conversations int
	messages      int
	every         time.Duration
	last          time.Time
	p             importer.Progress
}

func newProgress(w io.Writer, conversations, messages int) *progress {
	pr := &progress{w: w, conversations: conversations, messages: messages, every: 5 * time.Second, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pr.bar = progressbar.NewOptions(messages,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("importing messages"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return pr
}

// update is the importer's progress callback; calls never overlap.
func (pr *progress) update(p importer.Progress) {
	pr.p = p
	if pr.bar != nil {
		_ = pr.bar.Set(p.MessagesSent + p.MessagesSkipped)
		return
	}
	if time.Since(pr.last) >= pr.every {
		pr.last = time.Now()
		pr.line()
	}
}

func (pr *progress) line() {
	p := pr.p
	elsewhere := ""
	if p.ConversationsClaimedElsewhere > 0 {
		elsewhere = fmt.Sprintf(", %d left to another run", p.ConversationsClaimedElsewhere)
	}
	fmt.Fprintf(pr.w, "progress: %d/%d conversations done (%d failed%s), %d/%d messages (%d sent, %d already there)\n",
		p.ConversationsDone, pr.conversations, p.ConversationsFailed, elsewhere,
		p.MessagesSent+p.MessagesSkipped, pr.messages, p.MessagesSent, p.MessagesSkipped)
}

func (pr *progress) finish() {
	if pr.bar != nil {
		_ = pr.bar.Exit()
		fmt.Fprintln(pr.w)
		return
	}
	pr.line()
}
