package amojo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vecHistoryChat = "8e4d4baa-9e6c-4a88-838a-5f62be227bdc"

func TestHistoryDerivedVector(t *testing.T) {
	t.Parallel()
	now := vecDate(t, "Thu, 16 Dec 2021 13:15:29 +0000")
	s := newWireServer(t, now, answerFile(t, "history_seed.json"))
	msgs, err := s.client.History(t.Context(), vecScopeID, vecHistoryChat, HistoryOptions{})
	require.NoError(t, err)
	r := s.only()
	path := "/v2/origin/custom/" + vecScopeID + "/chats/" + vecHistoryChat + "/history"
	checkWire(t, r, "GET", path, "limit=50&offset=0", now)
	assert.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", r.Header.Get("Content-MD5"))
	assert.Equal(t, "0e371454cbfcac8c35b3e130a1224a4957c5e8a7", r.Header.Get("X-Signature"), "the query must not be signed")

	want := []HistoryMessage{
		{
			Time:   time.Unix(1596470953, 0).UTC(),
			Sender: ChatUser{ID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5", Name: "Менеджер Василий"},
			Receiver: &ChatUser{
				ID: "86a0caef-41ec-49ac-814b-b27da2cea267", ClientID: "sk-1376265f-86df-4c49-a0c3-a4816df41af9",
				Avatar: "https:/example.com/users/avatar.png", Name: "Example Client",
				Phone: "79151112233", Email: "example.client@example.com",
			},
			Message: ReceivedMessage{
				ID: "3985523d-78b3-45b7-aeaf-142405bbf1dc", ClientID: "skm-5f2836a8ca468", Type: TypeText,
				Text: "Да, конечно. Вы можете оплатить наличными и картой курьеру при получении.",
			},
		},
		{
			Time: time.Unix(1596470809, 0).UTC(),
			Sender: ChatUser{
				ID: "86a0caef-41ec-49ac-814b-b27da2cea267", ClientID: "sk-1376265f-86df-4c49-a0c3-a4816df41af9",
				Avatar: "https:/example.com/users/avatar.png", Name: "Example Client",
				Phone: "79151112233", Email: "example.client@example.com",
			},
			Message: ReceivedMessage{
				ID: "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc", ClientID: "5f283618af2c8", Type: TypeText,
				Text: "Можно ли оплатить заказ при получении ?",
			},
		},
	}
	assert.Equal(t, want, msgs)
}

func TestHistoryDecodesKinds(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, answerFile(t, "history_media.json"))
	msgs, err := s.client.History(t.Context(), vecScopeID, vecChatRef, HistoryOptions{Offset: 10, Limit: 4})
	require.NoError(t, err)
	checkWire(t, s.only(), "GET", "/v2/origin/custom/"+vecScopeID+"/chats/"+vecChatRef+"/history", "limit=4&offset=10", vecMsgTime)
	require.Len(t, msgs, 4)

	picture := msgs[0]
	assert.True(t, picture.Time.Equal(vecMsgTime), "picture time %v", picture.Time)
	assert.Equal(t, "+7915", picture.Sender.Phone)
	assert.Equal(t, "g-1", picture.Message.MediaGroupID)
	assert.Equal(t, int64(2048), picture.Message.FileSize)
	assert.Equal(t, "https://example.com/t.jpg", picture.Message.Thumbnail)
	assert.Nil(t, picture.Receiver)

	location := msgs[1]
	require.NotNil(t, location.Receiver)
	assert.Equal(t, "c-1", location.Receiver.ClientID)
	assert.Equal(t, &GeoPoint{Lon: 37.6, Lat: 55.7}, location.Message.Location)
	assert.Equal(t, int64(1639660500001), location.Time.UnixMilli(), "milliseconds lost")

	voice := msgs[2]
	assert.Equal(t, 4, voice.Message.MediaDuration)
	assert.True(t, voice.Time.Equal(time.Unix(1639660400, 0)), "voice time %v", voice.Time)

	contact := msgs[3]
	require.NotNil(t, contact.Message.Contact)
	assert.Equal(t, "+7999", contact.Message.Contact.Phone)
}

func TestHistoryNoContentIsEmpty(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code int
		body string
	}{{http.StatusNoContent, ""}, {http.StatusOK, `{"messages":[]}`}, {http.StatusOK, `{}`}} {
		t.Run(fmt.Sprint(tt.code, tt.body), func(t *testing.T) {
			t.Parallel()
			s := newWireServer(t, vecMsgTime, answer(tt.code, tt.body))
			msgs, err := s.client.History(t.Context(), vecScopeID, vecChatRef, HistoryOptions{})
			require.NoError(t, err)
			assert.Equal(t, []HistoryMessage{}, msgs, "want an empty slice, not nil")
		})
	}
}

