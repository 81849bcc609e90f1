package amojo

import (
	"encoding/json"
	"net/url"
	"reflect"
	"time"
)

// Content is the content of a message sent to amojo: one of Text, Picture,
// File, Video, Voice, Audio, Sticker, Location and SharedContact. The set is
// closed; each kind checks its own required fields before anything is sent.
//
// For Picture, File and Video the file name and a positive file size are
// required, as amoCRM documents (Kommo calls them optional). Media URLs must
// be absolute http(s) URLs that amojo can download. Durations are sent in
// whole seconds.
type Content interface {
	// Type returns the message kind, the "type" field on the wire.
	Type() MessageType
	// validate checks the content; in an edit the media fields may be
	// omitted to keep the file unchanged.
	validate(edit bool) error
	// wire returns the "message" object carrying the content.
	wire() wireMessage
}

// wireMessage is the "message" object of new_message and edit_message.
type wireMessage struct {
	Type           MessageType          `json:"type,omitempty"`
	Text           string               `json:"text,omitempty"`
	Media          string               `json:"media,omitempty"`
	FileName       string               `json:"file_name,omitempty"`
	FileSize       int64                `json:"file_size,omitempty"`
	MediaDuration  int64                `json:"media_duration,omitempty"`
	StickerID      string               `json:"sticker_id,omitempty"`
	Location       *GeoPoint            `json:"location,omitempty"`
	Contact        *ContactInfo         `json:"contact,omitempty"`
	CallbackData   string               `json:"callback_data,omitempty"`
	SharedPost     *wireSharedPost      `json:"shared_post,omitempty"`
	Post           *wireCommentPost     `json:"post,omitempty"`
	DeliveryStatus *wireMessageDelivery `json:"delivery_status,omitempty"`
}

// Text is a text message.
type Text struct {
	Text string
}

// Picture is an image at URL. Caption is sent as the message text.
type Picture struct {
	URL      string
	FileName string
	FileSize int64 // bytes
	Caption  string
}

// File is a document at URL. Caption is sent as the message text.
type File struct {
	URL      string
	FileName string
	FileSize int64 // bytes
	Caption  string
}

// Video is a video at URL. Caption is sent as the message text.
type Video struct {
	URL      string
	FileName string
	FileSize int64 // bytes
	Duration time.Duration
	Caption  string
}

// Voice is a voice note at URL.
type Voice struct {
	URL      string
	Duration time.Duration
}

// Audio is an audio file at URL. FileName and FileSize are optional.
type Audio struct {
	URL      string
	FileName string
	FileSize int64 // bytes
	Duration time.Duration
	Caption  string
}

// Sticker is a sticker image at URL; StickerID is the messenger's global
// sticker id, when it has one.
type Sticker struct {
	URL       string
	StickerID string
}

// Location is a position shared by a participant, with an optional text.
type Location struct {
	Point GeoPoint
	Text  string
}

// SharedContact is a contact card (name and phone, both required) shared by a
// participant, with an optional text.
type SharedContact struct {
	Card ContactInfo
	Text string
}

// Type returns TypeText.
func (Text) Type() MessageType { return TypeText }

// Type returns TypePicture.
func (Picture) Type() MessageType { return TypePicture }

// Type returns TypeFile.
func (File) Type() MessageType { return TypeFile }

// Type returns TypeVideo.
func (Video) Type() MessageType { return TypeVideo }

// Type returns TypeVoice.
func (Voice) Type() MessageType { return TypeVoice }

// Type returns TypeAudio.
func (Audio) Type() MessageType { return TypeAudio }

// Type returns TypeSticker.
func (Sticker) Type() MessageType { return TypeSticker }

// Type returns TypeLocation.
func (Location) Type() MessageType { return TypeLocation }

// Type returns TypeContact.
func (SharedContact) Type() MessageType { return TypeContact }

func (t Text) validate(bool) error {
	if isBlank(t.Text) {
		return invalid("Text", "required")
	}
	return nil
}

func (p Picture) validate(edit bool) error {
	return checkFileFields(p.URL, p.FileName, p.FileSize, 0, edit, true)
}

func (f File) validate(edit bool) error {
	return checkFileFields(f.URL, f.FileName, f.FileSize, 0, edit, true)
}

func (v Video) validate(edit bool) error {
	return checkFileFields(v.URL, v.FileName, v.FileSize, v.Duration, edit, true)
}

func (v Voice) validate(edit bool) error {
	return checkFileFields(v.URL, "", 0, v.Duration, edit, false)
}

func (a Audio) validate(edit bool) error {
	return checkFileFields(a.URL, a.FileName, a.FileSize, a.Duration, edit, false)
}

