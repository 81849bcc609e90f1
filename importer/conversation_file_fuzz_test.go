package importer

import (
	"encoding/json"
	"testing"
)

func TestMessageCount(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		data string
		n    int
		ok   bool
	}{
		{validLine, 3, true},
		{`{"messages":[]}`, 0, true},
		{` { "x" : {"messages":[1]}, "Messages" : [ {"a":[1,2]}, "s", null ] } `, 3, true},
		{`{"messages":[1,2],"messages":[3]}`, 1, true},
		{`{"messages":[1,2],"MESSAGES":null}`, 0, false},
		{`{"m\u0065ssages":[1,2]}`, 2, true},
		{`{}`, 0, false},
		{`[]`, 0, false},
		{`{"messages":[1,2]`, 0, false},
		{`{"messages":[1,,2]}`, 0, false},
		{`{"messages":"x"}`, 0, false},
		{``, 0, false},
	} {
		if n, ok := messageCount([]byte(tt.data)); n != tt.n || ok != tt.ok {
			t.Errorf("messageCount(%s) = %d, %v, want %d, %v", tt.data, n, ok, tt.n, tt.ok)
		}
	}
}

// FuzzMessageCount compares the message count ImportFile's first pass
// scans for with what encoding/json decodes: where the decoder reads the
// document, the scan finds the same "messages" array (or none), and it
// never panics.
func FuzzMessageCount(f *testing.F) {
	f.Add([]byte(validLine))
	f.Add([]byte(shortLine))
	f.Add([]byte(`{"messages":[1,2],"Messages":null,"x":{"messages":[[],{}]}}`))
	f.Add([]byte(`{"mess\u0061ges":[{"a":"\"]"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, ok := messageCount(data)
		var w struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(data, &w) != nil {
			return
		}
		if ok != (w.Messages != nil) || n != len(w.Messages) {
			t.Fatalf("scan: %d messages (array: %v), decoder: %d (array: %v)", n, ok, len(w.Messages), w.Messages != nil)
		}
	})
}
