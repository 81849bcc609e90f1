package amojo

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ms(msec int64) time.Time { return time.UnixMilli(msec).UTC() }
func sec(s int64) time.Time   { return time.Unix(s, 0).UTC() }

// The participants and chat most message fixtures share.
var (
	fxAccount  = "52e591f7-c98f-4255-8495-827210138c81"
	fxClient   = ChatUser{ID: "2ed64e26-70a1-4857-8382-bb066a076219", ClientID: "my_int-1376265f-86df-4c49-a0c3-a4816df41af8"}
	fxManager  = ChatUser{ID: "76fc2bea-902f-425c-9a3d-dcdac4766090"}
	fxChat     = ConversationRef{ID: "8e4d4baa-9e6c-4a88-838a-5f62be227bdc", ClientID: "my_int-d5a421f7f218"}
	fxSource   = &WebhookSource{ExternalID: "78001234567"}
	fxTypingBy = ChatUser{ID: "fb0fb604-9e04-4e1d-bee9-37c71924cdc2"}
	fxTypingIn = ConversationRef{ID: "f1e4e02c-f502-4165-9377-8575c55c5ebd", ClientID: "c7"}
)

func withPhone(u ChatUser, phone, email string) ChatUser {
	u.Phone, u.Email = phone, email
	return u
}

func webhookMessageEvent(at time.Time, m *OutgoingMessage) *WebhookEvent {
	return &WebhookEvent{Kind: EventMessage, AccountID: fxAccount, Time: at, Message: m}
}

