//go:build !unix

package filelock

import "os"

// Lock does nothing here: two processes sharing one file are not detected
// on this system.
func Lock(*os.File) error { return nil }

// RenameOpenFile reports that an open file cannot be replaced by a rename
// here.
const RenameOpenFile = false

// OpenNoFollow would make opening a symbolic link fail; it is not available
// here, so callers refuse a link before opening.
const OpenNoFollow = 0
