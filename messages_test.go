package amojo

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vecMsgTime is the time of vector 5: 1639660529 s, 1639660529379 ms.
var vecMsgTime = time.Date(2021, 12, 16, 13, 15, 29, 379_000_000, time.UTC)

const vecChatRef = "6cbab3d5-c4c1-46ff-b710-ad59ad10805f"

func vecClient() Participant {
	return Participant{
		ID:          "my_int-1376265f-86df-4c49-a0c3-a4816df41af8",
		Avatar:      "https://images.pexels.com/photos/10050979/pexels-photo-10050979.jpeg?auto=compress&cs=tinysrgb&dpr=2&w=500",
		Profile:     &Profile{Phone: "+79151112233", Email: "example.client@example.com"},
		ProfileLink: "https://example.com/profile/example.client",
		Name:        "Вася клиент",
	}
}

func vecManager() Participant {
	return Participant{ID: "my_int-manager-1", RefID: "d8d9f9c4-9611-4794-a136-a253a13e1bb5", Name: "Менеджер Василий"}
}

func vecIncoming(c Content) Message {
	return IncomingMessage("my_int-5f2836a8ca481", "my_int-d5a421f7f218", vecMsgTime, vecClient(), c)
}

// TestSendMessageVector5 pins the signature of the documented new_message
// body (PHP escaping), signed with the package's Signature and ContentMD5.
func TestSendMessageVector5(t *testing.T) {
	t.Parallel()
	body := `{"event_type":"new_message","payload":{"timestamp":1639660529,"msec_timestamp":1639660529379,"msgid":"my_int-5f2836a8ca481","conversation_id":"my_int-d5a421f7f218","sender":{"id":"my_int-1376265f-86df-4c49-a0c3-a4816df41af8","avatar":"https:\/\/images.pexels.com\/photos\/10050979\/pexels-photo-10050979.jpeg?auto=compress&cs=tinysrgb&dpr=2&w=500","profile":{"phone":"+79151112233","email":"example.client@example.com"},"profile_link":"https:\/\/example.com\/profile\/example.client","name":"\u0412\u0430\u0441\u044f \u043a\u043b\u0438\u0435\u043d\u0442"},"message":{"type":"text","text":"\u0421\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 \u043e\u0442 \u043a\u043b\u0438\u0435\u043d\u0442\u0430"},"silent":false}}`
	md := ContentMD5([]byte(body))
	require.Equal(t, "223ef85def871bc7cb58aa6f02f0a26e", md, "Content-MD5")
	sig := Signature(vecSecret, "POST", md, ContentTypeJSON, "Thu, 16 Dec 2021 13:15:29 +0000", "/v2/origin/custom/"+vecScopeID)
	assert.Equal(t, "29b49e9eaf03f13a66ecaff315f2855b31b25eee", sig, "X-Signature")
}

