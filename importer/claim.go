package importer

import (
	"context"
	"errors"
)

// Claimer is implemented by a Checkpoint that several importers share (in
// several processes, on several machines), such as the one of package
// pgstore. The importer then claims each conversation before its first
// request and releases it once the conversation is over (done, failed or
// interrupted), so that two importers never import the same conversation at
// the same time.
//
// A conversation another importer holds is left to it: it is neither
// imported nor failed, but counted in Progress.ConversationsClaimedElsewhere,
// and ImportAll's error wraps ErrClaimed (when nothing failed) so that a run
// that did not import everything it read never looks complete. Running the
// same input again once the other importer is done finds those
// conversations done. A claim lost while the conversation is imported (its
// holder stalled or lost the database, and another importer took it over)
// makes Record fail with an error wrapping ErrClaimed, and the conversation
// is left to the new holder the same way.
type Claimer interface {
	// Claim reserves the conversation for the caller until Release. It
	// fails with an error wrapping ErrClaimed when another importer holds
	// it, or the caller itself does (a conversation is claimed once at a
	// time); any other error stops the run, as a failed checkpoint does.
	Claim(ctx context.Context, conversationID string) error
	// Release ends a claim of the caller. An error is only logged: a claim
	// that could not be released ends by itself (how is up to the
	// Claimer: pgstore's claims are leases that expire).
	Release(ctx context.Context, conversationID string) error
}

// ErrClaimed reports a conversation that another importer is importing (see
// Claimer). A *ConversationError wraps it, naming the conversation.
var ErrClaimed = errors.New("amojo: the conversation is being imported by another importer")
