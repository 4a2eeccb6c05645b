package fsutil

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// ErrLocked is returned by Lock when another open file description (another
// process, or another Open in this one) holds the lock.
var ErrLocked = errors.New("locked")

// FileLock is an exclusive advisory lock (flock) on a file. The lock is
// released by Unlock or when the process exits, also by kill -9.
type FileLock struct {
	f *os.File
}

// Lock takes an exclusive lock on path, creating the file if needed. It does
// not wait: if the lock is held elsewhere it returns an error wrapping
// ErrLocked.
func Lock(path string) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// lockPoll is how often LockWait tries the lock again.
const lockPoll = 5 * time.Millisecond

// LockWait is Lock, but when another holder has the lock it tries again
// every few milliseconds for up to wait before it gives up with an error
// wrapping ErrLocked. wait <= 0 means not waiting at all. waiting, if not
// nil, is called once when the first try finds the lock held.
func LockWait(path string, wait time.Duration, waiting func()) (*FileLock, error) {
	deadline := time.Now().Add(wait)
	for try := 0; ; try++ {
		l, err := Lock(path)
		if err == nil || !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			return l, err
		}
		if try == 0 && waiting != nil {
			waiting()
		}
		time.Sleep(min(lockPoll, time.Until(deadline)))
	}
}

// Unlock releases the lock. It is idempotent.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
