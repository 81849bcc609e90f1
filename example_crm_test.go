package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/amojo-go/amojo"
)

// ExampleCRMClient_LinkChat links a chat created with the chats API to a
// contact, as in the import walk-through. The test server stands in for
// https://{subdomain}.amocrm.ru and answers what amoCRM answered there.
func ExampleCRMClient_LinkChat() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v4/contacts/chats" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/hal+json")
		fmt.Fprint(w, `{"_total_items":1,"_embedded":{"chats":[{"chat_id":"6cbab3d5-c4c1-46ff-b710-ad59ad10805f","contact_id":3102959,"id":26219,"request_id":"0"}]}}`)
	}))
	defer srv.Close()

	crm, err := amojo.NewCRMClient(srv.URL, amojo.StaticToken("long-lived-token"))
	if err != nil {
		log.Fatal(err)
	}
	link, err := crm.LinkChat(context.Background(), "6cbab3d5-c4c1-46ff-b710-ad59ad10805f", 3102959)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chat %s linked to contact %d (link %d)\n", link.ChatID, link.ContactID, link.ID)
	// Output:
	// chat 6cbab3d5-c4c1-46ff-b710-ad59ad10805f linked to contact 3102959 (link 26219)
}

// ExampleCRMClient_CreateContacts creates a contact with a phone and an e-mail
// and shows how a rejected contact is reported.
func ExampleCRMClient_CreateContacts() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"validation-errors":[{"request_id":"1","errors":[{"code":"InvalidType","path":"custom_fields_values.0.values.0.value","detail":"This value should be a valid phone."}]}],"title":"Bad Request","type":"https://httpstatus.es/400","status":400,"detail":"Request validation failed"}`)
	}))
	defer srv.Close()

	crm, err := amojo.NewCRMClient(srv.URL, amojo.StaticToken("long-lived-token"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = crm.CreateContacts(context.Background(), []amojo.NewContact{
		{FirstName: "Jack", LastName: "Tester", Phones: []amojo.ContactPhone{{Value: "+79151112233", Enum: amojo.PhoneMobile}}},
		{Name: "Example Client", Phones: []amojo.ContactPhone{{Value: "call me"}}, Emails: []amojo.ContactEmail{{Value: "client@example.com"}}},
	})
	var batch *amojo.BatchError
	if errors.As(err, &batch) {
		fmt.Println("rejected contacts:", batch.Failed)
	}
	var apiErr *amojo.APIError
	if errors.As(err, &apiErr) {
		for _, item := range apiErr.ValidationErrors {
			for _, fe := range item.Errors {
				fmt.Printf("contact %s: %s: %s\n", item.RequestID, fe.Path, fe.Detail)
			}
		}
	}
	// Output:
	// rejected contacts: [1]
	// contact 1: custom_fields_values.0.values.0.value: This value should be a valid phone.
}

// oauthToken and oauthTokenSource stand for golang.org/x/oauth2's Token and
// TokenSource, so that this example needs no extra module.
type oauthToken struct{ AccessToken string }

type oauthTokenSource interface{ Token() (*oauthToken, error) }

// ExampleTokenFunc adapts an OAuth token source (such as one from
// golang.org/x/oauth2, which refreshes the access token when it expires).
func ExampleTokenFunc() {
	var oauth oauthTokenSource // conf.TokenSource(ctx, tok) in a real program

	tokens := amojo.TokenFunc(func(ctx context.Context) (string, error) {
		t, err := oauth.Token()
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	})
	crm, err := amojo.NewCRMClient("https://example.amocrm.ru", tokens)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(crm)
	// Output:
	// amojo.CRMClient{base: https://example.amocrm.ru}
}