func TestSendMessageBodies(t *testing.T) {
	t.Parallel()
	withOpts := func(m Message, f func(*Message)) Message { f(&m); return m }
	tests := []struct {
		golden string
		msg    Message
	}{
		{"message_incoming_text.json", vecIncoming(Text{Text: "Сообщение от клиента"})},
		{"message_incoming_picture.json", withOpts(vecIncoming(Picture{
			URL: "https://example.com/p.jpg", FileName: "p.jpg", FileSize: 2048, Caption: "look <here> & there",
		}), func(m *Message) {
			m.Source = &Source{ExternalID: "78001234567"}
			m.Silent = true
		})},
		{"message_manager_file_reply.json", withOpts(ManagerMessage("m-2", "my_int-d5a421f7f218", vecMsgTime, vecManager(),
			Participant{ID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"},
			File{URL: "https://example.com/contract.pdf", FileName: "contract.pdf", FileSize: 123456}),
			func(m *Message) { m.ReplyTo = &EmbeddedMessage{MsgID: "my_int-5f2836a8ca481"} })},
		{"message_bot_video_forward.json", withOpts(BotMessage("m-3", "my_int-d5a421f7f218", vecMsgTime, "bot-0001",
			Participant{ID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"},
			Video{URL: "https://example.com/v.mp4", FileName: "v.mp4", FileSize: 99, Duration: 12600 * time.Millisecond}),
			func(m *Message) {
				m.Forwards = &Forwards{
					ConversationRefID: vecChatRef,
					Messages: []EmbeddedMessage{{
						Type: TypeText, Text: "forwarded", Time: vecMsgTime.Add(-time.Hour),
						Sender: &Participant{Name: "Someone"},
					}},
				}
			})},
		{"message_incoming_voice.json", withOpts(vecIncoming(Voice{URL: "https://example.com/v.ogg", Duration: 3 * time.Second}),
			func(m *Message) { m.ConversationRefID = vecChatRef })},
		{"message_incoming_audio.json", vecIncoming(Audio{URL: "http://example.com/a.mp3", Duration: 200 * time.Millisecond})},
		{"message_incoming_sticker.json", vecIncoming(Sticker{URL: "https://example.com/s.webp", StickerID: "st-1"})},
		{"message_incoming_location.json", vecIncoming(Location{Point: GeoPoint{Lon: 37.6173, Lat: 55.7558}, Text: "here"})},
		{"message_incoming_location_zero.json", vecIncoming(Location{})},
		{"message_incoming_contact.json", vecIncoming(SharedContact{Card: ContactInfo{Name: "Petya", Phone: "+79990000000"}})},
		{"message_incoming_shared_post.json", withOpts(vecIncoming(Text{Text: "see"}), func(m *Message) {
			m.SharedPost = &SharedPost{URL: "https://example.com/post/1", PreviewPermalink: "https://example.com/p1.jpg", SiteName: "Example"}
			m.CallbackData = "row-2"
		})},
		{"message_incoming_comment.json", withOpts(vecIncoming(Text{Text: "nice"}), func(m *Message) {
			m.Post = &CommentPost{ID: "post-1", URL: "https://example.com/post/1", Caption: "My post", Username: "author"}
		})},
		{"message_manager_comment_reply.json", withOpts(ManagerMessage("m-4", "my_int-d5a421f7f218", vecMsgTime, vecManager(),
			Participant{ID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"}, Text{Text: "thanks"}), func(m *Message) {
			m.Post = &CommentPost{ID: "post-1", URL: "https://example.com/post/1", PreviewURL: "https://example.com/tmp.jpg"}
			m.ReplyTo = &EmbeddedMessage{
				Type: TypeLocation, Location: &GeoPoint{Lon: 1.5, Lat: -2.25}, Time: vecMsgTime.Add(-time.Minute),
				Sender: &Participant{ID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"},
			}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Thu, 16 Dec 2021 13:15:29 +0000")
			s := newWireServer(t, now, answerFile(t, "new_message.json"))
			_, err := s.client.SendMessage(t.Context(), vecScopeID, tt.msg)
			require.NoError(t, err)
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID, "", now)
			checkGolden(t, tt.golden, r.Body)
		})
	}
}

func TestMessageValidation(t *testing.T) {
	t.Parallel()
	to := Participant{ID: "client-1"}
	in := func(c Content) Message {
		return IncomingMessage("m", "c", vecMsgTime, Participant{ID: "u", Name: "U"}, c)
	}
	with := func(m Message, f func(*Message)) Message { f(&m); return m }
	text := Text{Text: "hi"}
	full := func(f func(*EmbeddedMessage)) *EmbeddedMessage {
		e := &EmbeddedMessage{Type: TypeText, Text: "q", Time: vecMsgTime, Sender: &Participant{RefID: "r"}}
		f(e)
		return e
	}
	var nilText *Text
	tests := []struct {
		name  string
		msg   Message
		field string // "" = valid
	}{
		// Directions.
		{"incoming ok", in(text), ""},
		{"manager ok", ManagerMessage("m", "c", vecMsgTime, Participant{RefID: "amojo-user"}, to, text), ""},
		{"bot ok", BotMessage("m", "c", vecMsgTime, "bot", to, text), ""},
		{"ref id instead of conversation id", with(in(text), func(m *Message) { m.ConversationID, m.ConversationRefID = "", vecChatRef }), "ConversationID"},
		{"both conversation ids", with(in(text), func(m *Message) { m.ConversationRefID = vecChatRef }), ""},
		{"no msgid", with(in(text), func(m *Message) { m.MsgID = "" }), "MsgID"},
		{"no conversation", with(in(text), func(m *Message) { m.ConversationID = " " }), "ConversationID"},
		{"no time", with(in(text), func(m *Message) { m.Time = time.Time{} }), "Time"},
		{"time before 1970", with(in(text), func(m *Message) { m.Time = time.Unix(-10, 0) }), "Time"},
		{"incoming without sender id", IncomingMessage("m", "c", vecMsgTime, Participant{Name: "U"}, text), "Sender.ID"},
		{"incoming without sender name", IncomingMessage("m", "c", vecMsgTime, Participant{ID: "u"}, text), "Sender.Name"},
		{"manager without ref id", ManagerMessage("m", "c", vecMsgTime, Participant{ID: "u", Name: "U"}, to, text), "Sender.RefID"},
		{"bot without id", BotMessage("m", "c", vecMsgTime, "", to, text), "Sender.RefID"},
		{"receiver without id", BotMessage("m", "c", vecMsgTime, "bot", Participant{Name: "x"}, text), "Receiver.ID"},
		{"receiver by ref id", BotMessage("m", "c", vecMsgTime, "bot", Participant{RefID: "x"}, text), ""},
		{"no content", in(nil), "Content"},
		{"nil content pointer", in(nilText), "Content"},
		{"content pointer", in(&Text{Text: "x"}), ""},

		// Content kinds.
		{"text empty", in(Text{}), "Content.Text"},
		{"text blank", in(Text{Text: " \n"}), "Content.Text"},
		{"picture ok", in(Picture{URL: "https://x.io/a.png", FileName: "a.png", FileSize: 1}), ""},
		{"picture no url", in(Picture{FileName: "a.png", FileSize: 1}), "Content.URL"},
		{"picture relative url", in(Picture{URL: "/a.png", FileName: "a.png", FileSize: 1}), "Content.URL"},
		{"picture ftp url", in(Picture{URL: "ftp://x.io/a.png", FileName: "a.png", FileSize: 1}), "Content.URL"},
		{"picture no name", in(Picture{URL: "https://x.io/a.png", FileSize: 1}), "Content.FileName"},
		{"picture no size", in(Picture{URL: "https://x.io/a.png", FileName: "a.png"}), "Content.FileSize"},
		{"file ok", in(File{URL: "https://x.io/a", FileName: "a", FileSize: 1}), ""},
		{"file no name", in(File{URL: "https://x.io/a", FileSize: 1}), "Content.FileName"},
		{"file negative size", in(File{URL: "https://x.io/a", FileName: "a", FileSize: -1}), "Content.FileSize"},
		{"video ok", in(Video{URL: "https://x.io/v", FileName: "v", FileSize: 1, Duration: time.Second}), ""},
		{"video no size", in(Video{URL: "https://x.io/v", FileName: "v"}), "Content.FileSize"},
		{"video negative duration", in(Video{URL: "https://x.io/v", FileName: "v", FileSize: 1, Duration: -1}), "Content.Duration"},
		{"voice ok", in(Voice{URL: "https://x.io/v.ogg"}), ""},
		{"voice no url", in(Voice{Duration: time.Second}), "Content.URL"},
		{"voice negative duration", in(Voice{URL: "https://x.io/v.ogg", Duration: -time.Second}), "Content.Duration"},
		{"audio ok without name", in(Audio{URL: "https://x.io/a.mp3"}), ""},
		{"audio bad url", in(Audio{URL: "x.io/a.mp3"}), "Content.URL"},
		{"audio negative size", in(Audio{URL: "https://x.io/a.mp3", FileSize: -5}), "Content.FileSize"},
		{"sticker ok", in(Sticker{URL: "https://x.io/s.webp"}), ""},
		{"sticker no url", in(Sticker{StickerID: "s"}), "Content.URL"},
		{"location bounds ok", in(Location{Point: GeoPoint{Lon: -180, Lat: 90}}), ""},
		{"location lat high", in(Location{Point: GeoPoint{Lon: 0, Lat: 90.01}}), "Content.Point.Lat"},
		{"location lat low", in(Location{Point: GeoPoint{Lon: 0, Lat: -91}}), "Content.Point.Lat"},
		{"location lon high", in(Location{Point: GeoPoint{Lon: 180.5}}), "Content.Point.Lon"},
		{"location lon NaN", in(Location{Point: GeoPoint{Lon: math.NaN()}}), "Content.Point.Lon"},
		{"contact ok", in(SharedContact{Card: ContactInfo{Name: "n", Phone: "1"}}), ""},
		{"contact no name", in(SharedContact{Card: ContactInfo{Phone: "1"}}), "Content.Card.Name"},
		{"contact no phone", in(SharedContact{Card: ContactInfo{Name: "n"}}), "Content.Card.Phone"},

		// Optional parts.
		{"source too long", with(in(text), func(m *Message) { m.Source = &Source{ExternalID: "12345678901234567890123456789012345678901"} }), "Source.ExternalID"},
		{"reply by amojo id", with(in(text), func(m *Message) { m.ReplyTo = &EmbeddedMessage{ID: vecChatRef} }), ""},
		{"reply by id with bad size", with(in(text), func(m *Message) { m.ReplyTo = &EmbeddedMessage{MsgID: "x", FileSize: -1} }), "ReplyTo.FileSize"},
		{"reply by id with bad location", with(in(text), func(m *Message) {
			m.ReplyTo = &EmbeddedMessage{MsgID: "x", Location: &GeoPoint{Lon: 200}}
		}), "ReplyTo.Location.Point.Lon"},
		{"reply full ok", with(in(text), func(m *Message) { m.ReplyTo = full(func(*EmbeddedMessage) {}) }), ""},
		{"reply empty", with(in(text), func(m *Message) { m.ReplyTo = &EmbeddedMessage{} }), "ReplyTo.ID"},
		{"reply unknown type", with(in(text), func(m *Message) { m.ReplyTo = full(func(e *EmbeddedMessage) { e.Type = "gif" }) }), "ReplyTo.Type"},
		{"reply text without text", with(in(text), func(m *Message) { m.ReplyTo = full(func(e *EmbeddedMessage) { e.Text = "" }) }), "ReplyTo.Text"},
		{"reply without time", with(in(text), func(m *Message) { m.ReplyTo = full(func(e *EmbeddedMessage) { e.Time = time.Time{} }) }), "ReplyTo.Time"},
		{"reply without sender", with(in(text), func(m *Message) { m.ReplyTo = full(func(e *EmbeddedMessage) { e.Sender = &Participant{} }) }), "ReplyTo.Sender"},
		{"reply location missing", with(in(text), func(m *Message) { m.ReplyTo = full(func(e *EmbeddedMessage) { e.Type = TypeLocation }) }), "ReplyTo.Location"},
		{"reply location out of range", with(in(text), func(m *Message) {
			m.ReplyTo = full(func(e *EmbeddedMessage) { e.Type, e.Location = TypeLocation, &GeoPoint{Lat: 100} })
		}), "ReplyTo.Location.Point.Lat"},
		{"reply contact no phone", with(in(text), func(m *Message) {
			m.ReplyTo = full(func(e *EmbeddedMessage) { e.Type, e.Contact = TypeContact, &ContactInfo{Name: "n"} })
		}), "ReplyTo.Contact.Card.Phone"},
		{"reply negative size", with(in(text), func(m *Message) {
			m.ReplyTo = full(func(e *EmbeddedMessage) { e.Type, e.FileSize = TypeFile, -1 })
		}), "ReplyTo.FileSize"},
		{"forwards ok", with(in(text), func(m *Message) { m.Forwards = &Forwards{Messages: []EmbeddedMessage{{MsgID: "x"}}} }), ""},
		{"forwards none", with(in(text), func(m *Message) { m.Forwards = &Forwards{} }), "Forwards.Messages"},
		{"forwards two", with(in(text), func(m *Message) {
			m.Forwards = &Forwards{Messages: []EmbeddedMessage{{MsgID: "x"}, {MsgID: "y"}}}
		}), "Forwards.Messages"},
		{"forwards bad message", with(in(text), func(m *Message) { m.Forwards = &Forwards{Messages: []EmbeddedMessage{{}}} }), "Forwards.Messages[0].ID"},
		{"shared post no url", with(in(text), func(m *Message) { m.SharedPost = &SharedPost{SiteName: "x"} }), "SharedPost.URL"},
		{"shared post bad preview", with(in(text), func(m *Message) {
			m.SharedPost = &SharedPost{URL: "https://x.io", PreviewLink: "nope"}
		}), "SharedPost.PreviewLink"},
		{"post no id", with(in(text), func(m *Message) { m.Post = &CommentPost{URL: "https://x.io"} }), "Post.ID"},
		{"post no url", with(in(text), func(m *Message) { m.Post = &CommentPost{ID: "p"} }), "Post.URL"},
		{"post bad preview", with(in(text), func(m *Message) {
			m.Post = &CommentPost{ID: "p", URL: "https://x.io", PreviewPermalink: "x"}
		}), "Post.PreviewPermalink"},
	}
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.msg.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			wantValidation(t, err, tt.field)
			_, err = s.client.SendMessage(t.Context(), vecScopeID, tt.msg)
			wantValidation(t, err, tt.field)
		})
	}
	_, err := s.client.SendMessage(t.Context(), "", in(text))
	wantValidation(t, err, "scopeID")
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

func TestMediaDurationSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {1499 * time.Millisecond, 1}, {1500 * time.Millisecond, 2}, {time.Hour, 3600}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, seconds(tt.d), "seconds(%v)", tt.d)
	}
}

func TestEditMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		edit   MessageEdit
	}{
		{"edit_text_with_status.json", MessageEdit{
			MsgID: "my_int-new", ID: "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc", ConversationID: "my_int-d5a421f7f218",
			Time: vecMsgTime, Content: Text{Text: "fixed"},
			DeliveryStatus: &DeliveryStatus{Status: DeliveryFailed, ErrorCode: DeliveryErrorOther, Error: "blocked"},
		}},
		{"edit_picture_keep_file.json", MessageEdit{
			ID: "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc", ConversationRefID: vecChatRef,
			Content: Picture{Caption: "new caption"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			t.Parallel()
			now := vecDate(t, "Thu, 16 Dec 2021 13:15:29 +0000")
			s := newWireServer(t, now, answerFile(t, "new_message.json"))
			got, err := s.client.EditMessage(t.Context(), vecScopeID, tt.edit)
			require.NoError(t, err)
			assert.Equal(t, "1bf6a765-ec6f-4680-8cd5-6f2d31f78ebc", got.MsgID, "answer = %+v", *got)
			r := s.only()
			checkWire(t, r, "POST", "/v2/origin/custom/"+vecScopeID, "", now)
			checkGolden(t, tt.golden, r.Body)
		})
	}
}

func TestEditMessageValidation(t *testing.T) {
	t.Parallel()
	ok := MessageEdit{MsgID: "m", ConversationID: "c", Content: Text{Text: "x"}}
	with := func(f func(*MessageEdit)) MessageEdit { e := ok; f(&e); return e }
	tests := []struct {
		name  string
		edit  MessageEdit
		field string
	}{
		{"ok", ok, ""},
		{"by amojo id", with(func(e *MessageEdit) { e.MsgID, e.ID = "", "x" }), ""},
		{"no ids", with(func(e *MessageEdit) { e.MsgID = "" }), "MsgID"},
		{"no conversation", with(func(e *MessageEdit) { e.ConversationID = "" }), "ConversationID"},
		{"no content", with(func(e *MessageEdit) { e.Content = nil }), "Content"},
		{"status only", with(func(e *MessageEdit) { e.Content, e.DeliveryStatus = nil, &DeliveryStatus{Status: DeliveryRead} }), "Content"},
		{"empty text", with(func(e *MessageEdit) { e.Content = Text{} }), "Content.Text"},
		{"bad media url", with(func(e *MessageEdit) { e.Content = File{URL: "file.pdf"} }), "Content.URL"},
		{"file kept", with(func(e *MessageEdit) { e.Content = File{Caption: "c"} }), ""},
		{"time before 1970", with(func(e *MessageEdit) { e.Time = time.Unix(-1, 0) }), "Time"},
		{"failed without code", with(func(e *MessageEdit) { e.DeliveryStatus = &DeliveryStatus{Status: DeliveryFailed} }), "DeliveryStatus.ErrorCode"},
	}
	s := newWireServer(t, vecMsgTime, refuseAll(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.edit.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			wantValidation(t, err, tt.field)
			_, err = s.client.EditMessage(t.Context(), vecScopeID, tt.edit)
			wantValidation(t, err, tt.field)
		})
	}
	assert.Empty(t, s.requests(), "requests sent for invalid input")
}

