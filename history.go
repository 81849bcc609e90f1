package amojo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// MaxHistoryLimit is the largest page History can ask for.
const MaxHistoryLimit = 50

// DefaultMaxHistoryPages is how many pages AllHistory reads at most unless
// HistoryOptions.MaxPages says otherwise: 100 000 messages at the full limit.
const DefaultMaxHistoryPages = 2000

// ErrHistoryTooLong reports that AllHistory read HistoryOptions.MaxPages full
// pages and stopped, with more history possibly left.
var ErrHistoryTooLong = errors.New("amojo: history longer than the page limit")

// HistoryOptions selects a page of chat history: Offset messages are skipped
// and at most Limit returned. Limit 0 means MaxHistoryLimit.
type HistoryOptions struct {
	Offset int
	Limit  int
	// MaxPages bounds AllHistory (History ignores it): after that many full
	// pages it stops with ErrHistoryTooLong. 0 means DefaultMaxHistoryPages.
	MaxPages int
}

func (o HistoryOptions) validate() error {
	if o.Offset < 0 {
		return invalid("Offset", "negative")
	}
	if o.Limit < 0 || o.Limit > MaxHistoryLimit {
		return invalid("Limit", "must be within [0, 50]")
	}
	if o.MaxPages < 0 {
		return invalid("MaxPages", "negative")
	}
	return nil
}

// HistoryMessage is one message of a chat's history. Receiver is nil for
// messages from the client.
type HistoryMessage struct {
	Time     time.Time
	Sender   ChatUser
	Receiver *ChatUser
	Message  ReceivedMessage
}

type historyBody struct {
	Messages []historyItem `json:"messages"`
}

type historyItem struct {
	Timestamp     int64           `json:"timestamp"`
	MsecTimestamp int64           `json:"msec_timestamp"`
	Sender        ChatUser        `json:"sender"`
	Receiver      *ChatUser       `json:"receiver"`
	Message       ReceivedMessage `json:"message"`
}

func (b historyBody) messages() []HistoryMessage {
	out := make([]HistoryMessage, 0, len(b.Messages))
	for _, it := range b.Messages {
		out = append(out, HistoryMessage{
			Time:     unixTime(it.Timestamp, it.MsecTimestamp),
			Sender:   it.Sender,
			Receiver: it.Receiver,
			Message:  it.Message,
		})
	}
	return out
}

// History returns one page of the history of the chat chatID (amojo's chat
// id, as returned by CreateChat), newest first as amojo serves it. An empty
// chat, or one amojo does not know, gives an empty slice and no error. Only
// chats of the client's channel are accessible.
func (c *Client) History(ctx context.Context, scopeID, chatID string, opts HistoryOptions) ([]HistoryMessage, error) {
	if err := checkID("scopeID", scopeID); err != nil {
		return nil, err
	}
	if err := checkID("chatID", chatID); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = MaxHistoryLimit
	}
	var body historyBody
	_, err := c.r.do(ctx, request{
		method: "GET",
		path:   "/v2/origin/custom/" + url.PathEscape(scopeID) + "/chats/" + url.PathEscape(chatID) + "/history",
		query:  url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(opts.Offset)}},
		out:    &body,
	})
	if err != nil {
		return nil, err
	}
	return body.messages(), nil
}

// AllHistory walks the history of chat chatID page by page from opts.Offset,
// with pages of opts.Limit (0 means MaxHistoryLimit), until a page comes back
// short or empty. It yields an error once and stops; breaking out of the loop
// stops it too.
//
// The walk is bounded, whatever the server answers: a message whose id was
// already yielded (the history moved while it was walked) is skipped; a full
// page that brings no id not seen before (a server that ignores the offset,
// or sends no ids) ends the walk with an error; so does reaching
// opts.MaxPages full pages (DefaultMaxHistoryPages when 0), with
// ErrHistoryTooLong.
//
//	for m, err := range client.AllHistory(ctx, scopeID, chatID, amojo.HistoryOptions{}) {
//		if err != nil {
//			return err
//		}
//		…
//	}
func (c *Client) AllHistory(ctx context.Context, scopeID, chatID string, opts HistoryOptions) iter.Seq2[HistoryMessage, error] {
	return func(yield func(HistoryMessage, error) bool) {
		o := opts
		if o.Limit == 0 {
			o.Limit = MaxHistoryLimit
		}
		maxPages := o.MaxPages
		if maxPages == 0 {
			maxPages = DefaultMaxHistoryPages
		}
		seen := make(map[string]struct{})
		for pages := 1; ; pages++ {
			page, err := c.History(ctx, scopeID, chatID, o)
			if err != nil {
				yield(HistoryMessage{}, err)
				return
			}
			full := len(page) >= o.Limit
			fresh := make([]HistoryMessage, 0, len(page))
			newIDs := 0
			for _, m := range page {
				if id := m.Message.ID; id != "" {
					if _, dup := seen[id]; dup {
						continue
					}
					seen[id] = struct{}{}
					newIDs++
				}
				fresh = append(fresh, m)
			}
			if full && newIDs == 0 {
				yield(HistoryMessage{}, fmt.Errorf("amojo: history of chat %s: the full page at offset %d brings no message id not seen before (the server ignores the offset or sends no ids); stopped", chatID, o.Offset))
				return
			}
			for _, m := range fresh {
				if !yield(m, nil) {
					return
				}
			}
			if !full {
				return
			}
			if pages >= maxPages {
				yield(HistoryMessage{}, fmt.Errorf("amojo: history of chat %s: stopped after %d full pages, at offset %d: %w", chatID, pages, o.Offset+len(page), ErrHistoryTooLong))
				return
			}
			o.Offset += len(page)
		}
	}
}
