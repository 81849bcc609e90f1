// Package importer imports conversations that already happened (a
// customer's past chats from another system) into amoCRM without creating
// incoming leads, following amoCRM's import walk-through. It is built on the
// clients of package amojo: an [amojo.Client] for the chats API and an
// [amojo.CRMClient] for the REST API.
//
// An [Importer] (see [New]) connects the channel, creates each chat, creates
// or reuses its contact and links them, sends the messages silently in time
// order and reads the history back to check that all arrived.
// [Importer.ImportConversation] imports one [Conversation];
// [Importer.ImportAll] streams many, a bounded number at once, reporting
// [Progress]; [Importer.ImportFile] imports a JSON Lines file, starting its
// longest conversations first. docs/importer.md explains how an import
// keeps close to the fastest the API allows.
//
// [ReadConversation] and [ReadConversations] read conversations from JSON and
// JSON Lines (the format is documented on [Conversation]; invalid input is a
// [*ConversationError] naming the conversation, the message and the JSON
// path). Imports are idempotent and, with a [Checkpoint] such as
// [NewFileCheckpoint], resumable after a crash or Ctrl-C without losing or
// duplicating a message. A Checkpoint that is also a [Claimer], such as
// package pgstore's, is shared by importers on several machines: each
// conversation is claimed by one of them at a time. examples/import-conversation
// is the program.
package importer
