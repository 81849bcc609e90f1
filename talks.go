package amojo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Talk is one conversation episode inside a chat: what amoCRM counts as
// answered, missed or closed, and what the NPS bot rates. Talk ids come from
// the add_talk and update_talk account webhooks.
type Talk struct {
	ID        int64 // talk_id on the wire
	CreatedAt time.Time
	UpdatedAt time.Time
	Rate      int // the client's NPS rating; 0 when none
	ContactID int64
	// ChatID is the amojo chat id (the id CreateChat returns).
	ChatID string
	// EntityID and EntityType name the lead or customer the talk is about
	// ("lead" or "customer"; other values are kept as sent); 0 and "" when
	// none.
	EntityID   int64
	EntityType string
	InWork     bool // true until the talk is closed
	Read       bool
	// Origin is the channel type, such as "telegram"; compare it with
	// strings.EqualFold (Kommo writes "Telegram" in prose).
	Origin string
	// MissedAt is when the talk became missed (no answer in time); zero when
	// it did not.
	MissedAt  time.Time
	AccountID int64
	// LeadID and CustomerID come from the talk's _embedded lists (at most
	// one of each); 0 when none.
	LeadID     int64
	CustomerID int64
}

// talkBody is the wire shape of GET /api/v4/talks/{id}.
type talkBody struct {
	TalkID     int64   `json:"talk_id"`
	CreatedAt  int64   `json:"created_at"`
	UpdatedAt  int64   `json:"updated_at"`
	Rate       int     `json:"rate"`
	ContactID  int64   `json:"contact_id"`
	ChatID     string  `json:"chat_id"`
	EntityID   *int64  `json:"entity_id"`
	EntityType *string `json:"entity_type"`
	IsInWork   bool    `json:"is_in_work"`
	IsRead     bool    `json:"is_read"`
	Origin     string  `json:"origin"`
	MissedAt   *int64  `json:"missed_at"`
	AccountID  int64   `json:"account_id"`
	Embedded   struct {
		Contacts  []idBody `json:"contacts"`
		Leads     []idBody `json:"leads"`
		Customers []idBody `json:"customers"`
	} `json:"_embedded"`
}

func (b *talkBody) talk() *Talk {
	t := &Talk{
		ID:        b.TalkID,
		CreatedAt: unixTime(b.CreatedAt, 0),
		UpdatedAt: unixTime(b.UpdatedAt, 0),
		Rate:      b.Rate,
		ContactID: b.ContactID,
		ChatID:    b.ChatID,
		InWork:    b.IsInWork,
		Read:      b.IsRead,
		Origin:    b.Origin,
		AccountID: b.AccountID,
	}
	if b.EntityID != nil {
		t.EntityID = *b.EntityID
	}
	if b.EntityType != nil {
		t.EntityType = *b.EntityType
	}
	if b.MissedAt != nil {
		t.MissedAt = unixTime(*b.MissedAt, 0)
	}
	if t.ContactID == 0 && len(b.Embedded.Contacts) > 0 {
		t.ContactID = b.Embedded.Contacts[0].ID
	}
	if len(b.Embedded.Leads) > 0 {
		t.LeadID = b.Embedded.Leads[0].ID
	}
	if len(b.Embedded.Customers) > 0 {
		t.CustomerID = b.Embedded.Customers[0].ID
	}
	return t
}

func talkPath(id int64) string { return "/api/v4/talks/" + strconv.FormatInt(id, 10) }

// GetTalk returns the talk id. What amoCRM shows depends on the token user's
// rights to the talk's contact (403 otherwise); an unknown talk matches
// ErrNotFound; 402 means the account is unpaid.
func (c *CRMClient) GetTalk(ctx context.Context, id int64) (*Talk, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	var b talkBody
	if err := c.getObject(ctx, talkPath(id), nil, &b, func() bool { return b.TalkID != 0 }); err != nil {
		return nil, err
	}
	return b.talk(), nil
}

// CloseTalkOptions says how to close a talk. With Force the talk closes at
// once; without it amoCRM starts the NPS bot instead, when the account has
// it enabled and its plan includes it, and the bot closes the talk.
type CloseTalkOptions struct {
	Force bool
}

// TalkClose is amoCRM's 202 Accepted to a close: the close (or the NPS bot,
// when not forced) runs asynchronously, so GetTalk may still report the talk
// in work for a while. Poll GetTalk if the final state matters.
type TalkClose struct {
	TalkID int64
	// Forced repeats CloseTalkOptions.Force: when false, the NPS bot may run
	// before the talk closes.
	Forced bool
}

// ErrTalkClosed is matched (errors.Is) by the *TalkClosedError of a close
// that amoCRM refused with 422: the talk is already closed or being closed.
var ErrTalkClosed = errors.New("amojo: talk already closed")

// TalkClosedError is CloseTalk's error for amoCRM's 422: the talk is already
// closed or is being closed. For an "ensure closed" operation it is success:
//
//	if _, err := crm.CloseTalk(ctx, id, amojo.CloseTalkOptions{}); err != nil && !errors.Is(err, amojo.ErrTalkClosed) {
//		return err
//	}
type TalkClosedError struct {
	TalkID int64
	Err    *APIError // the 422 answer
}

// Error says which talk was closed already.
func (e *TalkClosedError) Error() string {
	return fmt.Sprintf("amojo: talk %d is already closed or being closed (%s)", e.TalkID, e.Err.Error())
}

// Is matches ErrTalkClosed.
func (e *TalkClosedError) Is(target error) bool { return target == ErrTalkClosed }

// Unwrap returns the 422 *APIError.
func (e *TalkClosedError) Unwrap() error { return e.Err }

// closeTalkBody is the body of POST /api/v4/talks/{id}/close.
type closeTalkBody struct {
	ForceClose bool `json:"force_close"`
}

// CloseTalk closes the talk id (POST /api/v4/talks/{id}/close with
// force_close). amoCRM accepts with 202 and closes asynchronously (see
// TalkClose). A talk already closed, or being closed, gives a
// *TalkClosedError matching ErrTalkClosed; other refusals are *APIError
// (401, 402 unpaid, 403 no rights to the contact, 404 unknown talk). A close
// repeated after a lost answer meets the 422, so it is retried like any call.
func (c *CRMClient) CloseTalk(ctx context.Context, id int64, opts CloseTalkOptions) (*TalkClose, error) {
	if id <= 0 {
		return nil, invalid("id", "must be positive")
	}
	_, err := c.r.do(ctx, request{method: http.MethodPost, path: talkPath(id) + "/close", in: closeTalkBody{ForceClose: opts.Force}})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusUnprocessableEntity {
			return nil, &TalkClosedError{TalkID: id, Err: ae}
		}
		return nil, err
	}
	return &TalkClose{TalkID: id, Forced: opts.Force}, nil
}
