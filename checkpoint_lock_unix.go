//go:build unix

package amojo

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f without waiting; errLocked when
// another open file holds it. The lock goes with the file's closing, or the
// process's end.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLocked
		}
		return err
	}
}

// renameOpenFile: a file can be replaced by a rename while open here.
const renameOpenFile = true

// openNoFollow makes opening the checkpoint fail on a symbolic link.
const openNoFollow = syscall.O_NOFOLLOW
