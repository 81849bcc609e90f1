package amojotest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// The fake checks every signature as amoCRM does; here a request signed
// with amojo.SignRequest creates a chat.
func ExampleNewServer() {
	srv := amojotest.NewServer()
	defer srv.Close()

	scope, err := srv.Connect(amojotest.DefaultChannelID, amojotest.DefaultAccountID)
	if err != nil {
		panic(err)
	}
	body := []byte(`{"conversation_id":"conv-1","user":{"id":"client-1","name":"Client"}}`)
	req, _ := http.NewRequest("POST", srv.URL+"/v2/origin/custom/"+scope+"/chats", bytes.NewReader(body))
	amojo.SignRequest(req, body, amojotest.DefaultChannelSecret, time.Now())
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	chat, _ := srv.ChatByConversation(scope, "conv-1")
	fmt.Println(chat.Client.ClientID, chat.Client.Name)

	// A wrong secret is refused.
	req, _ = http.NewRequest("POST", srv.URL+"/v2/origin/custom/"+scope+"/chats", bytes.NewReader(body))
	amojo.SignRequest(req, body, "not-the-secret", time.Now())
	resp, err = srv.HTTPClient().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
	// client-1 Client
	// 403
}
