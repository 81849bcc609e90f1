//go:build unix

package amojo

import (
	"errors"
	"os"
	"syscall"
)

// lockWait takes an exclusive lock on f, waiting for it.
func lockWait(f *os.File) error {
	return flock(f, syscall.LOCK_EX)
}

// unlock releases the lock lockWait took.
func unlock(f *os.File) error {
	return flock(f, syscall.LOCK_UN)
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
