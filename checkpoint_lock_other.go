//go:build !unix

package amojo

import "os"

// lockFile does nothing here: two runs sharing one checkpoint file are not
// detected on this system.
func lockFile(*os.File) error { return nil }

// renameOpenFile: an open file cannot be replaced by a rename here.
const renameOpenFile = false
