package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/internal/testscale"
)

func TestReadConversationSeed(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/conversations/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ReadConversation(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "skc-8e3e7640-49af-4448-a2c6-d5a421f7f217" {
		t.Errorf("ID = %q", c.ID)
	}
	wantClient := amojo.Participant{
		ID: "sk-1376265f-86df-4c49-a0c3-a4816df41af9", Name: "Example Client",
		Avatar:      "https://example.com/users/avatar.png",
		Profile:     &amojo.Profile{Phone: "79151112233", Email: "example.client@example.com"},
		ProfileLink: "https://example.com/profile/example.client",
	}
	if got, _ := json.Marshal(c.Client); !bytes.Equal(got, mustJSON(t, wantClient)) {
		t.Errorf("Client = %s", got)
	}
	if c.Contact == nil || c.Contact.FirstName != "Jack200803" || c.Contact.LastName != "Tester" || c.Contact.ID != 0 {
		t.Errorf("Contact = %+v", c.Contact)
	}
	if len(c.Messages) != 2 {
		t.Fatalf("%d messages", len(c.Messages))
	}
	m0, m1 := c.Messages[0], c.Messages[1]
	if m0.MsgID != "5f283618af2c8" || m0.Time.Unix() != 1596470808 || m0.From != FromClient || m0.Sender != nil {
		t.Errorf("message 0 = %+v", m0)
	}
	if m0.Content != (amojo.Text{Text: "Можно ли оплатить заказ при получении ?"}) {
		t.Errorf("message 0 content = %#v", m0.Content)
	}
	if m1.MsgID != "skm-5f2836a8ca468" || m1.Time.Unix() != 1596470952 || m1.From != FromManager {
		t.Errorf("message 1 = %+v", m1)
	}
	if m1.Sender == nil || *m1.Sender != (amojo.Participant{ID: "sk-e1982bb8-bdf1-4fa5-841d-7d5cebd77f7b", RefID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5", Name: "Менеджер Василий"}) {
		t.Errorf("message 1 sender = %+v", m1.Sender)
	}
	if m1.Content != (amojo.Text{Text: "Да, конечно. Вы можете оплатить наличными и картой курьеру при получении."}) {
		t.Errorf("message 1 content = %#v", m1.Content)
	}
	// The manager's message goes out as in the walk-through: sender with
	// ref_id, the client as receiver, silent.
	msg := m1.message(c, "")
	msg.Silent = true
	if err := msg.Validate(); err != nil {
		t.Fatal(err)
	}
	got := sentPayload(t, msg)
	want := `{"timestamp":1596470952,"msec_timestamp":1596470952000,"msgid":"skm-5f2836a8ca468",` +
		`"conversation_id":"skc-8e3e7640-49af-4448-a2c6-d5a421f7f217",` +
		`"sender":{"id":"sk-e1982bb8-bdf1-4fa5-841d-7d5cebd77f7b","ref_id":"d8d9f9c4-9611-4794-a136-a253a13e1bb5","name":"Менеджер Василий"},` +
		`"receiver":{"id":"sk-1376265f-86df-4c49-a0c3-a4816df41af9","name":"Example Client","avatar":"https://example.com/users/avatar.png","profile":{"phone":"79151112233","email":"example.client@example.com"},"profile_link":"https://example.com/profile/example.client"},` +
		`"message":{"type":"text","text":"Да, конечно. Вы можете оплатить наличными и картой курьеру при получении."},"silent":true}`
	if string(got) != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
}

// sentPayload sends msg to a fake amoCRM and returns the new_message
// payload as it arrived.
func sentPayload(t *testing.T, msg amojo.Message) []byte {
	t.Helper()
	srv := amojotest.NewServer()
	t.Cleanup(srv.Close)
	scopeID, err := srv.Connect(srv.Channel().ID, srv.Account().AmojoID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().SendMessage(t.Context(), scopeID, msg); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsTo(amojotest.RouteMessage)
	if len(reqs) != 1 {
		t.Fatalf("%d message requests", len(reqs))
	}
	var body struct {
		EventType string          `json:"event_type"`
		Payload   json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body.EventType != "new_message" {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body.Payload); err != nil {
		t.Fatal(err)
	}
	return compact.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want amojo.Content
	}{
		{`{"type":"text","text":"hi"}`, amojo.Text{Text: "hi"}},
		{`{"type":"picture","media":"https://e.com/a.png","file_name":"a.png","file_size":10,"text":"cap"}`, amojo.Picture{URL: "https://e.com/a.png", FileName: "a.png", FileSize: 10, Caption: "cap"}},
		{`{"type":"file","media":"https://e.com/a.pdf","file_name":"a.pdf","file_size":10}`, amojo.File{URL: "https://e.com/a.pdf", FileName: "a.pdf", FileSize: 10}},
		{`{"type":"video","media":"https://e.com/v.mp4","file_name":"v.mp4","file_size":10,"media_duration":12}`, amojo.Video{URL: "https://e.com/v.mp4", FileName: "v.mp4", FileSize: 10, Duration: 12 * time.Second}},
		{`{"type":"voice","media":"https://e.com/v.ogg","media_duration":3}`, amojo.Voice{URL: "https://e.com/v.ogg", Duration: 3 * time.Second}},
		{`{"type":"audio","media":"https://e.com/a.mp3"}`, amojo.Audio{URL: "https://e.com/a.mp3"}},
		{`{"type":"sticker","media":"https://e.com/s.webp","sticker_id":"42"}`, amojo.Sticker{URL: "https://e.com/s.webp", StickerID: "42"}},
		{`{"type":"location","location":{"lon":37.6,"lat":55.7},"text":"here"}`, amojo.Location{Point: amojo.GeoPoint{Lon: 37.6, Lat: 55.7}, Text: "here"}},
		{`{"type":"contact","contact":{"name":"Ann","phone":"+7900"}}`, amojo.SharedContact{Card: amojo.ContactInfo{Name: "Ann", Phone: "+7900"}}},
		// History's extra fields are ignored.
		{`{"id":"x","client_id":"m","type":"text","text":"hi","media":"","thumbnail":"","file_name":"","file_size":0}`, amojo.Text{Text: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := DecodeContent([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			// Round trip through the wire shape.
			raw, err := amojo.MarshalContent(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DecodeContent(raw)
			if err != nil || again != got {
				t.Errorf("round trip: %#v, %v", again, err)
			}
		})
	}
	bad := []struct{ in, field string }{
		{`{"type":"text"}`, "Text"},
		{`{"type":"text","text":"  "}`, "Text"},
		{`{"text":"x"}`, "Type"},
		{`{"type":"gif","media":"https://e.com/a.gif"}`, "Type"},
		{`{"type":"picture","media":"https://e.com/a.png","file_size":1}`, "FileName"},
		{`{"type":"picture","file_name":"a","file_size":1}`, "URL"},
		{`{"type":"file","media":"ftp://e.com/a","file_name":"a","file_size":1}`, "URL"},
		{`{"type":"location"}`, "Location"},
		{`{"type":"location","location":{"lon":500,"lat":1}}`, "Point.Lon"},
		{`{"type":"contact","contact":{"name":"Ann"}}`, "Card.Phone"},
		{`{"type":"contact"}`, "Card"},
		{`[1]`, ""},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.in, func(t *testing.T) {
			_, err := DecodeContent([]byte(tt.in))
			var ve *amojo.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("err = %v, want a *ValidationError for %q", err, tt.field)
			}
		})
	}
}

const validLine = `{"conversation_id":"c-1","client":{"id":"u-1","name":"Ann"},"messages":[` +
	`{"msgid":"m-1","time":"2024-01-02T03:04:05Z","from":"client","message":{"type":"text","text":"hi"}},` +
	`{"msgid":"m-2","timestamp":1704164646,"from":"manager","sender":{"id":"mgr","ref_id":"r-1","name":"Bob"},"message":{"type":"text","text":"hello"}},` +
	`{"msgid":"m-3","msec_timestamp":1704164647123,"from":"bot","message":{"type":"text","text":"bye"}}]}`

func TestReadConversationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     string // the whole error line
		field    string // the *ValidationError field, if any
	}{
		{"malformed", `{"conversation_id":"c-1","client":`, `amojo: conversation: invalid JSON: unexpected end of input`, ""},
		{"empty", ``, "amojo: conversation: empty document", ""},
		{"two values", validLine + validLine, `amojo: conversation "c-1": invalid JSON: more than one value (use a JSON Lines file for many conversations)`, ""},
		{"no id", `{"client":{"id":"u","name":"A"},"messages":[]}`, `amojo: conversation: invalid conversation_id: required`, "conversation_id"},
		{"no client name", strings.Replace(validLine, `"name":"Ann"`, `"name":""`, 1), `amojo: conversation "c-1": invalid client.name: required`, "client.name"},
		{"no messages", `{"conversation_id":"c-1","client":{"id":"u","name":"A"}}`, `amojo: conversation "c-1": invalid messages: empty`, "messages"},
		{"empty text", strings.Replace(validLine, `"text":"hello"`, `"text":""`, 1), `amojo: conversation "c-1", message "m-2": invalid messages[1].message.text: required`, "messages[1].message.text"},
		{"unknown type", strings.Replace(validLine, `"type":"text","text":"bye"`, `"type":"gif"`, 1), `amojo: conversation "c-1", message "m-3": invalid messages[2].message.type: unknown message type "gif"`, "messages[2].message.type"},
		{"no msgid", strings.Replace(validLine, `"msgid":"m-2",`, ``, 1), `amojo: conversation "c-1": invalid messages[1].msgid: required`, "messages[1].msgid"},
		{"duplicate msgid", strings.Replace(validLine, `"msgid":"m-2"`, `"msgid":"m-1"`, 1), `amojo: conversation "c-1", message "m-1": invalid messages[1].msgid: duplicate of messages[0]`, "messages[1].msgid"},
		{"no time", strings.Replace(validLine, `"timestamp":1704164646,`, ``, 1), `amojo: conversation "c-1", message "m-2": invalid messages[1].time: required`, "messages[1].time"},
		{"bad time", strings.Replace(validLine, `"2024-01-02T03:04:05Z"`, `"yesterday"`, 1), `amojo: conversation "c-1", message "m-1": invalid messages[0].time: must be RFC 3339, e.g. 2020-08-03T16:06:48Z (or give "timestamp" in unix seconds or "msec_timestamp" in milliseconds instead), not "yesterday"`, "messages[0].time"},
		{"no direction", strings.Replace(validLine, `"from":"client",`, ``, 1), `amojo: conversation "c-1", message "m-1": invalid messages[0].from: required: "client", "manager" or "bot"`, "messages[0].from"},
		{"bad direction", strings.Replace(validLine, `"from":"client"`, `"from":"customer"`, 1), `amojo: conversation "c-1", message "m-1": invalid messages[0].from: must be "client", "manager" or "bot", not "customer"`, "messages[0].from"},
		{"manager without ref", strings.Replace(validLine, `"ref_id":"r-1",`, ``, 1), `amojo: conversation "c-1", message "m-2": invalid messages[1].sender.ref_id: required for a manager message (the CRM user's amojo_id)`, "messages[1].sender.ref_id"},
		{"no content", strings.Replace(validLine, `,"message":{"type":"text","text":"hi"}`, ``, 1), `amojo: conversation "c-1", message "m-1": invalid messages[0].message: required (the "message" object)`, "messages[0].message"},
		{"wrong json type", strings.Replace(validLine, `"msgid":"m-1"`, `"msgid":1`, 1), `amojo: conversation "c-1": invalid messages[0].msgid: must be a string, not a number`, "messages[0].msgid"},
		{"bad contact", strings.Replace(validLine, `"messages"`, `"contact":{"phones":[""]},"messages"`, 1), `amojo: conversation "c-1": invalid contact.phones[0]: empty`, "contact.phones[0]"},
		{"bad source", strings.Replace(validLine, `"messages"`, `"source":{"external_id":"ы"},"messages"`, 1), `amojo: conversation "c-1": invalid source.external_id: only printable ASCII characters and spaces are allowed`, "source.external_id"},
		// Keys the format does not have are errors, named with their path.
		{"unknown key", strings.Replace(validLine, `"messages"`, `"mesages"`, 1), `amojo: conversation "c-1" (line 1): invalid mesages: unknown key (the keys here are conversation_id, client, source, contact, messages)`, "mesages"},
		{"unknown message key", strings.Replace(validLine, `"from":"bot"`, `"from":"bot","silent":true`, 1), `amojo: conversation "c-1" (line 1): invalid messages[2].silent: unknown key (the keys here are msgid, time, timestamp, msec_timestamp, from, sender, message)`, "messages[2].silent"},
		{"unknown content key", strings.Replace(validLine, `"text":"hello"`, `"text":"hello","file_nam":"a.png"`, 1), `amojo: conversation "c-1" (line 1): invalid messages[1].message.file_nam: unknown key (the keys here are type, text, media, file_name, file_size, media_duration, sticker_id, location, contact, id, client_id, thumbnail)`, "messages[1].message.file_nam"},
		{"unknown client key", strings.Replace(validLine, `"name":"Ann"`, `"name":"Ann","profile":{"phone":"1","skype":"x"}`, 1), `amojo: conversation "c-1" (line 1): invalid client.profile.skype: unknown key (the keys here are phone, email)`, "client.profile.skype"},
		{"unknown key on its line", "{\n  \"conversation_id\": \"c-1\",\n  \"client\": {\"id\": \"u\", \"name\": \"A\"},\n  \"mesages\": []\n}", `amojo: conversation "c-1" (line 4): invalid mesages: unknown key`, "mesages"},
		{"time not a string", strings.Replace(validLine, `"2024-01-02T03:04:05Z"`, `1704164645`, 1), `amojo: conversation "c-1", message "m-1": invalid messages[0].time: must be RFC 3339, e.g. 2020-08-03T16:06:48Z (or give "timestamp" in unix seconds or "msec_timestamp" in milliseconds instead), not a number`, "messages[0].time"},
		{"content of the wrong type", strings.Replace(validLine, `"text":"hello"`, `"text":5`, 1), `amojo: conversation "c-1", message "m-2": invalid messages[1].message.text: must be a string, not a number`, "messages[1].message.text"},
		{"location field", strings.Replace(validLine, `"type":"text","text":"bye"`, `"type":"location","location":{"lon":500,"lat":1}`, 1), `amojo: conversation "c-1", message "m-3": invalid messages[2].message.location.lon: must be within [-180, 180]`, "messages[2].message.location.lon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadConversation(strings.NewReader(tt.in))
			var ce *ConversationError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConversationError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q\nwant %q", err, tt.want)
			}
			if tt.field != "" {
				var ve *amojo.ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.field {
					t.Errorf("validation field = %v, want %q", err, tt.field)
				}
			}
		})
	}
}

