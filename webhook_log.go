package amojo

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// refusalReason names the reason of a refusal in a summary log line.
func refusalReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrInvalidSignature, "invalid_signature"},
		{ErrWebhookTooLarge, "too_large"},
		{ErrWebhookReadTimeout, "read_timeout"},
		{ErrMalformedWebhook, "malformed"},
		{ErrWebhookScope, "scope"},
		{ErrWebhookStale, "stale"},
		{ErrWebhookReplay, "replay"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "misconfigured"
}

// logLimit lets through at most lines log lines per interval and counts the
// rest, by reason, for one summary line. It has no goroutine: an interval
// ends when the next refusal comes after it, or at Close.
type logLimit struct {
	lines    int
	interval time.Duration

	mu      sync.Mutex
	start   time.Time // of the current interval; zero before the first refusal
	logged  int
	dropped map[string]int
	level   slog.Level // the highest level among the dropped lines
}

// logSummary counts the lines an interval did not log.
type logSummary struct {
	since   time.Time
	level   slog.Level
	dropped map[string]int
}

// admit says whether a refusal at now may be logged, and returns the summary
// of an interval that ended before now, if it dropped lines.
func (l *logLimit) admit(now time.Time, reason string, level slog.Level) (ok bool, sum *logSummary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= l.interval || now.Before(l.start) {
		sum = l.take()
		l.start, l.logged = now, 0
	}
	if l.logged < l.lines {
		l.logged++
		return true, sum
	}
	if l.dropped == nil {
		l.dropped = make(map[string]int)
	}
	if len(l.dropped) == 0 || level > l.level {
		l.level = level
	}
	l.dropped[reason]++
	return false, sum
}

// flush returns the summary of the lines dropped so far, if any.
func (l *logLimit) flush() *logSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.take()
}

// take returns and resets the counts; l.mu is held.
func (l *logLimit) take() *logSummary {
	if len(l.dropped) == 0 {
		return nil
	}
	s := &logSummary{since: l.start, level: l.level, dropped: l.dropped}
	l.dropped = nil
	return s
}

// log writes the summary line: how many refusals were not logged since when,
// with the count of each reason.
func (s *logSummary) log(ctx context.Context, logger *slog.Logger) {
	if s == nil || !logger.Enabled(ctx, s.level) {
		return
	}
	total := 0
	reasons := make([]any, 0, len(s.dropped))
	for _, name := range slices.Sorted(maps.Keys(s.dropped)) {
		total += s.dropped[name]
		reasons = append(reasons, slog.Int(name, s.dropped[name]))
	}
	logger.LogAttrs(ctx, s.level, "amojo webhook refusals not logged",
		slog.Int("count", total),
		slog.Time("since", s.since),
		slog.Group("reasons", reasons...))
}
