package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/amojo-go/amojo"
)

func ExampleVerifyWebhook() {
	secret := "5a44c5dff55f3c15a4cce8d7c4cc27e207c7e189"
	body := []byte(`{"account_id":"52e591f7-c98f-4255-8495-827210138c81","time":1639572261}`)

	err := amojo.VerifyWebhook(secret, body, "f967b1bf766fb788dc3815eb656fc284d5ef4ef3")
	fmt.Println("documented vector:", err)

	tampered := []byte(strings.Replace(string(body), "1639572261", "1639572262", 1))
	err = amojo.VerifyWebhook(secret, tampered, "f967b1bf766fb788dc3815eb656fc284d5ef4ef3")
	fmt.Println("tampered:", errors.Is(err, amojo.ErrInvalidSignature))
	// Output:
	// documented vector: <nil>
	// tampered: true
}

func ExampleNewWebhookHandler() {
	const secret = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
	h := amojo.NewWebhookHandler(secret, func(ctx context.Context, ev *amojo.WebhookEvent) error {
		switch ev.Kind {
		case amojo.EventMessage, amojo.EventComment:
			m := ev.Message
			fmt.Printf("to %s in chat %s: %s\n", m.Receiver.ClientID, m.Conversation.ClientID, m.Message.Text)
			// Deliver m to the messenger here, then report the delivery
			// status of m.Message.ID.
		case amojo.EventTyping:
			fmt.Println("manager typing until", ev.Typing.ExpiresAt)
		case amojo.EventReaction:
			fmt.Println("reaction", ev.Reaction.Emoji, "on", ev.Reaction.MessageID)
		default:
			fmt.Println("unknown webhook kept raw:", len(ev.Raw), "bytes")
		}
		return nil
	}, amojo.WithWebhookAsync(100, 4))
	if err := h.Err(); err != nil {
		log.Fatal(err) // e.g. an empty secret
	}
	// In a server: http.Handle("/amojo/webhook/", h), served by an
	// http.Server with ReadHeaderTimeout, ReadTimeout, WriteTimeout and
	// IdleTimeout set; the URL registered for the channel is
	// https://host/amojo/webhook/:scope_id.

	// A webhook as amoCRM sends it, signed with the channel secret.
	body := []byte(`{"account_id":"52e591f7-c98f-4255-8495-827210138c81","time":1639572261,` +
		`"message":{"receiver":{"id":"2ed64e26-70a1-4857-8382-bb066a076219","client_id":"client-1"},` +
		`"sender":{"id":"76fc2bea-902f-425c-9a3d-dcdac4766090"},` +
		`"conversation":{"id":"8e4d4baa-9e6c-4a88-838a-5f62be227bdc","client_id":"chat-1"},` +
		`"timestamp":1639572260,"msec_timestamp":1639572260980,` +
		`"message":{"id":"0371a0ff-b78a-4c7b-8538-a7d547e10692","type":"text","text":"Hello!"}}}`)
	// amoCRM posts it to the URL with the scope id of the connection, whose
	// account part the handler checks against the signed account_id.
	scopeID := amojo.ScopeID("344a5002-f8ca-454d-af3d-396180102ac7", "52e591f7-c98f-4255-8495-827210138c81")
	req := httptest.NewRequest(http.MethodPost, "/amojo/webhook/"+scopeID, strings.NewReader(string(body)))
	req.Header.Set("X-Signature", amojo.SignWebhook(secret, body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req) // answers at once; a worker handles the event

	if err := h.Close(context.Background()); err != nil { // waits for the queued event
		log.Fatal(err)
	}
	fmt.Println("answered:", w.Code, w.Body.String())
	// Output:
	// to client-1 in chat chat-1: Hello!
	// answered: 200 ok
}