func TestReadConversationTimes(t *testing.T) {
	t.Parallel()
	c, err := ReadConversation(strings.NewReader(validLine))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Unix(1704164646, 0),
		time.UnixMilli(1704164647123),
	}
	for i, w := range want {
		if !c.Messages[i].Time.Equal(w) {
			t.Errorf("message %d time = %v, want %v", i, c.Messages[i].Time, w)
		}
	}
	// MarshalJSON writes what UnmarshalJSON reads.
	data := mustJSON(t, c)
	again, err := ReadConversation(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !bytes.Equal(mustJSON(t, again), data) {
		t.Errorf("round trip changed the conversation:\n%s\n%s", data, mustJSON(t, again))
	}
}

func TestReadConversationsLines(t *testing.T) {
	t.Parallel()
	in := validLine + "\n\n" + `{"conversation_id":"c-2","client":{"id":"u"}}` + "\r\n" +
		strings.Replace(validLine, `"c-1"`, `"c-3"`, 1) + "\n" + `{not json` + "\n" +
		strings.Replace(validLine, `"c-1"`, `"c-5"`, 1) // no final newline
	var ids []string
	var errs []string
	for c, err := range ReadConversations(strings.NewReader(in)) {
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ids = append(ids, c.ID)
	}
	if fmt.Sprint(ids) != "[c-1 c-3 c-5]" {
		t.Errorf("ids = %v", ids)
	}
	wantErrs := []string{
		`amojo: conversation "c-2" (line 3): invalid client.name: required`,
		`amojo: conversation (line 5): invalid JSON at byte 2: invalid character 'n' looking for beginning of object key string`,
	}
	if fmt.Sprint(errs) != fmt.Sprint(wantErrs) {
		t.Errorf("errors\n got %q\nwant %q", errs, wantErrs)
	}
	// Breaking out stops reading.
	n := 0
	for range ReadConversations(strings.NewReader(in)) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break: %d", n)
	}
}

