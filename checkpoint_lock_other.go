//go:build !unix

package amojo

import "os"

// lockFile does nothing here: two runs sharing one checkpoint file are not
// detected on this system.
func lockFile(*os.File) error { return nil }

// renameOpenFile: an open file cannot be replaced by a rename here.
const renameOpenFile = false

// openNoFollow makes opening the checkpoint fail on a symbolic link (not available here: the link is refused before opening).
const openNoFollow = 0