func TestHistoryValidation(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	tests := []struct {
		name        string
		scope, chat string
		opts        HistoryOptions
		field       string
	}{
		{"no scope", "", vecChatRef, HistoryOptions{}, "scopeID"},
		{"no chat", vecScopeID, "", HistoryOptions{}, "chatID"},
		{"chat with space", vecScopeID, "a b", HistoryOptions{}, "chatID"},
		{"limit over 50", vecScopeID, vecChatRef, HistoryOptions{Limit: 51}, "Limit"},
		{"negative limit", vecScopeID, vecChatRef, HistoryOptions{Limit: -1}, "Limit"},
		{"negative offset", vecScopeID, vecChatRef, HistoryOptions{Offset: -1}, "Offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.client.History(t.Context(), tt.scope, tt.chat, tt.opts)
			wantValidation(t, err, tt.field)
			var n int
			for _, err := range s.client.AllHistory(t.Context(), tt.scope, tt.chat, tt.opts) {
				n++
				wantValidation(t, err, tt.field)
			}
			assert.Equal(t, 1, n, "AllHistory must yield one error")
		})
	}
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

// pagedHistory serves total messages newest first, honouring limit and
// offset; a page past the end answers 204. Request number failAt (if >= 0)
// answers 500.
func pagedHistory(t *testing.T, total, failAt int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		if n == failAt {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		limit, err1 := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, err2 := strconv.Atoi(r.URL.Query().Get("offset"))
		assert.NoError(t, err1, "bad query %q", r.URL.RawQuery)
		assert.NoError(t, err2, "bad query %q", r.URL.RawQuery)
		var items []historyItem
		for i := offset; i < min(offset+limit, total); i++ {
			items = append(items, historyItem{
				Timestamp: int64(2_000_000_000 - i), Sender: ChatUser{ID: "u"},
				Message: ReceivedMessage{ID: fmt.Sprint("m-", i), Type: TypeText, Text: "x"},
			})
		}
		if len(items) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = json.NewEncoder(w).Encode(historyBody{Messages: items})
	}
}

func TestAllHistory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		total       int
		opts        HistoryOptions
		wantQueries []string
		wantFirst   int
	}{
		{"three pages, last short", 120, HistoryOptions{}, []string{"limit=50&offset=0", "limit=50&offset=50", "limit=50&offset=100"}, 0},
		{"full last page then 204", 100, HistoryOptions{}, []string{"limit=50&offset=0", "limit=50&offset=50", "limit=50&offset=100"}, 0},
		{"own limit and offset", 25, HistoryOptions{Offset: 5, Limit: 10}, []string{"limit=10&offset=5", "limit=10&offset=15", "limit=10&offset=25"}, 5},
		{"empty chat", 0, HistoryOptions{}, []string{"limit=50&offset=0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newWireServer(t, vecMsgTime, pagedHistory(t, tt.total, -1))
			opts := tt.opts
			var ids []string
			for m, err := range s.client.AllHistory(t.Context(), vecScopeID, vecChatRef, opts) {
				require.NoError(t, err)
				ids = append(ids, m.Message.ID)
			}
			require.Len(t, ids, tt.total-tt.wantFirst)
			for i, id := range ids {
				require.Equal(t, fmt.Sprint("m-", tt.wantFirst+i), id, "message %d", i)
			}
			var queries []string
			for _, r := range s.requests() {
				queries = append(queries, r.Query)
				checkWire(t, r, "GET", "/v2/origin/custom/"+vecScopeID+"/chats/"+vecChatRef+"/history", r.Query, vecMsgTime)
			}
			assert.Equal(t, tt.wantQueries, queries)
			assert.Equal(t, tt.opts, opts, "options changed")
		})
	}
}

func TestAllHistoryEarlyBreak(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, pagedHistory(t, 500, -1))
	n := 0
	for _, err := range s.client.AllHistory(t.Context(), vecScopeID, vecChatRef, HistoryOptions{}) {
		require.NoError(t, err)
		n++
		if n == 60 {
			break
		}
	}
	assert.Len(t, s.requests(), 2, "requests for 60 messages")
}

func TestAllHistoryErrorMidway(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, pagedHistory(t, 500, 1))
	var msgs, errs int
	var last error
	for _, err := range s.client.AllHistory(t.Context(), vecScopeID, vecChatRef, HistoryOptions{}) {
		if err != nil {
			errs++
			last = err
			continue
		}
		require.Zero(t, errs, "message yielded after the error")
		msgs++
	}
	assert.Equal(t, 50, msgs, "messages")
	assert.Equal(t, 1, errs, "errors")
	var ae *APIError
	require.ErrorAs(t, last, &ae, "want the 500 *APIError")
	assert.Equal(t, http.StatusInternalServerError, ae.StatusCode)
	assert.Len(t, s.requests(), 2)
}

