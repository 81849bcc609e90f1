// Package filelock locks the files of the SDK's file-backed stores (the
// token file, the webhook inbox file, the importer's checkpoint file), so
// two processes never write one at the same time.
package filelock

import "errors"

// ErrLocked reports a file whose lock another open file holds.
var ErrLocked = errors.New("locked")