// webhookFixtures maps every file in testdata/webhooks to the event it must
// decode to (Raw aside).
var webhookFixtures = map[string]*WebhookEvent{
	"message_text.json": webhookMessageEvent(sec(1639572261), &OutgoingMessage{
		Receiver:     ChatUser{ID: fxClient.ID, ClientID: fxClient.ClientID, Name: "Вася клиент", Phone: "79161234567", Email: "example.client@example.com"},
		Sender:       ChatUser{ID: fxManager.ID, Name: "Менеджер"},
		Conversation: fxChat,
		Source:       fxSource,
		Time:         ms(1639572260980),
		Message:      ReceivedMessage{ID: "0371a0ff-b78a-4c7b-8538-a7d547e10692", Type: TypeText, Text: "Добрый день! Чем можем помочь?"},
	}),
	// amoCRM's documented example: picture + caption + buttons + template.
	"message_picture.json": webhookMessageEvent(sec(1639572261), &OutgoingMessage{
		Receiver:     withPhone(fxClient, "79161234567", "example.client@example.com"),
		Sender:       fxManager,
		Conversation: fxChat,
		Source:       fxSource,
		Time:         ms(1639572260980),
		Message: ReceivedMessage{
			ID: "0371a0ff-b78a-4c7b-8538-a7d547e10692", Type: TypePicture, Text: "Текст сообщения Сделка #15926745",
			Media:     "https://amojo.amocrm.ru/attachments/image.jpg",
			Thumbnail: "https://amojo.amocrm.ru/attachments/image_320x200.jpg",
		},
		Markup: &Markup{Mode: "inline", Buttons: [][]MarkupButton{{{Text: "Принять заказ"}, {Text: "Отменить заказ"}}}},
		Template: &MessageTemplate{
			ID: 7103, ExternalID: "my_external_id", Content: "Текст сообщения {{lead.name}}",
			Params: []TemplateParam{{Key: "{{lead.id}}", Value: "15926745"}},
		},
	}),
	// Numbers as strings: time, msec_timestamp, file_size.
	"message_file.json": webhookMessageEvent(sec(1639572301), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639572300123),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c001", Type: TypeFile,
			Media: "https://amojo.amocrm.ru/attachments/price-list.pdf", FileName: "price-list.pdf", FileSize: 48213,
		},
	}),
	// Only timestamp in seconds; no file_name.
	"message_voice.json": webhookMessageEvent(sec(1639572401), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: sec(1639572400),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c002", Type: TypeVoice,
			Media: "https://amojo.amocrm.ru/attachments/voice.ogg", FileSize: 21344, MediaDuration: 7,
		},
	}),
	"message_video.json": webhookMessageEvent(sec(1639572501), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639572500500),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c003", Type: TypeVideo, Text: "Как собрать",
			Media:     "https://amojo.amocrm.ru/attachments/howto.mp4",
			Thumbnail: "https://amojo.amocrm.ru/attachments/howto_320x200.jpg",
			FileName:  "howto.mp4", FileSize: 10485760, MediaDuration: 95,
		},
	}),
	"message_audio.json": webhookMessageEvent(sec(1639572601), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639572600600),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c004", Type: TypeAudio,
			Media: "https://amojo.amocrm.ru/attachments/jingle.mp3", FileName: "jingle.mp3", FileSize: 512000, MediaDuration: 31,
		},
	}),
	"message_sticker.json": webhookMessageEvent(sec(1639572701), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639572700700),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c005", Type: TypeSticker,
			Media: "https://amojo.amocrm.ru/attachments/sticker.webp", StickerID: "CAACAgIAAxkBAAEB",
		},
	}),
	"message_markup_buttons.json": webhookMessageEvent(sec(1639572801), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time:    ms(1639572800800),
		Message: ReceivedMessage{ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c006", Type: TypeText, Text: "Выберите действие"},
		Markup: &Markup{Mode: "inline", Buttons: [][]MarkupButton{
			{{Text: "Да"}, {Text: "Нет"}},
			{{Text: "Открыть сайт", URL: "https://example.com/shop"}},
		}},
	}),
	// amoCRM's documented List Message example.
	"message_list_message.json": webhookMessageEvent(sec(1639572261), &OutgoingMessage{
		Receiver: withPhone(fxClient, "79161234567", "example.client@example.com"), Sender: fxManager, Conversation: fxChat,
		Source:  fxSource,
		Time:    ms(1639572260980),
		Message: ReceivedMessage{ID: "0371a0ff-b78a-4c7b-8538-a7d547e10692", Type: TypeText, Text: "Текст сообщения Сделка #15926745"},
		Markup: &Markup{ListMessage: &ListMessage{
			Header: "Какой вид услуги вы хотите получить?",
			Body:   "Пожалуйста, выберите один из вариантов ответа в меню по кнопке ниже.",
			Footer: "С уважением, Тестовая Компания",
			Button: "Меню услуг",
			Sections: []ListSection{{Title: "Доступные услуги", Rows: []ListRow{
				{CallbackData: "vG9ujre8N7", Title: "Услуга 1", Description: "Описание услуги 1"},
			}}},
		}},
	}),
	// Template id as a string, a param value as a number.
	"message_template.json": webhookMessageEvent(sec(1639572901), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time:    ms(1639572900900),
		Message: ReceivedMessage{ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c007", Type: TypeText, Text: "Здравствуйте, Вася! Ваш заказ 15926745 готов."},
		Template: &MessageTemplate{
			ID: 7104, Content: "Здравствуйте, {{contact.name}}! Ваш заказ {{lead.id}} готов.",
			Params: []TemplateParam{{Key: "{{contact.name}}", Value: "Вася"}, {Key: "{{lead.id}}", Value: "15926745"}},
		},
	}),
	"message_reply_to.json": webhookMessageEvent(sec(1639573001), &OutgoingMessage{
		Receiver: fxClient, Sender: ChatUser{ID: fxManager.ID, Name: "Менеджер"}, Conversation: fxChat,
		Time:    ms(1639573000100),
		Message: ReceivedMessage{ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c008", Type: TypeText, Text: "Да, доставка завтра"},
		ReplyTo: &QuotedMessage{
			ReceivedMessage: ReceivedMessage{ID: "9b1b3b7e-3f8a-4a8e-8f33-6a1e8a1f0a01", ClientID: "my_int-5f2836a8ca481", Type: TypeText, Text: "Когда доставка?"},
			Time:            ms(1639572990555),
			Sender:          ChatUser{ID: fxClient.ID, ClientID: fxClient.ClientID, Name: "Вася клиент"},
			Receiver:        ChatUser{ID: fxManager.ID, Name: "Менеджер"},
		},
	}),
	"message_forwards.json": webhookMessageEvent(sec(1639573101), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time:    ms(1639573100200),
		Message: ReceivedMessage{ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c009", Type: TypeText, Text: "Пересылаю прайс"},
		Forwards: &ForwardedMessages{
			ConversationRefID: "1c2d3e4f-0000-4a4a-8b8b-123456789abc",
			Messages: []QuotedMessage{{
				ReceivedMessage: ReceivedMessage{
					ID: "9b1b3b7e-3f8a-4a8e-8f33-6a1e8a1f0a02", Type: TypeFile,
					Media: "https://amojo.amocrm.ru/attachments/price.pdf", FileName: "price.pdf", FileSize: 1024,
				},
				Time:     ms(1639500000777),
				Sender:   fxManager,
				Receiver: ChatUser{ID: "3ab0c1d2-1111-4e4e-9f9f-abcdefabcdef", ClientID: "my_int-other-client"},
			}},
		},
	}),
	"message_media_group_1.json": webhookMessageEvent(sec(1639573201), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639573200001),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c010", Type: TypePicture, Text: "Два фото",
			Media: "https://amojo.amocrm.ru/attachments/one.jpg", Thumbnail: "https://amojo.amocrm.ru/attachments/one_320x200.jpg",
			FileName: "one.jpg", FileSize: 2048, MediaGroupID: "a7f0c3b2-5e5e-4c4c-9d9d-0f0f0f0f0f0f",
		},
	}),
	"message_media_group_2.json": webhookMessageEvent(sec(1639573201), &OutgoingMessage{
		Receiver: fxClient, Sender: fxManager, Conversation: fxChat,
		Time: ms(1639573200002),
		Message: ReceivedMessage{
			ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c011", Type: TypePicture,
			Media: "https://amojo.amocrm.ru/attachments/two.jpg", Thumbnail: "https://amojo.amocrm.ru/attachments/two_320x200.jpg",
			FileName: "two.jpg", FileSize: 4096, MediaGroupID: "a7f0c3b2-5e5e-4c4c-9d9d-0f0f0f0f0f0f",
		},
	}),
	"message_write_first.json": webhookMessageEvent(sec(1639573301), &OutgoingMessage{
		Receiver:     ChatUser{ID: "4c4c4c4c-2222-4d4d-8e8e-121212121212", Phone: "79169876543"},
		Sender:       ChatUser{ID: fxManager.ID, Name: "Менеджер"},
		Conversation: ConversationRef{ID: "6b6b6b6b-3333-4f4f-9a9a-343434343434"},
		Source:       fxSource,
		Time:         ms(1639573300300),
		Message:      ReceivedMessage{ID: "5f0a2c41-8f0e-4b53-9c43-2a8a0ad2c012", Type: TypeText, Text: "Здравствуйте! Это магазин, вы оставляли заявку."},
	}),
	// amoCRM's documented example, without post_id.
	"typing.json": {
		Kind: EventTyping, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1637087558),
		Typing: &TypingEvent{User: fxTypingBy, Conversation: fxTypingIn, ExpiresAt: sec(1637087563)},
	},
	// The layout of amoCRM's parameter table: action.user.id.
	"typing_action_user.json": {
		Kind: EventTyping, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1637087558),
		Typing: &TypingEvent{User: fxTypingBy, Conversation: ConversationRef{ID: fxTypingIn.ID}, ExpiresAt: sec(1637087563)},
	},
	// amoCRM's documented example, a manager answering a comment.
	"typing_comment.json": {
		Kind: EventTyping, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1637087558),
		Typing: &TypingEvent{User: fxTypingBy, Conversation: fxTypingIn, ExpiresAt: sec(1637087563), PostID: "203055422"},
	},
	"reaction_message.json": {
		Kind: EventReaction, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1695370000),
		Reaction: &ReactionEvent{
			Type: "react", Emoji: "👍",
			MessageID: "cd05887d-bb16-4e11-b298-40455cc77195", MessageClientID: "my_int-5f2836a8ca481",
			Message: &QuotedMessage{
				ReceivedMessage: ReceivedMessage{ID: "cd05887d-bb16-4e11-b298-40455cc77195", ClientID: "my_int-5f2836a8ca481"},
				Time:            ms(1695369990123),
				Sender:          ChatUser{ID: fxClient.ID, ClientID: fxClient.ClientID, Name: "Вася клиент"},
				Receiver:        fxTypingBy,
			},
			User:         ChatUser{ID: fxTypingBy.ID, Name: "Менеджер"},
			Conversation: fxTypingIn,
		},
	},
	// amoCRM's documented example, the older top-level msgid.
	"reaction_msgid.json": {
		Kind: EventReaction, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1637087558),
		Reaction: &ReactionEvent{
			Type: "react", Emoji: "😍", MessageID: "cd05887d-bb16-4e11-b298-40455cc77195",
			User: fxTypingBy, Conversation: fxTypingIn,
		},
	},
	"reaction_unreact.json": {
		Kind: EventReaction, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1695370100),
		Reaction: &ReactionEvent{
			Type: "unreact", MessageID: "cd05887d-bb16-4e11-b298-40455cc77195",
			Message: &QuotedMessage{
				ReceivedMessage: ReceivedMessage{ID: "cd05887d-bb16-4e11-b298-40455cc77195"},
				Time:            ms(1695369990123),
			},
			User: fxTypingBy, Conversation: ConversationRef{ID: fxTypingIn.ID},
		},
	},
	// amoCRM's documented example, with "markup": null.
	"comment_reply.json": {
		Kind: EventComment, AccountID: "bb037c36-8101-4bfd-8e7b-1cd3d576d124", Time: sec(1752066224),
		Message: &OutgoingMessage{
			Receiver:     ChatUser{ID: "0d1eb48c-b2b0-4550-b126-05544e6483ed", ClientID: "11000f5f-4554-4de4-be9d-83a3ca0e275d", Name: "Имя клинета"},
			Sender:       ChatUser{ID: "38d777b1-f9ee-4d01-871e-1e4d3e4a0034", Name: "Имя менеджера"},
			Conversation: ConversationRef{ID: "7573b310-9258-477c-8986-a8c7f893f3f3", ClientID: "d0111a11-d001-44b3-a541-8c05293d2d8f"},
			Time:         ms(1752066224654),
			Message:      ReceivedMessage{ID: "c9b5d6f2-07e0-4c63-9018-cbc0fde8424a", Type: TypeText, Text: "Привет!"},
			Post:         &PostRef{ID: "1999992"},
			ReplyTo: &QuotedMessage{
				ReceivedMessage: ReceivedMessage{ID: "90e985eb-3e5d-426e-bd62-1eb78ef6db67", ClientID: "d0111a04-c111-44b3-a541-8c05293d2d8f", Type: TypeText, Text: "Привет"},
				Time:            ms(1751641366000),
				Sender:          ChatUser{ID: "0d1eb48c-b2b0-4550-b126-05544e6483ed", ClientID: "11000f5f-4554-4de4-be9d-83a3ca0e275d", Name: "Имя клиента"},
			},
		},
	},
	"unknown.json": {Kind: EventUnknown, AccountID: "81ede28b-8952-4785-abe2-c8d93f5fcc7d", Time: sec(1700000000)},
	// The deprecated flat v1 message hook is not decoded, only kept raw.
	"unknown_v1.json": {Kind: EventUnknown},
}

func readWebhookFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(webhookFixtures) {
		t.Errorf("%d fixture files, %d expectations: every file needs one and vice versa", len(files), len(webhookFixtures))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, ok := webhookFixtures[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			body := readWebhookFixture(t, name)
			got, err := ParseWebhook(body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !bytes.Equal(got.Raw, body) {
				t.Errorf("Raw is not the body")
			}
			got.Raw = nil
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.MarshalIndent(got, "", "  ")
				wj, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("ParseWebhook mismatch\ngot:  %s\nwant: %s", gj, wj)
			}
		})
	}
}

func TestParseWebhookRawIsACopy(t *testing.T) {
	t.Parallel()
	body := readWebhookFixture(t, "message_text.json")
	ev, err := ParseWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	body[0] = 'X'
	if ev.Raw[0] != '{' {
		t.Error("Raw shares memory with the body passed in")
	}
}

func TestOutgoingMessageWriteFirst(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"message_write_first.json": true, "message_text.json": false} {
		ev, err := ParseWebhook(readWebhookFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Message.WriteFirst(); got != want {
			t.Errorf("%s: WriteFirst = %v, want %v", name, got, want)
		}
	}
}

func TestReactionEventRemoved(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"reaction_unreact.json": true, "reaction_message.json": false} {
		ev, err := ParseWebhook(readWebhookFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Reaction.Removed(); got != want {
			t.Errorf("%s: Removed = %v, want %v", name, got, want)
		}
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"", " \n", "null", "[]", `[{"message":{}}]`, `"text"`, "42", "true",
		"{", `{"account_id":}`, `{"a":1}{"b":2}`, `{"a":1} x`, "\x00", "{\"a\":\"\xff\"", "<html></html>",
		"\v{}", "{}\f", "\u00a0{}",
	} {
		t.Run(strings.ReplaceAll(body, "\n", `\n`), func(t *testing.T) {
			t.Parallel()
			ev, err := ParseWebhook([]byte(body))
			if !errors.Is(err, ErrMalformedWebhook) {
				t.Fatalf("ParseWebhook = %+v, %v; want ErrMalformedWebhook", ev, err)
			}
			if ev != nil {
				t.Errorf("event %+v with an error", ev)
			}
		})
	}
}

