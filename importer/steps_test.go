package importer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/amojotest"
	"github.com/amojo-go/amojo/importer"
)

// routes returns the routes of the requests the server received since the
// last reset, in order.
func routes(srv *amojotest.Server) string {
	var out []string
	for _, r := range srv.Requests() {
		out = append(out, string(r.Route))
	}
	return strings.Join(out, " ")
}

// TestImportWithCheckpointSendsWithoutReadingFirst: with a checkpoint, a
// conversation it does not know is new to the import: its messages go
// without a history read first (amoCRM refuses any it has already, see
// TestImportWithCheckpointFindsDuplicatesBySending); the history is read
// once, at the end, to check.
func TestImportWithCheckpointSendsWithoutReadingFirst(t *testing.T) {
	t.Parallel()
	srv, im := importSetup(t, nil, importer.WithCheckpoint(importer.NewMemoryCheckpoint()))
	res, err := im.ImportConversation(t.Context(), readSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := "account connect create_chat list_links contacts link_chats message message history"; routes(srv) != want {
		t.Errorf("requests\n got %s\nwant %s", routes(srv), want)
	}
	if res.Sent != 2 || res.HistoryCount != 2 {
		t.Errorf("result %+v", res)
	}
}

// TestImportWithCheckpointFindsDuplicatesBySending: a conversation an
// earlier run imported without this checkpoint is found out by amoCRM's
// refusal of its first message: one history read then shows every message
// amoCRM has, none is sent again, and that read is the final check too.
func TestImportWithCheckpointFindsDuplicatesBySending(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	convs := manyConversations(t, 1, 5)
	if _, err := newImporter(t, srv, nil).ImportAll(t.Context(), importer.ConversationsOf(convs)); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	im := newImporter(t, srv, nil, importer.WithCheckpoint(importer.NewMemoryCheckpoint()))
	res, err := im.ImportConversation(t.Context(), convs[0])
	if err != nil {
		t.Fatal(err)
	}
	// The contact is found linked to the chat: none is created.
	if want := "account connect create_chat list_links message history"; routes(srv) != want {
		t.Errorf("requests\n got %s\nwant %s", routes(srv), want)
	}
	if res.Sent != 0 || res.Skipped != 5 || res.HistoryCount != 5 || res.ContactCreated {
		t.Errorf("result %+v", res)
	}
	checkImported(t, srv, convs)
}

// lostRecord is a checkpoint that fails to record one msgid, as a kill
// right after amoCRM accepted the message and before the checkpoint was
// written would leave it.
type lostRecord struct {
	importer.Checkpoint
	msgID string
}

func (c lostRecord) Record(ctx context.Context, id string, e importer.CheckpointEntry) error {
	if e.MsgID == c.msgID {
		return errors.New("killed")
	}
	return c.Checkpoint.Record(ctx, id, e)
}

// TestImportResumesWithoutReadingFirst: a conversation interrupted half
// way resumes after the last message its checkpoint lists, reading the
// history only when amoCRM refuses one it has (sent, but not recorded
// before the interruption), and sends the rest once each, in order.
func TestImportResumesWithoutReadingFirst(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := importer.NewMemoryCheckpoint()
	conv := manyConversations(t, 1, 5)[0]
	conv.Contact = nil
	im := newImporter(t, srv, nil, importer.WithCheckpoint(lostRecord{cp, "conv-0-m-2"}))
	if _, err := im.ImportConversation(t.Context(), conv); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("err = %v", err)
	}
	if st, _ := cp.Load(t.Context(), conv.ID); len(st.Sent) != 2 {
		t.Fatalf("state %+v", st)
	}
	srv.ResetRequests()
	res, err := newImporter(t, srv, nil, importer.WithCheckpoint(cp)).ImportConversation(t.Context(), conv)
	if err != nil {
		t.Fatal(err)
	}
	// m-2 is refused as a duplicate, found in the history; m-3 and m-4
	// are sent; the history is read again to check.
	if want := "account connect message history message message history"; routes(srv) != want {
		t.Errorf("requests\n got %s\nwant %s", routes(srv), want)
	}
	if res.Sent != 2 || res.Skipped != 3 || res.HistoryCount != 5 {
		t.Errorf("result %+v", res)
	}
	checkImported(t, srv, []*importer.Conversation{conv})
}

// TestImportGrownConversationReadsFirst: a conversation the checkpoint has
// finished keeps only a digest of its msgids; when it gained messages, the
// history is read first, so only the new ones are sent.
func TestImportGrownConversationReadsFirst(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cp := importer.NewMemoryCheckpoint()
	im := newImporter(t, srv, nil, importer.WithCheckpoint(cp))
	conv := manyConversations(t, 1, 3)[0]
	if _, err := im.ImportConversation(t.Context(), conv); err != nil {
		t.Fatal(err)
	}
	conv.Messages = append(conv.Messages, importer.ConversationMessage{MsgID: "conv-0-m-3", Time: conv.Messages[2].Time.Add(time.Minute),
		From: importer.FromClient, Content: amojo.Text{Text: "one more"}})
	srv.ResetRequests()
	res, err := im.ImportConversation(t.Context(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "history message history"; routes(srv) != want {
		t.Errorf("requests\n got %s\nwant %s", routes(srv), want)
	}
	if res.Sent != 1 || res.Skipped != 3 || res.HistoryCount != 4 {
		t.Errorf("result %+v", res)
	}
	checkImported(t, srv, []*importer.Conversation{conv})
}
