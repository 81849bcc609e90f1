package importer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// ExampleNew imports the conversation of amoCRM's walk-through into a fake
// account, twice, with a file checkpoint: the second run finds everything
// done. Against a real account, make the clients with amojo.NewClient and
// amojo.NewCRMClient instead.
func ExampleNew() {
	srv := amojotest.NewServer()
	defer srv.Close()
	ctx := context.Background()

	f, err := os.Open("testdata/conversations/seed.json")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	conv, err := importer.ReadConversation(f)
	if err != nil {
		log.Fatal(err) // names the conversation, message and field
	}

	dir, err := os.MkdirTemp("", "amojo-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cp, err := importer.NewFileCheckpoint(filepath.Join(dir, "import.checkpoint"))
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()

	im, err := importer.New(srv.Client(), srv.CRMClient(), importer.WithCheckpoint(cp))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		res, err := im.ImportConversation(ctx, conv)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("sent %d, skipped %d, contact created: %v, already done: %v\n", res.Sent, res.Skipped, res.ContactCreated, res.AlreadyDone)
	}
	// Output:
	// sent 2, skipped 0, contact created: true, already done: false
	// sent 0, skipped 2, contact created: false, already done: true
}

// ExampleReadConversations streams conversations from JSON Lines, one per
// line; a bad line is reported with its number and reading goes on.
func ExampleReadConversations() {
	input := `{"conversation_id":"c-1","client":{"id":"u-1","name":"Ann"},"messages":[{"msgid":"m-1","time":"2024-05-01T10:00:00Z","from":"client","message":{"type":"text","text":"Hi"}}]}
{"conversation_id":"c-2","client":{"id":"u-2","name":"Bob"},"messages":[{"msgid":"m-2","time":"2024-05-01T10:00:00Z","from":"client","message":{"type":"picture","media":"https://example.com/a.png"}}]}
`
	for conv, err := range importer.ReadConversations(strings.NewReader(input)) {
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(conv.ID, len(conv.Messages), "message(s)")
	}
	// Output:
	// c-1 1 message(s)
	// amojo: conversation "c-2" (line 2), message "m-2": invalid messages[0].message.file_name: required for picture, file and video messages
}
