package amojo_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// A WhatsApp channel with two numbers gets a source per number; chats then
// name their number's source, and "write first" comes back with it.
func ExampleCRMClient_AddSources() {
	fake := amojotest.NewServer()
	defer fake.Close()
	crm := fake.CRMClient()
	ctx := context.Background()

	number := func(name, phone string) amojo.NewSource {
		return amojo.NewSource{
			Name:       name,
			ExternalID: "wa-" + phone, // at most 36 printable ASCII characters
			OriginCode: amojotest.DefaultChannelCode,
			Services: []amojo.SourceService{{
				Type: amojo.ServiceWhatsApp, WABA: true,
				Pages: []amojo.SourcePage{{ID: phone, Name: name, Link: "+" + phone}},
			}},
		}
	}
	sales := number("Sales", "79990001122")
	sales.Default = true
	added, err := crm.AddSources(ctx, []amojo.NewSource{sales, number("Support", "79990003344")})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range added {
		fmt.Printf("%d %s %s default=%v\n", s.ID, s.ExternalID, s.Name, s.Default)
	}

	// An external id is unique per integration: the fake names the item.
	_, err = crm.AddSources(ctx, []amojo.NewSource{number("Support again", "79990003344")})
	var apiErr *amojo.APIError
	if errors.As(err, &apiErr) {
		fe := apiErr.ValidationErrors[0].Errors[0]
		fmt.Printf("refused: %s: %s\n", fe.Path, fe.Detail)
	}

	// Make Support the default; Sales stops being it.
	yes := true
	if _, err := crm.UpdateSource(ctx, added[1].ID, amojo.SourceUpdate{Default: &yes}); err != nil {
		log.Fatal(err)
	}
	found, err := crm.Sources(ctx, amojo.SourceFilter{ExternalIDs: []string{"wa-79990001122"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s default=%v\n", found[0].Name, found[0].Default)

	// A chat of the Sales number names its source.
	req := amojo.CreateChatRequest{ConversationID: "chat-1", Source: &amojo.Source{ExternalID: found[0].ExternalID},
		User: amojo.Participant{ID: "client-1", Name: "Anna"}}
	fmt.Println("create chat request valid:", req.Validate() == nil)
	// Output:
	// 700101 wa-79990001122 Sales default=true
	// 700102 wa-79990003344 Support default=false
	// refused: external_id: This value is already used.
	// Sales default=false
	// create chat request valid: true
}
