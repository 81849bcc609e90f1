package importer

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amojo-go/amojo"
)

// live returns the jobs of batch that have not failed.
func live(batch []*importJob) []*importJob {
	return slices.DeleteFunc(slices.Clone(batch), func(j *importJob) bool { return j.err != nil || j.res.AlreadyDone })
}

// prepare runs the per-chunk steps: checkpoint, connect, chats, contacts and
// links. Failed or finished jobs are left out of later steps.
func (r *importRun) prepare(batch []*importJob) {
	jobs := live(batch)
	if len(jobs) == 0 {
		return
	}
	scopeID, err := r.scope()
	if err != nil {
		for _, j := range jobs {
			r.failStep(j, "connect", "", err)
		}
		return
	}
	for _, j := range jobs {
		st, err := r.im.cfg.checkpoint.Load(r.ctx, j.conv.ID)
		if err != nil {
			r.failStep(j, "checkpoint", "", err)
			continue
		}
		if st.ScopeID != "" && st.ScopeID != scopeID {
			r.failStep(j, "checkpoint", "", fmt.Errorf("amojo: the checkpoint has this conversation in scope %s, not %s", st.ScopeID, scopeID))
			continue
		}
		j.state = st
		j.res.ScopeID, j.res.ChatID, j.res.ContactID = scopeID, st.ChatID, st.ContactID
		if st.Done && st.Digest == digest(j.conv) {
			j.res.AlreadyDone = true
			j.res.Skipped = len(j.conv.Messages)
			r.finish(j)
		}
	}
	r.createChats(scopeID, live(batch))
	r.contacts(live(batch))
}

// createChats creates (or finds, as creation is idempotent) the chats the
// checkpoint does not know, several at once: they share the run's bound on
// chats API requests with the conversations sending their messages.
func (r *importRun) createChats(scopeID string, jobs []*importJob) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.state.ChatID != "" {
			continue
		}
		wg.Add(1)
		r.sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-r.sem }()
			chat, err := r.im.chats.CreateChat(r.ctx, scopeID, amojo.CreateChatRequest{ConversationID: j.conv.ID, Source: j.conv.Source, User: j.conv.Client})
			if err != nil {
				r.failStep(j, "create chat", "", err)
				return
			}
			if r.record(j, CheckpointEntry{ScopeID: scopeID, ChatID: chat.ID}) {
				j.res.ChatID = chat.ID
			}
		}()
	}
	wg.Wait()
}

// importMessages sends the messages of j that amoCRM does not have, in time
// order, then verifies the history and marks j done.
func (r *importRun) importMessages(j *importJob) {
	if j.err != nil || j.res.AlreadyDone {
		return
	}
	c, scopeID, chatID := j.conv, j.res.ScopeID, j.state.ChatID
	order := make([]int, len(c.Messages))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return c.Messages[a].Time.Compare(c.Messages[b].Time) })

	have := make(map[string]bool, len(c.Messages))
	for _, id := range j.state.Sent {
		have[id] = true
	}
	missing := 0
	for _, m := range c.Messages {
		if !have[m.MsgID] {
			missing++
		}
	}
	if missing > 0 {
		// A message sent just before a crash may be missing from the
		// checkpoint: ask amojo what the chat already holds.
		for hm, err := range r.im.chats.AllHistory(r.ctx, scopeID, chatID, amojo.HistoryOptions{}) {
			if err != nil {
				r.failStep(j, "history", "", err)
				return
			}
			if hm.Message.ClientID != "" {
				have[hm.Message.ClientID] = true
			}
		}
	}
	for k, i := range order {
		m := &c.Messages[i]
		if have[m.MsgID] {
			j.res.Skipped++
			r.count(0, 1)
			continue
		}
		msg := m.message(c, r.im.cfg.botRefID)
		msg.Source = c.Source
		msg.Silent = !(r.im.cfg.notifyNewest && k == len(order)-1)
		_, err := r.im.chats.SendMessage(r.ctx, scopeID, msg)
		sent := err == nil
		if err != nil {
			dup, herr := r.isDuplicate(scopeID, chatID, m.MsgID, err)
			if herr != nil {
				r.failStep(j, "send", m.MsgID, herr)
				return
			}
			if !dup {
				r.failStep(j, "send", m.MsgID, err)
				return
			}
		}
		if !r.record(j, CheckpointEntry{MsgID: m.MsgID}) {
			return
		}
		have[m.MsgID] = true
		if sent {
			j.res.Sent++
			r.count(1, 0)
		} else {
			j.res.Skipped++
			r.count(0, 1)
		}
	}
	if r.im.cfg.verify {
		n, err := r.verify(scopeID, chatID, c)
		if err != nil {
			var ce *ConversationError
			if errors.As(err, &ce) {
				ce.ConversationID = c.ID
				r.fail(j, ce)
			} else {
				r.failStep(j, "verify", "", err)
			}
			return
		}
		j.res.HistoryCount = n
	}
	if !r.record(j, CheckpointEntry{Done: true, Digest: digest(c)}) {
		return
	}
	r.finish(j)
}

