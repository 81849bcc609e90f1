//go:build unix

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// Lock takes an exclusive lock on f without waiting; ErrLocked when
// another open file holds it. The lock goes with the file's closing, or the
// process's end.
func Lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrLocked
		}
		return err
	}
}

// RenameOpenFile reports that a file can be replaced by a rename while open
// here.
const RenameOpenFile = true

// OpenNoFollow is the os.OpenFile flag that makes opening a symbolic link
// fail.
const OpenNoFollow = syscall.O_NOFOLLOW
