package amojo

import (
	"bytes"
	"testing"
	"time"
)

// inboxFileSeeds are lines of the kinds an inbox file holds.
var inboxFileSeeds = []string{
	`{"op":"add","id":"a1","scope":"s","body":"eyJ0aW1lIjoxfQ==","sig":"x","recv":"2026-01-02T03:04:05Z"}`,
	`{"op":"add","id":"a2","scope":"s","body":"e30=","recv":"2026-01-02T03:04:05Z","state":"claimed","at":"2026-01-02T03:05:05Z","n":2,"token":"T","reason":"boom"}`,
	`{"op":"add","id":"a3","body":"e30=","recv":"2026-01-02T03:04:05Z","state":"dead","at":"2026-01-02T03:05:05Z"}`,
	`{"op":"claim","ids":["a1","a3"],"token":"T2","at":"2026-01-02T03:06:05Z"}`,
	`{"op":"extend","id":"a1","at":"2026-01-02T03:07:05Z"}`,
	`{"op":"done","id":"a1","at":"2026-01-02T03:07:05Z"}`,
	`{"op":"fail","id":"a2","at":"2026-01-02T03:08:05Z","reason":"r","dead":true}`,
	`{"op":"requeue","id":"a2","at":"2026-01-02T03:09:05Z"}`,
	`{"op":"add","id":"torn","bo`,
	`{"op":"nope"}`,
	`[1,2]`,
}

// FuzzInboxFile feeds arbitrary file contents to the reader of a FileInbox:
// it never panics, reads only whole lines, reports a torn tail only when the
// content does not end in a newline, and every record it accepts encodes
// back to a record it accepts the same way.
func FuzzInboxFile(f *testing.F) {
	var all bytes.Buffer
	for _, s := range inboxFileSeeds {
		f.Add([]byte(s + "\n"))
		all.WriteString(s + "\n")
	}
	f.Add(all.Bytes())
	f.Add([]byte(inboxFileSeeds[0] + "\n" + inboxFileSeeds[8]))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := newInboxIndex()
		n, lines, torn, err := readInboxRecords(bytes.NewReader(data), 1, func(r *inboxRecord) {
			again, err := marshalRecords([]inboxRecord{*r})
			if err != nil {
				t.Fatalf("accepted record %+v does not encode: %v", r, err)
			}
			back, err := parseInboxRecord(bytes.TrimSuffix(again, []byte("\n")))
			if err != nil {
				t.Fatalf("record %s, encoded from an accepted one, is refused: %v", again, err)
			}
			if twice, _ := marshalRecords([]inboxRecord{back}); !bytes.Equal(twice, again) {
				t.Fatalf("record changes on a round trip: %s then %s", again, twice)
			}
			r.apply(x)
		})
		if n < 0 || n > int64(len(data)) || lines > bytes.Count(data, []byte("\n")) {
			t.Fatalf("read %d bytes, %d lines of %d bytes", n, lines, len(data))
		}
		if n > 0 && data[n-1] != '\n' {
			t.Fatalf("stopped after %d bytes, inside a line", n)
		}
		if err == nil {
			if rest := data[n:]; torn != (len(rest) > 0) || bytes.IndexByte(rest, '\n') >= 0 {
				t.Fatalf("%d bytes left after the records (torn %v): %q", len(rest), torn, rest)
			}
		}
		// The state the records built answers the inbox's questions.
		ids := x.dueIDs(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 10)
		x.claim(ids, "t", time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC))
		_ = x.deadEvents("", 10)
		x.purge(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	})
}
