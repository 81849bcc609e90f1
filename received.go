package amojo

import (
	"encoding/json"
	"time"
)

// MessageType is the kind of a chat message, the "type" field on the wire.
type MessageType string

// The message kinds of the chats API.
const (
	TypeText     MessageType = "text"
	TypePicture  MessageType = "picture"
	TypeFile     MessageType = "file"
	TypeVideo    MessageType = "video"
	TypeVoice    MessageType = "voice"
	TypeAudio    MessageType = "audio"
	TypeSticker  MessageType = "sticker"
	TypeLocation MessageType = "location"
	TypeContact  MessageType = "contact"
)

// GeoPoint is a position in degrees, the "location" object on the wire.
type GeoPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// ContactInfo is a shared contact card, the "contact" object on the wire.
type ContactInfo struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// ChatUser is a chat participant as amojo reports it in responses, history and
// webhooks: ID is amojo's id, ClientID the integration's own id (present for
// external participants only). Empty values are often omitted by the server.
type ChatUser struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	Name     string `json:"name,omitempty"`
	Avatar   string `json:"avatar,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Email    string `json:"email,omitempty"`
}

// UnmarshalJSON accepts phone and email both at the top level and nested in a
// "profile" object: amoCRM's documentation shows both layouts.
func (u *ChatUser) UnmarshalJSON(data []byte) error {
	type plain ChatUser
	var w struct {
		plain
		Profile *struct {
			Phone string `json:"phone"`
			Email string `json:"email"`
		} `json:"profile"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*u = ChatUser(w.plain)
	if w.Profile != nil {
		if u.Phone == "" {
			u.Phone = w.Profile.Phone
		}
		if u.Email == "" {
			u.Email = w.Profile.Email
		}
	}
	return nil
}

// ReceivedMessage is the content of a message as amojo reports it in chat
// history and in webhooks. ID is amojo's message id, ClientID the
// integration's msgid when it has one.
type ReceivedMessage struct {
	ID            string       `json:"id"`
	ClientID      string       `json:"client_id,omitempty"`
	Type          MessageType  `json:"type"`
	Text          string       `json:"text,omitempty"`
	Media         string       `json:"media,omitempty"`
	Thumbnail     string       `json:"thumbnail,omitempty"`
	FileName      string       `json:"file_name,omitempty"`
	FileSize      int64        `json:"file_size,omitempty"`
	MediaDuration int          `json:"media_duration,omitempty"`
	MediaGroupID  string       `json:"media_group_id,omitempty"`
	StickerID     string       `json:"sticker_id,omitempty"`
	Location      *GeoPoint    `json:"location,omitempty"`
	Contact       *ContactInfo `json:"contact,omitempty"`
	CallbackData  string       `json:"callback_data,omitempty"`
}

// unixTime converts the wire pair timestamp (seconds) and msec_timestamp
// (milliseconds) to a time.Time, preferring the milliseconds when present.
func unixTime(sec, msec int64) time.Time {
	switch {
	case msec != 0:
		return time.UnixMilli(msec).UTC()
	case sec != 0:
		return time.Unix(sec, 0).UTC()
	}
	return time.Time{}
}
