package amojo

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateContent(t *testing.T) {
	t.Parallel()
	valid := []Content{
		Text{Text: "hi"},
		Picture{URL: "https://e.example/a.png", FileName: "a.png", FileSize: 1},
		File{URL: "https://e.example/a.pdf", FileName: "a.pdf", FileSize: 1},
		Video{URL: "https://e.example/v.mp4", FileName: "v.mp4", FileSize: 1, Duration: time.Second},
		Voice{URL: "https://e.example/v.ogg"},
		Audio{URL: "https://e.example/a.mp3"},
		Sticker{URL: "https://e.example/s.webp"},
		Location{Point: GeoPoint{Lon: 37.6, Lat: 55.7}},
		SharedContact{Card: ContactInfo{Name: "Ann", Phone: "+7900"}},
		&Text{Text: "a pointer is content too"},
	}
	for _, c := range valid {
		if err := ValidateContent(c); err != nil {
			t.Errorf("ValidateContent(%#v) = %v", c, err)
		}
	}
	for _, tt := range []struct {
		name  string
		c     Content
		field string
	}{
		{"nil", nil, "Content"},
		{"nil pointer", (*Text)(nil), "Content"},
		{"blank text", Text{Text: " "}, "Text"},
		{"picture without name", Picture{URL: "https://e.example/a.png", FileSize: 1}, "FileName"},
		{"file without size", File{URL: "https://e.example/a.pdf", FileName: "a.pdf"}, "FileSize"},
		{"relative media URL", Voice{URL: "/v.ogg"}, "URL"},
		{"sticker without URL", Sticker{StickerID: "1"}, "URL"},
		{"latitude out of range", Location{Point: GeoPoint{Lat: 91}}, "Point.Lat"},
		{"card without phone", SharedContact{Card: ContactInfo{Name: "Ann"}}, "Card.Phone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, ValidateContent(tt.c), tt.field)
		})
	}
}

// TestMarshalContent pins the "message" object of every kind, the one
// SendMessage sends.
func TestMarshalContent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    Content
		want string
	}{
		{Text{Text: "hi"}, `{"type":"text","text":"hi"}`},
		{Picture{URL: "https://e.example/a.png", FileName: "a.png", FileSize: 10, Caption: "cap"},
			`{"type":"picture","text":"cap","media":"https://e.example/a.png","file_name":"a.png","file_size":10}`},
		{File{URL: "https://e.example/a.pdf", FileName: "a.pdf", FileSize: 10},
			`{"type":"file","media":"https://e.example/a.pdf","file_name":"a.pdf","file_size":10}`},
		{Video{URL: "https://e.example/v.mp4", FileName: "v.mp4", FileSize: 10, Duration: 1500 * time.Millisecond},
			`{"type":"video","media":"https://e.example/v.mp4","file_name":"v.mp4","file_size":10,"media_duration":2}`},
		{Voice{URL: "https://e.example/v.ogg", Duration: 3 * time.Second}, `{"type":"voice","media":"https://e.example/v.ogg","media_duration":3}`},
		{Audio{URL: "https://e.example/a.mp3"}, `{"type":"audio","media":"https://e.example/a.mp3"}`},
		{Sticker{URL: "https://e.example/s.webp", StickerID: "42"}, `{"type":"sticker","media":"https://e.example/s.webp","sticker_id":"42"}`},
		{Location{Point: GeoPoint{Lon: 37.6, Lat: 55.7}, Text: "here"}, `{"type":"location","text":"here","location":{"lon":37.6,"lat":55.7}}`},
		{SharedContact{Card: ContactInfo{Name: "Ann", Phone: "+7900"}}, `{"type":"contact","contact":{"name":"Ann","phone":"+7900"}}`},
		{&Text{Text: "by pointer"}, `{"type":"text","text":"by pointer"}`},
	} {
		got, err := MarshalContent(tt.c)
		if err != nil {
			t.Errorf("MarshalContent(%#v): %v", tt.c, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("MarshalContent(%#v)\n got %s\nwant %s", tt.c, got, tt.want)
		}
	}
	for _, c := range []Content{nil, (*Picture)(nil)} {
		_, err := MarshalContent(c)
		wantValidation(t, err, "Content")
	}
}

// TestMarshalContentIsWhatSendMessageSends: the object MarshalContent
// returns is the "message" of new_message, byte for byte.
func TestMarshalContentIsWhatSendMessageSends(t *testing.T) {
	t.Parallel()
	content := Picture{URL: "https://e.example/a.png", FileName: "a.png", FileSize: 10, Caption: "cap"}
	m := IncomingMessage("m-1", "c-1", time.Unix(1596470808, 0), Participant{ID: "u-1", Name: "Ann"}, content)
	sent, err := json.Marshal(m.payload())
	if err != nil {
		t.Fatal(err)
	}
	want, err := MarshalContent(content)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sent), `"message":`+string(want)) {
		t.Errorf("new_message %s does not carry %s", sent, want)
	}
}

func TestSourceValidate(t *testing.T) {
	t.Parallel()
	for _, s := range []*Source{nil, {}, {ExternalID: "78001234567"}, {ExternalID: strings.Repeat("~", 39) + " "}} {
		if err := s.Validate(); err != nil {
			t.Errorf("(%+v).Validate() = %v", s, err)
		}
	}
	for _, id := range []string{strings.Repeat("1", 41), "номер", "a\tb"} {
		wantValidation(t, (&Source{ExternalID: id}).Validate(), "ExternalID")
	}
}