// isDuplicate decides whether a refused message is one amojo already has
// (a duplicate msgid): the answer is a 400 and the chat's history holds the
// msgid. amoCRM does not document how it refuses a duplicate; the fake
// server answers 400 with error_code "duplicate_msgid". Checking the history
// rather than the wording also catches an msgid used in another chat, which
// is an error, not a message imported.
func (r *importRun) isDuplicate(scopeID, chatID, msgID string, sendErr error) (bool, error) {
	var ae *amojo.APIError
	if !errors.As(sendErr, &ae) || ae.StatusCode != http.StatusBadRequest {
		return false, nil
	}
	// Wait for amojo's processing only when the answer says "duplicate";
	// another 400 is most likely a real refusal.
	dup := looksDuplicate(ae)
	found := false
	_, err := r.waitHistory(scopeID, chatID, dup, func(all map[string]bool) bool {
		found = all[msgID]
		return found
	})
	if err != nil {
		return false, err
	}
	if !found && dup {
		return false, fmt.Errorf("amojo: msgid %q is already used in another chat of this scope: %w", msgID, sendErr)
	}
	return found, nil
}

// looksDuplicate reports an amojo answer that refuses a duplicate msgid.
func looksDuplicate(ae *amojo.APIError) bool {
	text := strings.ToLower(ae.Code + " " + ae.Message + " " + string(ae.Body))
	return strings.Contains(text, "duplicate") || strings.Contains(text, "already exist")
}

// waitHistory reads the chat's history until ok accepts the set of msgids it
// holds or (when wait is set) the verify wait is over, and returns the number
// of messages.
func (r *importRun) waitHistory(scopeID, chatID string, wait bool, ok func(map[string]bool) bool) (int, error) {
	deadline := time.Now()
	if wait {
		deadline = deadline.Add(r.im.cfg.verifyWait)
	}
	delay := 200 * time.Millisecond
	for {
		all := make(map[string]bool)
		n := 0
		for hm, err := range r.im.chats.AllHistory(r.ctx, scopeID, chatID, amojo.HistoryOptions{}) {
			if err != nil {
				return 0, err
			}
			n++
			if hm.Message.ClientID != "" {
				all[hm.Message.ClientID] = true
			}
		}
		if ok(all) || !time.Now().Add(delay).Before(deadline) {
			return n, nil
		}
		if !sleepCtx(r.ctx.Done(), delay) {
			return 0, r.ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// verify checks that the chat's history holds every message of c and
// returns the history's length.
func (r *importRun) verify(scopeID, chatID string, c *Conversation) (int, error) {
	var lost string
	n, err := r.waitHistory(scopeID, chatID, true, func(all map[string]bool) bool {
		lost = ""
		for _, m := range c.Messages {
			if !all[m.MsgID] {
				lost = m.MsgID
				return false
			}
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if lost != "" {
		return 0, &ConversationError{MsgID: lost, Step: "verify", Err: errors.New("amojo: message missing from the chat history")}
	}
	return n, nil
}

// digest fingerprints the msgids of c, so a finished conversation that
// gained messages is not taken for done.
func digest(c *Conversation) string {
	ids := make([]string, len(c.Messages))
	for i, m := range c.Messages {
		ids[i] = m.MsgID
	}
	slices.SortFunc(ids, cmp.Compare)
	h := fnv.New64a()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sleepCtx waits for d; it returns false if done closes first.
func sleepCtx(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
