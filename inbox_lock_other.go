//go:build !unix

package amojo

import "os"

// lockWait does nothing here: a FileInbox is shared by one process only.
func lockWait(*os.File) error { return nil }

// unlock does nothing here.
func unlock(*os.File) error { return nil }
