package amojo

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// usersPageLimit is the page size asked of GET /api/v4/users (the API's maximum).
const usersPageLimit = 250

// Account is the amoCRM account a CRMClient's token belongs to, as
// GET /api/v4/account?with=amojo_id reports it. AmojoID is the account's id in
// the chats API: the account_id of Client.Connect and the second half of a
// scope id.
type Account struct {
	ID            int64
	Name          string
	Subdomain     string
	AmojoID       string
	CurrentUserID int64 // the user the token acts for
	Country       string
	CreatedAt     time.Time // zero when not reported
}

// accountBody is the wire shape of GET /api/v4/account.
type accountBody struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Subdomain     string `json:"subdomain"`
	AmojoID       string `json:"amojo_id"`
	CurrentUserID int64  `json:"current_user_id"`
	Country       string `json:"country"`
	CreatedAt     int64  `json:"created_at"`
}

func (b *accountBody) account() *Account {
	a := &Account{
		ID:            b.ID,
		Name:          b.Name,
		Subdomain:     b.Subdomain,
		AmojoID:       b.AmojoID,
		CurrentUserID: b.CurrentUserID,
		Country:       b.Country,
	}
	if b.CreatedAt > 0 {
		a.CreatedAt = time.Unix(b.CreatedAt, 0).UTC()
	}
	return a
}

// errNoAmojoID is wrapped in the *DecodeError of an account answer without amojo_id.
var errNoAmojoID = errors.New("answer has no amojo_id (is the chats feature available to this account?)")

// Account returns the account of the token, with its AmojoID. An answer
// without amojo_id is a *DecodeError, since nothing chat-related can be done
// without it.
func (c *CRMClient) Account(ctx context.Context) (*Account, error) {
	const path = "/api/v4/account"
	var b accountBody
	status, err := c.r.do(ctx, request{
		method: http.MethodGet,
		path:   path,
		query:  url.Values{"with": {"amojo_id"}},
		out:    &b,
	})
	if err != nil {
		return nil, err
	}
	if b.AmojoID == "" {
		return nil, &DecodeError{Method: http.MethodGet, Path: c.r.o.baseURL.EscapedPath() + path, StatusCode: status, Err: errNoAmojoID}
	}
	return b.account(), nil
}

// User is a user of the account as GET /api/v4/users?with=amojo_id reports it.
// AmojoID is the user's id in the chats API: the sender ref_id of a message
// written by this user (see the chats client's outgoing messages).
type User struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	AmojoID string `json:"amojo_id"`
}

// halUsers is one page of GET /api/v4/users.
type halUsers struct {
	Page  int      `json:"_page"`
	Links halLinks `json:"_links"`
	Embed struct {
		Users []User `json:"users"`
	} `json:"_embedded"`
}

// halLinks holds the pagination links of a HAL collection.
type halLinks struct {
	Next *struct {
		Href string `json:"href"`
	} `json:"next"`
}

// hasNext reports whether the page links to a next one.
func (l halLinks) hasNext() bool { return l.Next != nil && l.Next.Href != "" }

// Users returns every user of the account with their AmojoID, walking all
// pages of GET /api/v4/users (250 a page). Users the token may not see are not
// listed. On error it returns the users read so far with the error.
func (c *CRMClient) Users(ctx context.Context) ([]User, error) {
	var all []User
	for u, err := range c.AllUsers(ctx) {
		if err != nil {
			return all, err
		}
		all = append(all, u)
	}
	return all, nil
}

// AllUsers iterates over the users of the account with their AmojoID, asking
// for the next page of GET /api/v4/users only when the previous one is used
// up. It yields an error at most once, as the last element. The walk follows
// page=1, 2, … while a page has a "next" link; a page without one, an empty
// page or a 204 answer ends it. A server that answers the same page twice
// gives an error rather than an endless walk.
func (c *CRMClient) AllUsers(ctx context.Context) iter.Seq2[User, error] {
	return walkPages("GET "+c.fullPath("/api/v4/users"), 1, func(page int) ([]User, bool, error) { return c.usersPage(ctx, page) },
		func(u User) string { return strconv.FormatInt(u.ID, 10) })
}

// usersPage fetches one page of users and reports whether another may follow.
func (c *CRMClient) usersPage(ctx context.Context, page int) ([]User, bool, error) {
	var b halUsers
	status, err := c.r.do(ctx, request{
		method: http.MethodGet,
		path:   "/api/v4/users",
		query: url.Values{
			"with":  {"amojo_id"},
			"page":  {strconv.Itoa(page)},
			"limit": {strconv.Itoa(usersPageLimit)},
		},
		out: &b,
	})
	if err != nil {
		return nil, false, err
	}
	if status == http.StatusNoContent {
		return nil, false, nil
	}
	users := b.Embed.Users
	// The next link decides, not the page size: a server may cap the limit.
	return users, b.Links.hasNext() && len(users) > 0, nil
}