// TestParseWebhookLenient feeds shapes the documentation does not promise but
// that must not break a webhook: nulls, wrong types, missing objects.
func TestParseWebhookLenient(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		body  string
		check func(t *testing.T, ev *WebhookEvent)
	}{
		{"empty object", `{}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventUnknown || !ev.Time.IsZero() || ev.AccountID != "" {
				t.Errorf("%+v", ev)
			}
		}},
		{"message is null", `{"message":null,"action":{"typing":{}}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventTyping || ev.Typing == nil {
				t.Errorf("kind %s", ev.Kind)
			}
		}},
		{"message is a string", `{"message":"hi"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventUnknown || ev.Message != nil {
				t.Errorf("kind %s", ev.Kind)
			}
		}},
		{"empty message object", `{"message":{}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventMessage || ev.Message == nil || !ev.Message.WriteFirst() {
				t.Errorf("%+v", ev)
			}
		}},
		{"message before action", `{"message":{"message":{"id":"m"}},"action":{"reaction":{}}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventMessage || ev.Message.Message.ID != "m" || ev.Reaction != nil {
				t.Errorf("%+v", ev)
			}
		}},
		{"wrong types everywhere", `{"account_id":12,"time":"soon","message":{"receiver":[],"sender":"x","conversation":{"id":7,"client_id":null},
			"source":"s","timestamp":{},"msec_timestamp":true,"message":{"id":["a"],"type":5,"file_size":"big","media_duration":1e30,
			"markup":{"buttons":[1,[2,{"text":3}],{"text":"x"}],"list_message":{"sections":[1,{"rows":[null,{"title":true}]}]}},
			"template":{"id":"x","params":[1,{"key":1,"value":{}}]},"reply_to":{"message":5},"forwards":{"messages":[1,null]},
			"location":{"lon":"37.6","lat":"NaN"},"contact":{"name":1,"phone":79161234567},"post":"p"}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				m := ev.Message
				if ev.Kind != EventMessage || m == nil {
					t.Fatalf("%+v", ev)
				}
				if ev.AccountID != "12" || !ev.Time.IsZero() || m.Conversation.ID != "7" || m.Source != nil {
					t.Errorf("envelope: %+v / %+v", ev, m)
				}
				if m.Message.FileSize != 0 || m.Message.MediaDuration != 0 || m.Message.Type != "5" {
					t.Errorf("content: %+v", m.Message)
				}
				if m.Markup == nil || len(m.Markup.Buttons) != 1 || len(m.Markup.Buttons[0]) != 1 || m.Markup.Buttons[0][0].Text != "3" {
					t.Errorf("markup: %+v", m.Markup)
				}
				if l := m.Markup.ListMessage; l == nil || len(l.Sections) != 1 || len(l.Sections[0].Rows) != 1 {
					t.Errorf("list message: %+v", l)
				}
				if m.Template == nil || m.Template.ID != 0 || len(m.Template.Params) != 1 || m.Template.Params[0].Key != "1" {
					t.Errorf("template: %+v", m.Template)
				}
				if m.ReplyTo == nil || m.ReplyTo.ID != "" {
					t.Errorf("reply_to: %+v", m.ReplyTo)
				}
				if m.Forwards == nil || len(m.Forwards.Messages) != 0 {
					t.Errorf("forwards: %+v", m.Forwards)
				}
				if m.Message.Location == nil || m.Message.Location.Lon != 37.6 || m.Message.Location.Lat != 0 {
					t.Errorf("location: %+v", m.Message.Location)
				}
				if m.Message.Contact == nil || m.Message.Contact.Phone != "79161234567" || m.Message.Contact.Name != "1" {
					t.Errorf("contact: %+v", m.Message.Contact)
				}
				if m.Post != nil || ev.Kind == EventComment {
					t.Errorf("post: %+v", m.Post)
				}
			}},
		{"numbers in many spellings", `{"time":1.6395722619e9,"message":{"timestamp":" 1639572260 ","message":{"file_size":1e3,"media_duration":"7.9"}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				m := ev.Message
				if !ev.Time.Equal(sec(1639572261)) || !m.Time.Equal(sec(1639572260)) || m.Message.FileSize != 1000 || m.Message.MediaDuration != 7 {
					t.Errorf("%v %v %+v", ev.Time, m.Time, m.Message)
				}
			}},
		{"huge numbers", `{"time":1e400,"message":{"msec_timestamp":99999999999999999999999,"message":{"file_size":-1e300}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				if !ev.Time.IsZero() || !ev.Message.Time.IsZero() || ev.Message.Message.FileSize != 0 {
					t.Errorf("%+v", ev)
				}
			}},
		{"receiver profile nested", `{"message":{"receiver":{"id":"r","profile":{"phone":"7916","email":"a@b.c"}}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				if r := ev.Message.Receiver; r.Phone != "7916" || r.Email != "a@b.c" {
					t.Errorf("%+v", r)
				}
			}},
		{"reply_to flattened (Kommo reference)", `{"message":{"message":{"reply_to":{"id":"q","msgid":"mine","type":"text","text":"t"}}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				if q := ev.Message.ReplyTo; q == nil || q.ID != "q" || q.ClientID != "mine" || q.Text != "t" {
					t.Errorf("%+v", q)
				}
			}},
		{"empty markup object", `{"message":{"message":{"markup":{}}}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Message.Markup != nil {
				t.Errorf("%+v", ev.Message.Markup)
			}
		}},
		{"comment post with a numeric id", `{"message":{"message":{"post":{"id":1999992}}}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventComment || ev.Message.Post.ID != "1999992" {
				t.Errorf("%+v", ev.Message.Post)
			}
		}},
		{"reaction with user beside it", `{"action":{"reaction":{"type":"react","emoji":"x","message":{"client_id":"c"},"msgid":"old"},"user":{"id":"u"}}}`,
			func(t *testing.T, ev *WebhookEvent) {
				r := ev.Reaction
				if ev.Kind != EventReaction || r.User.ID != "u" || r.MessageID != "old" || r.MessageClientID != "c" {
					t.Errorf("%+v", r)
				}
			}},
		{"typing is not an object", `{"action":{"typing":true}}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventUnknown || ev.Typing != nil {
				t.Errorf("%+v", ev)
			}
		}},
		{"whitespace around", " \r\n{\"action\":{\"typing\":{\"expired_at\":\"1637087563\"}}}\r\n", func(t *testing.T, ev *WebhookEvent) {
			if ev.Kind != EventTyping || !ev.Typing.ExpiresAt.Equal(sec(1637087563)) {
				t.Errorf("%+v", ev.Typing)
			}
		}},
		{"duplicate keys keep the last", `{"account_id":"a","account_id":"b"}`, func(t *testing.T, ev *WebhookEvent) {
			if ev.AccountID != "b" {
				t.Errorf("%q", ev.AccountID)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseWebhook([]byte(c.body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			c.check(t, ev)
		})
	}
}

func validKind(k EventKind) bool {
	switch k {
	case EventMessage, EventComment, EventTyping, EventReaction, EventUnknown:
		return true
	}
	return false
}

func FuzzParseWebhook(f *testing.F) {
	addCorpusFiles(f, "webhooks")
	f.Add([]byte(`{"message":{"message":{"markup":{"buttons":[[{"text":1}]]},"reply_to":{}}}}`))
	f.Add([]byte(`{"action":{"reaction":{"message":null},"user":{"id":1}}}`))
	f.Add([]byte(`{"time":"1e400"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseWebhook(body)
		if err != nil {
			if ev != nil {
				t.Fatalf("event with error %v", err)
			}
			if !errors.Is(err, ErrMalformedWebhook) {
				t.Fatalf("error %v does not match ErrMalformedWebhook", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if !validKind(ev.Kind) {
			t.Fatalf("kind %q", ev.Kind)
		}
		if !bytes.Equal(ev.Raw, body) {
			t.Fatal("Raw differs from the body")
		}
		set := map[EventKind]bool{
			EventMessage:  ev.Message != nil && ev.Message.Post == nil,
			EventComment:  ev.Message != nil && ev.Message.Post != nil,
			EventTyping:   ev.Typing != nil,
			EventReaction: ev.Reaction != nil,
		}
		for kind, isSet := range set {
			if isSet != (kind == ev.Kind) {
				t.Fatalf("kind %s, but %s payload set = %v", ev.Kind, kind, isSet)
			}
		}
		if ev.Kind == EventUnknown && (ev.Message != nil || ev.Typing != nil || ev.Reaction != nil) {
			t.Fatal("unknown event with a payload")
		}
	})
}

func BenchmarkParseWebhook(b *testing.B) {
	body := readWebhookFixture(b, "message_picture.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseWebhook(body); err != nil {
			b.Fatal(err)
		}
	}
}
