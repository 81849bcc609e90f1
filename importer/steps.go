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

// prepare runs the steps that come before a conversation's messages, for
// a batch of conversations: claim, checkpoint, connect (once per Importer),
// chats, contacts and links. Each conversation whose messages may go is
// passed to start (when not nil) as soon as it is ready: one with no
// contact to find or link once its chat exists, the others after the
// batch's REST steps, so the REST round trips hold up only the
// conversations that need them. Failed or finished jobs are left out of
// later steps.
func (r *importRun) prepare(batch []*importJob, start func(*importJob)) {
	// Claimed first: a conversation another importer holds costs no
	// request of its own (from ImportConversation, not even the connect;
	// ImportAll and ImportFile connect ahead while they read).
	for _, j := range live(batch) {
		if ce := r.claim(j); ce != nil {
			r.fail(j, ce)
		}
	}
	jobs := live(batch)
	if len(jobs) == 0 {
		return
	}
	scopeID, err := r.runScope()
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
		j.readFirst = st.Done || !r.im.checkpointGiven && st.ChatID == ""
		if st.Done && st.Digest == digest(j.conv) {
			j.res.AlreadyDone = true
			j.res.Skipped = len(j.conv.Messages)
			r.finish(j)
		}
	}
	r.createChats(scopeID, live(batch))
	var rest []*importJob
	for _, j := range live(batch) {
		switch {
		case !contactSettled(j):
			rest = append(rest, j)
		case start != nil:
			start(j)
		}
	}
	r.contacts(rest)
	if start != nil {
		for _, j := range live(rest) {
			start(j)
		}
	}
}

// contactSettled reports whether j's chat is linked to its contact already
// (or it has none), so its messages need no REST step first.
func contactSettled(j *importJob) bool {
	spec := j.conv.Contact
	switch {
	case spec == nil:
		return true
	case spec.ID > 0:
		if j.state.Linked && j.state.ContactID == spec.ID {
			j.res.ContactID = spec.ID
			return true
		}
		return false
	}
	return j.state.ContactID != 0 && j.state.Linked
}

// createChats creates (or finds, as creation is idempotent) the chats the
// checkpoint does not know, all at once: each takes a slot of the run's
// bound on chats API requests, shared with the conversations sending their
// messages.
func (r *importRun) createChats(scopeID string, jobs []*importJob) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.state.ChatID != "" {
			continue
		}
		wg.Go(func() {
			var chat *amojo.Chat
			err := r.call(func() (err error) {
				chat, err = r.im.chats.CreateChat(r.ctx, scopeID, amojo.CreateChatRequest{ConversationID: j.conv.ID, Source: j.conv.Source, User: j.conv.Client})
				return err
			})
			if err != nil {
				r.failStep(j, "create chat", "", err)
				return
			}
			if r.record(j, CheckpointEntry{ScopeID: scopeID, ChatID: chat.ID}) {
				j.res.ChatID = chat.ID
			}
		})
	}
	wg.Wait()
}

// chatHistory is what one read of a chat's history found: the msgids it
// holds and its number of messages.
type chatHistory struct {
	ids map[string]bool
	n   int
}

// holdsAll reports whether h holds every message of c.
func (h *chatHistory) holdsAll(c *Conversation) bool {
	for _, m := range c.Messages {
		if !h.ids[m.MsgID] {
			return false
		}
	}
	return true
}

