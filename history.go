package amojo

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"
)

// MaxHistoryLimit is the largest page History can ask for.
const MaxHistoryLimit = 50

// HistoryOptions selects a page of chat history: Offset messages are skipped
// and at most Limit returned. Limit 0 means MaxHistoryLimit.
type HistoryOptions struct {
	Offset int
	Limit  int
}

func (o HistoryOptions) validate() error {
	if o.Offset < 0 {
		return invalid("Offset", "negative")
	}
	if o.Limit < 0 || o.Limit > MaxHistoryLimit {
		return invalid("Limit", "must be within [0, 50]")
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
		var prevFirst string
		for {
			page, err := c.History(ctx, scopeID, chatID, o)
			if err != nil {
				yield(HistoryMessage{}, err)
				return
			}
			// A server that ignores offset would serve the same page for
			// ever; stop with an error instead.
			if len(page) > 0 && page[0].Message.ID != "" && page[0].Message.ID == prevFirst {
				yield(HistoryMessage{}, fmt.Errorf("amojo: history of chat %s: offset %d returned the same page again", chatID, o.Offset))
				return
			}
			for _, m := range page {
				if !yield(m, nil) {
					return
				}
			}
			if len(page) < o.Limit {
				return
			}
			prevFirst = page[0].Message.ID
			o.Offset += len(page)
		}
	}
}