// historyPage answers one full page of history whose message ids are
// ids(n, i) for request n and item i ("" leaves the id out).
func historyPage(limit int, ids func(n, i int) string) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		items := make([]historyItem, limit)
		for i := range items {
			items[i] = historyItem{Timestamp: 1_600_000_000, Sender: ChatUser{ID: "u"},
				Message: ReceivedMessage{ID: ids(n, i), Type: TypeText, Text: "x"}}
		}
		_ = json.NewEncoder(w).Encode(historyBody{Messages: items})
	}
}

// walkHistory collects AllHistory's message ids and its error; it fails the
// test instead of walking past guard messages.
func walkHistory(t *testing.T, c *Client, opts HistoryOptions, guard int) ([]string, error) {
	t.Helper()
	var ids []string
	for m, err := range c.AllHistory(t.Context(), vecScopeID, vecChatRef, opts) {
		if err != nil {
			return ids, err
		}
		ids = append(ids, m.Message.ID)
		require.LessOrEqual(t, len(ids), guard, "AllHistory walked past %d messages", guard)
	}
	return ids, nil
}

func TestAllHistoryStopsAtMaxPages(t *testing.T) {
	t.Parallel()
	// A server that always has one more full page of new messages.
	s := newWireServer(t, vecMsgTime, historyPage(10, func(n, i int) string { return fmt.Sprintf("m-%d-%d", n, i) }))
	ids, err := walkHistory(t, s.client, HistoryOptions{Limit: 10, MaxPages: 5}, 1000)
	require.ErrorIs(t, err, ErrHistoryTooLong)
	require.ErrorContains(t, err, "stopped after 5 full pages, at offset 50")
	assert.Len(t, ids, 50)
	assert.Len(t, s.requests(), 5)
}

// roundTripFunc is an http.RoundTripper that never touches the network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAllHistoryStopsAtTheDefaultPageCap walks an endless history through
// an in-memory transport (the count, not the wire, is under test).
func TestAllHistoryStopsAtTheDefaultPageCap(t *testing.T) {
	t.Parallel()
	var requests int
	page := historyPage(1, func(n, i int) string { return fmt.Sprintf("m-%d-%d", n, i) })
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		page(requests, rec, r)
		requests++
		return rec.Result(), nil
	})}
	c, _, _ := newTestClient(t, "http://127.0.0.1:1", WithHTTPClient(hc))
	ids, err := walkHistory(t, c, HistoryOptions{Limit: 1}, 2*DefaultMaxHistoryPages)
	require.ErrorIs(t, err, ErrHistoryTooLong)
	require.Equal(t, DefaultMaxHistoryPages, requests)
	require.Len(t, ids, DefaultMaxHistoryPages)
}

func TestAllHistoryStopsOnAPageWithoutNewIDs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		ids      func(n, i int) string
		messages int
		requests int
	}{
		{"no ids", func(int, int) string { return "" }, 0, 1},
		{"two pages in turn", func(n, i int) string { return fmt.Sprintf("m-%d-%d", n%2, i) }, 20, 3},
		{"the first page again", func(_, i int) string { return fmt.Sprint("m-", i) }, 10, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newWireServer(t, vecMsgTime, historyPage(10, tc.ids))
			ids, err := walkHistory(t, s.client, HistoryOptions{Limit: 10}, 1000)
			require.ErrorContains(t, err, "brings no message id not seen before")
			require.NotErrorIs(t, err, ErrHistoryTooLong)
			assert.Len(t, ids, tc.messages)
			assert.Len(t, s.requests(), tc.requests)
		})
	}
}

func TestAllHistoryYieldsAMessageOnce(t *testing.T) {
	t.Parallel()
	// A message arrives during the walk: the second page starts with the
	// last message of the first.
	s := newWireServer(t, vecMsgTime, func(n int, w http.ResponseWriter, r *http.Request) {
		from := []int{0, 9, 18}[min(n, 2)]
		count := []int{10, 10, 3}[min(n, 2)]
		historyPage(count, func(_, i int) string { return fmt.Sprint("m-", from+i) })(n, w, r)
	})
	ids, err := walkHistory(t, s.client, HistoryOptions{Limit: 10}, 1000)
	require.NoError(t, err)
	want := make([]string, 21)
	for i := range want {
		want[i] = fmt.Sprint("m-", i)
	}
	assert.Equal(t, want, ids)
}

func TestAllHistoryRefusesNegativeMaxPages(t *testing.T) {
	t.Parallel()
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	_, err := walkHistory(t, s.client, HistoryOptions{MaxPages: -1}, 0)
	wantValidation(t, err, "MaxPages")
}