// importMessages sends the messages of j that amoCRM does not have, in time
// order, then verifies the history and marks j done.
//
// The messages amoCRM has are those the checkpoint lists; the importer
// reads the history first only where it expects amoCRM to hold more
// (importJob.readFirst). Any other message amoCRM has already is refused
// with a 400 when sent again: one history read then tells a duplicate
// (skipped, with every other message that read shows) from a real refusal.
// The final check reads the history again unless the last read already
// showed every message and none was sent since.
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
	// read is the chat's history as last read; current says that no
	// message was sent since.
	var read *chatHistory
	current := false
	learn := func(h *chatHistory) {
		read, current = h, true
		for id := range h.ids {
			have[id] = true
		}
	}
	if j.readFirst && slices.ContainsFunc(c.Messages, func(m ConversationMessage) bool { return !have[m.MsgID] }) {
		h, err := r.history(scopeID, chatID)
		if err != nil {
			r.failStep(j, "history", "", err)
			return
		}
		learn(h)
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
		err := r.call(func() error {
			_, err := r.im.chats.SendMessage(r.ctx, scopeID, msg)
			return err
		})
		sent := err == nil
		if err != nil {
			h, herr := r.isDuplicate(scopeID, chatID, m.MsgID, err)
			if herr != nil {
				r.failStep(j, "send", m.MsgID, herr)
				return
			}
			if h == nil {
				r.failStep(j, "send", m.MsgID, err)
				return
			}
			learn(h)
		} else {
			current = false
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
		if current && read.holdsAll(c) {
			j.res.HistoryCount = read.n
		} else {
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
	}
	if !r.record(j, CheckpointEntry{Done: true, Digest: digest(c)}) {
		return
	}
	r.finish(j)
}

// isDuplicate decides whether a refused message is one amojo already has
// (a duplicate msgid): the answer is a 400 and the chat's history holds the
// msgid. It returns that history, or nil when the refusal is no duplicate.
// amoCRM does not document how it refuses a duplicate; the fake server
// answers 400 with error_code "duplicate_msgid". Checking the history
// rather than the wording also catches an msgid used in another chat, which
// is an error, not a message imported.
func (r *importRun) isDuplicate(scopeID, chatID, msgID string, sendErr error) (*chatHistory, error) {
	var ae *amojo.APIError
	if !errors.As(sendErr, &ae) || ae.StatusCode != http.StatusBadRequest {
		return nil, nil
	}
	// Wait for amojo's processing only when the answer says "duplicate";
	// another 400 is most likely a real refusal.
	dup := looksDuplicate(ae)
	h, err := r.waitHistory(scopeID, chatID, dup, func(h *chatHistory) bool { return h.ids[msgID] })
	if err != nil {
		return nil, err
	}
	if h.ids[msgID] {
		return h, nil
	}
	if dup {
		return nil, fmt.Errorf("amojo: msgid %q is already used in another chat of this scope: %w", msgID, sendErr)
	}
	return nil, nil
}

// looksDuplicate reports an amojo answer that refuses a duplicate msgid.
func looksDuplicate(ae *amojo.APIError) bool {
	text := strings.ToLower(ae.Code + " " + ae.Message + " " + string(ae.Body))
	return strings.Contains(text, "duplicate") || strings.Contains(text, "already exist")
}

// history reads the chat's whole history, page after page, in one slot
// of the run's bound.
func (r *importRun) history(scopeID, chatID string) (*chatHistory, error) {
	h := &chatHistory{ids: make(map[string]bool)}
	err := r.call(func() error {
		for hm, err := range r.im.chats.AllHistory(r.ctx, scopeID, chatID, amojo.HistoryOptions{}) {
			if err != nil {
				return err
			}
			h.n++
			if hm.Message.ClientID != "" {
				h.ids[hm.Message.ClientID] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// waitHistory reads the chat's history until ok accepts it or (when wait
// is set) the verify wait is over, and returns the last read.
func (r *importRun) waitHistory(scopeID, chatID string, wait bool, ok func(*chatHistory) bool) (*chatHistory, error) {
	deadline := time.Now()
	if wait {
		deadline = deadline.Add(r.im.cfg.verifyWait)
	}
	delay := 200 * time.Millisecond
	for {
		h, err := r.history(scopeID, chatID)
		if err != nil {
			return nil, err
		}
		if ok(h) || !time.Now().Add(delay).Before(deadline) {
			return h, nil
		}
		if !sleepCtx(r.ctx.Done(), delay) {
			return nil, r.ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// verify checks that the chat's history holds every message of c and
// returns the history's length.
func (r *importRun) verify(scopeID, chatID string, c *Conversation) (int, error) {
	h, err := r.waitHistory(scopeID, chatID, true, func(h *chatHistory) bool { return h.holdsAll(c) })
	if err != nil {
		return 0, err
	}
	for _, m := range c.Messages {
		if !h.ids[m.MsgID] {
			return 0, &ConversationError{MsgID: m.MsgID, Step: "verify", Err: errors.New("amojo: message missing from the chat history")}
		}
	}
	return h.n, nil
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
