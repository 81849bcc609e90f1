package amojotest

import (
	"net/http"
	"strconv"
)

// MaxHistoryLimit is the largest page of chat history amojo serves.
const MaxHistoryLimit = 50

func (s *Server) handleHistory(c amojoCall) (int, any, *apiError) {
	q := c.r.URL.Query()
	limit, offset := MaxHistoryLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return 0, nil, badField("limit", "must be an integer from 1 to %d", MaxHistoryLimit)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, nil, badField("offset", "must be a non-negative integer")
		}
		offset = n
	}
	ch, ok := s.chats[c.r.PathValue("chat")]
	if !ok || ch.scope != c.scope {
		return http.StatusNoContent, nil, nil
	}
	ms := ch.ordered()
	if offset >= len(ms) {
		return http.StatusNoContent, nil, nil
	}
	// Newest first.
	items := make([]map[string]any, 0, limit)
	for i := len(ms) - 1 - offset; i >= 0 && len(items) < limit; i-- {
		items = append(items, historyItem(ms[i]))
	}
	return http.StatusOK, map[string]any{"messages": items}, nil
}

func historyItem(m *message) map[string]any {
	body := map[string]any{
		"id": m.ID, "type": m.Type, "text": m.Text, "media": m.Media, "thumbnail": m.Thumbnail,
		"file_name": m.FileName, "file_size": m.FileSize,
	}
	if m.ClientID != "" {
		body["client_id"] = m.ClientID
	}
	if m.MediaDuration != 0 {
		body["media_duration"] = m.MediaDuration
	}
	if m.StickerID != "" {
		body["sticker_id"] = m.StickerID
	}
	if m.Location != nil {
		body["location"] = map[string]float64{"lon": m.Location.Lon, "lat": m.Location.Lat}
	}
	if m.Contact != nil {
		body["contact"] = map[string]string{"name": m.Contact.Name, "phone": m.Contact.Phone}
	}
	if m.CallbackData != "" {
		body["callback_data"] = m.CallbackData
	}
	item := map[string]any{
		"timestamp":      m.msec / 1000,
		"msec_timestamp": m.msec,
		"sender":         userJSON(m.sender, false),
		"message":        body,
	}
	if m.receiver != nil {
		item["receiver"] = userJSON(m.receiver, false)
	}
	return item
}