func TestEndpointErrors(t *testing.T) {
	t.Parallel()
	t.Run("403 is a bad signature", func(t *testing.T) {
		t.Parallel()
		s := newWireServer(t, vecMsgTime, answer(http.StatusForbidden, ""))
		_, err := s.client.CreateChat(t.Context(), vecScopeID, vecChatRequest())
		assert.ErrorIs(t, err, ErrInvalidSignature)
	})
	t.Run("404 is not found", func(t *testing.T) {
		t.Parallel()
		s := newWireServer(t, vecMsgTime, answer(http.StatusNotFound, ""))
		err := s.client.SetDeliveryStatus(t.Context(), vecScopeID, "079e44fb-fc22-476b-9e8a-421b688ec53b", DeliveryStatus{Status: DeliveryRead})
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.client.History(t.Context(), vecScopeID, vecChatRef, HistoryOptions{})
		assert.ErrorIs(t, err, ErrNotFound, "history")
	})
	t.Run("2xx that is not JSON", func(t *testing.T) {
		t.Parallel()
		s := newWireServer(t, vecMsgTime, answer(http.StatusOK, "<html>"))
		_, err := s.client.SendMessage(t.Context(), vecScopeID, vecIncoming(Text{Text: "hi"}))
		var de *DecodeError
		assert.ErrorAs(t, err, &de)
	})
}