func (s Sticker) validate(edit bool) error {
	return checkMediaURL("URL", s.URL, edit)
}

func (l Location) validate(bool) error {
	if !(l.Point.Lat >= -90 && l.Point.Lat <= 90) {
		return invalid("Point.Lat", "must be within [-90, 90]")
	}
	if !(l.Point.Lon >= -180 && l.Point.Lon <= 180) {
		return invalid("Point.Lon", "must be within [-180, 180]")
	}
	return nil
}

func (c SharedContact) validate(bool) error {
	if isBlank(c.Card.Name) {
		return invalid("Card.Name", "required")
	}
	if isBlank(c.Card.Phone) {
		return invalid("Card.Phone", "required")
	}
	return nil
}

func (t Text) wire() wireMessage { return wireMessage{Type: TypeText, Text: t.Text} }

func (p Picture) wire() wireMessage {
	return wireMessage{Type: TypePicture, Text: p.Caption, Media: p.URL, FileName: p.FileName, FileSize: p.FileSize}
}

func (f File) wire() wireMessage {
	return wireMessage{Type: TypeFile, Text: f.Caption, Media: f.URL, FileName: f.FileName, FileSize: f.FileSize}
}

func (v Video) wire() wireMessage {
	return wireMessage{Type: TypeVideo, Text: v.Caption, Media: v.URL, FileName: v.FileName, FileSize: v.FileSize, MediaDuration: seconds(v.Duration)}
}

func (v Voice) wire() wireMessage {
	return wireMessage{Type: TypeVoice, Media: v.URL, MediaDuration: seconds(v.Duration)}
}

func (a Audio) wire() wireMessage {
	return wireMessage{Type: TypeAudio, Text: a.Caption, Media: a.URL, FileName: a.FileName, FileSize: a.FileSize, MediaDuration: seconds(a.Duration)}
}

func (s Sticker) wire() wireMessage {
	return wireMessage{Type: TypeSticker, Media: s.URL, StickerID: s.StickerID}
}

func (l Location) wire() wireMessage {
	p := l.Point
	return wireMessage{Type: TypeLocation, Text: l.Text, Location: &p}
}

func (c SharedContact) wire() wireMessage {
	card := c.Card
	return wireMessage{Type: TypeContact, Text: c.Text, Contact: &card}
}

// checkFileFields checks the media URL, and, when named is set (picture,
// file, video), the file name and a positive size. In an edit the file may
// be left unchanged, so nothing is required, but what is given must be valid.
func checkFileFields(rawURL, fileName string, fileSize int64, d time.Duration, edit, named bool) error {
	if err := checkMediaURL("URL", rawURL, edit); err != nil {
		return err
	}
	if fileSize < 0 {
		return invalid("FileSize", "negative")
	}
	if d < 0 {
		return invalid("Duration", "negative")
	}
	if named && !edit {
		if isBlank(fileName) {
			return invalid("FileName", "required for picture, file and video messages")
		}
		if fileSize == 0 {
			return invalid("FileSize", "required (size in bytes, above zero)")
		}
	}
	return nil
}

// checkMediaURL requires raw to be an absolute http(s) URL; an empty raw is
// accepted only when optional is set.
func checkMediaURL(field, raw string, optional bool) error {
	if raw == "" {
		if optional {
			return nil
		}
		return invalid(field, "required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "must be an absolute http or https URL")
	}
	return nil
}

// seconds rounds d to whole seconds for media_duration; a positive duration
// under half a second still counts as one second.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64((d + time.Second/2) / time.Second)
	return max(s, 1)
}

// ValidateContent checks c by the rules SendMessage applies to a message's
// content (the required fields of its kind, absolute http(s) media URLs,
// coordinates within range), so content built ahead of a message, or read
// from elsewhere, can be checked before anything is sent. A problem is a
// *ValidationError whose Field is relative to the content, such as
// "FileName"; a nil c is one for "Content".
func ValidateContent(c Content) error {
	if isNilContent(c) {
		return invalid("Content", "required")
	}
	return c.validate(false)
}

// MarshalContent returns the chats API's "message" object carrying c, as
// SendMessage sends it, such as
// {"type":"picture","text":"caption","media":URL,"file_name":"a.png","file_size":1024}
// (durations in whole seconds). It does not check c (see ValidateContent);
// a nil c is a *ValidationError for "Content".
func MarshalContent(c Content) ([]byte, error) {
	if isNilContent(c) {
		return nil, invalid("Content", "required")
	}
	return json.Marshal(c.wire())
}

// isNilContent reports a nil interface or a nil pointer to a content kind.
func isNilContent(c Content) bool {
	if c == nil {
		return true
	}
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
