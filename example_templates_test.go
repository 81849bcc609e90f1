package amojo_test

import (
	"context"
	"fmt"
	"log"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
)

// A WhatsApp template goes through Meta's review: the integration adds it,
// sends it to review (one review per WABA number), submits it to Meta and
// reports Meta's decision back, since no webhook does.
func ExampleCRMClient_SendChatTemplateForReview() {
	fake := amojotest.NewServer()
	defer fake.Close()
	crm := fake.CRMClient()
	ctx := context.Background()

	if _, err := crm.AddSource(ctx, amojo.NewSource{Name: "Sales", ExternalID: "wa-79990001122",
		Services: []amojo.SourceService{{Type: amojo.ServiceWhatsApp, WABA: true}}}); err != nil {
		log.Fatal(err)
	}
	tpl, err := crm.AddChatTemplate(ctx, amojo.NewChatTemplate{
		Name:           "Order ready",
		Content:        "Hello {{contact.name}}, your order is ready.",
		Type:           amojo.TemplateWABA,
		ExternalID:     "tpl-order-ready",
		WABACategory:   amojo.CategoryUtility,
		WABALanguage:   "en",
		WABAHeader:     "Order update",
		WABAHeaderType: amojo.HeaderText,
		WABAFooter:     "Reply STOP to opt out",
		WABAExamples:   map[string]string{"{{contact.name}}": "Anna"},
		Buttons:        []amojo.TemplateButton{{Type: amojo.ButtonURL, Text: "Track", URL: "https://example.com/track"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("template %d %q, review %q\n", tpl.ID, tpl.Name, tpl.ReviewStatus)

	reviews, err := crm.SendChatTemplateForReview(ctx, tpl.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range reviews {
		fmt.Printf("review %d for source %d: %s\n", r.ID, r.SourceID, r.Status)
		// … submit the template to Meta for that number, then:
		if _, err := crm.SetChatTemplateReviewStatus(ctx, tpl.ID, r.ID, amojo.ReviewDecision{Status: amojo.ReviewApproved}); err != nil {
			log.Fatal(err)
		}
	}
	got, err := crm.GetChatTemplate(ctx, tpl.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("review %q, on review %v\n", got.ReviewStatus, got.OnReview)
	// Output:
	// template 9101 "Order ready", review ""
	// review 4401 for source 700101: review
	// review "approved", on review false
}
