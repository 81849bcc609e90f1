package amojo

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeResponses feeds arbitrary bytes to the decoders of the answers
// to History, SendMessage/EditMessage, CreateChat and Connect, exactly as the
// client decodes them. They may fail but must never panic.
func FuzzDecodeResponses(f *testing.F) {
	addCorpusFiles(f, "responses")
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"messages":null}`, `{"messages":[null]}`,
		`{"messages":[{"timestamp":-1,"msec_timestamp":9223372036854775807,"receiver":null,"sender":{"profile":null}}]}`,
		`{"messages":[{"timestamp":1e3}]}`, `{"new_message":null}`, `{"new_message":{"receiver_id":null}}`,
		`{"id":1}`, `{"user":{"profile":{"phone":5}}}`, `{"is_time_window_disabled":"yes"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h historyBody
		if json.Unmarshal(data, &h) == nil {
			msgs := h.messages()
			if len(msgs) != len(h.Messages) {
				t.Errorf("%d items decoded to %d messages", len(h.Messages), len(msgs))
			}
			for _, m := range msgs {
				_ = m.Time.String()
			}
		}
		var sm sentMessageBody
		_ = json.Unmarshal(data, &sm)
		var chat Chat
		_ = json.Unmarshal(data, &chat)
		var conn Connection
		if json.Unmarshal(data, &conn) == nil {
			conn.fill(vecChannelID, vecAccountID)
		}
	})
}