func TestReadConversationsReadError(t *testing.T) {
	t.Parallel()
	r := io.MultiReader(strings.NewReader(validLine+"\n"), errReader{})
	var got []string
	for c, err := range ReadConversations(r) {
		if err != nil {
			got = append(got, err.Error())
		} else {
			got = append(got, c.ID)
		}
	}
	if fmt.Sprint(got) != `[c-1 amojo: conversation (line 2): read conversations: disk on fire]` {
		t.Errorf("got %q", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadConversationsLongLine(t *testing.T) {
	t.Parallel()
	long := strings.Replace(validLine, `"text":"hi"`, `"text":"`+strings.Repeat("x", 200<<10)+`"`, 1)
	n := 0
	for c, err := range ReadConversations(strings.NewReader(long + "\n" + validLine)) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(c.Messages)
	}
	if n != 6 {
		t.Errorf("%d messages", n)
	}
}

// TestReadConversationDeeplyNested: a document nested deeper than JSON
// decoders go is refused with an error; the key scan crashed the program
// with a stack overflow on it.
func TestReadConversationDeeplyNested(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`{"conversation_id":` + strings.Repeat("[", 2_000_000),
		`{"conversation_id":` + strings.Repeat(`[{"a":`, 1_000_000),
	} {
		_, err := ReadConversation(strings.NewReader(data))
		var ce *ConversationError
		if !errors.As(err, &ce) || ce.Step != "read" || !strings.Contains(err.Error(), "invalid JSON") {
			t.Errorf("err = %v", err)
		}
		if n, ok := messageCount([]byte(data)); ok || n != 0 {
			t.Errorf("messageCount = %d, %v", n, ok)
		}
	}
}

// lineReader generates n conversations, one per line, without holding them.
type lineReader struct {
	n, i int
	buf  []byte
}

func (r *lineReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		r.i++
		r.buf = []byte(strings.Replace(validLine, `"c-1"`, fmt.Sprintf(`"c-%d"`, r.i), 1) + "\n")
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// TestReadConversationsStreams checks that memory does not grow with the
// input: the live heap after reading 50 000 conversations is no bigger than
// after 1 000.
func TestReadConversationsStreams(t *testing.T) {
	heapAfter := func(n int) uint64 {
		var peak uint64
		count := 0
		for c, err := range ReadConversations(&lineReader{n: n}) {
			if err != nil {
				t.Fatal(err)
			}
			_ = c
			count++
			if count%5000 == 0 || count == n {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		if count != n {
			t.Fatalf("read %d of %d", count, n)
		}
		return peak
	}
	many := testscale.Size(t, 50000, 10000)
	small := heapAfter(1000)
	big := heapAfter(many)
	if big > small+2<<20 {
		t.Errorf("heap grew with the input: %d bytes after 1 000 lines, %d after %d", small, big, many)
	}
}

func BenchmarkReadConversations(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range ReadConversations(&lineReader{n: n}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/conversation")
		})
	}
}

// shortLine is a small valid conversation: small seeds keep the fuzzer's
// minimisation of new inputs fast.
const shortLine = `{"conversation_id":"c","client":{"id":"u","name":"A"},"messages":[{"msgid":"m","time":"2024-01-02T03:04:05Z","from":"client","message":{"type":"text","text":"hi"}}]}`

func FuzzReadConversation(f *testing.F) {
	f.Add([]byte(shortLine))
	f.Add([]byte(`{"conversation_id":"x","messages":[{"message":{"type":"location","location":{"lon":1e999}}}]}`))
	f.Add([]byte(`{"conversation_id":"c","client":{"id":"u","name":"n"},"messages":[{"msgid":"m","time":"2024-01-01T00:00:00Z","from":"bot","message":{"type":"voice","media":"http://a/b","media_duration":-1e300}}]}`))
	f.Add([]byte("{\n \"conversation_id\":\"c\",\"cli\\u0065nt\":{\"id\":\"u\",\"name\":\"n\",\"x\":[1,{\"y\":null}]},\n\"mesages\":[]}"))
	f.Add([]byte(`{"conversation_id":"c","client":{"id":"u","name":"n"},"messages":[{"msgid":"m","time":"yesterday","from":"client","message":{"type":"text","text":"hi","extra":true}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadConversation(bytes.NewReader(data))
		if err != nil {
			var ce *ConversationError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *ConversationError: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid conversation: %v", err)
		}
		// What was accepted survives a round trip.
		again, err := ReadConversation(bytes.NewReader(mustJSON(t, c)))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if len(again.Messages) != len(c.Messages) {
			t.Fatal("round trip lost messages")
		}
		for i := range c.Messages {
			if err := c.Messages[i].message(c, "bot").Validate(); err != nil {
				t.Fatalf("message %d does not validate for sending: %v", i, err)
			}
		}
	})
}

func FuzzReadConversations(f *testing.F) {
	f.Add([]byte(shortLine + "\n{}\n\n" + shortLine))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		n := 0
		for _, err := range ReadConversations(bytes.NewReader(data)) {
			n++
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
		}
		if n > lines {
			t.Fatalf("%d results from %d lines", n, lines)
		}
	})
}

// FuzzCheckKeys compares the key scan of conversation documents with a
// walk of what encoding/json decodes: on valid JSON both find an unknown
// key, or neither does; on any input the scan does not panic.
func FuzzCheckKeys(f *testing.F) {
	f.Add([]byte(validLine))
	f.Add([]byte(`{"conversation_id":"c","Messages":[{"MSGID":"m","message":{"type":"text","location":{"lat":1,"alt":2}}}]}`))
	f.Add([]byte(`{"client":{"profile":{"ph\u006fne":"1"}},"messages":[[{"x":1}],"s",5,null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ke := checkKeys(data)
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		var unknown func(v any, n *jsonNode) bool
		unknown = func(v any, n *jsonNode) bool {
			switch v := v.(type) {
			case map[string]any:
				for key, val := range v {
					var below *jsonNode
					if n != nil {
						k, ok := n.byJSON([]byte(key))
						if !ok {
							return true
						}
						below = k.node
					}
					if unknown(val, below) {
						return true
					}
				}
			case []any:
				for _, val := range v {
					if unknown(val, n) {
						return true
					}
				}
			}
			return false
		}
		if want := unknown(v, conversationNode); want != (ke != nil) {
			t.Fatalf("scan found %+v, the decoded walk found an unknown key: %v", ke, want)
		}
	})
}
