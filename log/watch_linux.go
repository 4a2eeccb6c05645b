package log

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// dirWatch tells when files in a directory were written to or created,
// through one inotify instance. One instance serves every waiter: closing
// one makes the kernel wait for an RCU grace period (milliseconds), which
// an instance per Wait would add to every wake-up.
type dirWatch struct {
	f    *os.File      // the inotify instance
	done chan struct{} // closed once run has returned

	mu sync.Mutex
	ch chan struct{} // closed, and replaced, when events arrive
}

// watchDir starts watching dir. It fails when inotify cannot be used, for
// example when the user's limit of inotify instances is reached.
func watchDir(dir string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, os.NewSyscallError("inotify_init1", err))
	}
	// A non-blocking fd makes a pollable File: Read waits in Go's poller,
	// and Close ends a Read in progress.
	f := os.NewFile(uintptr(fd), "inotify")
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		f.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, os.NewSyscallError("inotify_add_watch", err))
	}
	w := &dirWatch{f: f, done: make(chan struct{}), ch: make(chan struct{})}
	go w.run()
	return w, nil
}

// run wakes the waiters on every read of events: what the events say does
// not matter, only that something changed.
func (w *dirWatch) run() {
	defer close(w.done)
	buf := make([]byte, 4096)
	for {
		_, err := w.f.Read(buf)
		w.mu.Lock()
		close(w.ch)
		w.ch = make(chan struct{})
		w.mu.Unlock()
		if err != nil {
			return // closed
		}
	}
}

// changed returns a channel closed at the next change after this call.
func (w *dirWatch) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// close stops watching; a channel taken from changed before is closed.
func (w *dirWatch) close() {
	w.f.Close()
	<-w.done
}
