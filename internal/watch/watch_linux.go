package watch

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Watch tells when a file, or a file in a directory, was written to or
// created, through one inotify instance. Its methods are safe for
// concurrent use, and a nil *Watch is one that never reports a change.
//
// One instance should serve every waiter: closing one makes the kernel
// wait for an RCU grace period (milliseconds), which an instance per wait
// would add to every wake-up.
type Watch struct {
	f    *os.File      // the inotify instance
	done chan struct{} // closed once run has returned

	mu sync.Mutex
	ch chan struct{} // closed, and replaced, when events arrive
}

// Open starts watching path, a file or a directory. It fails when inotify
// cannot be used, for example when the user's limit of inotify instances
// is reached; callers then only poll.
func Open(path string) (*Watch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, os.NewSyscallError("inotify_init1", err))
	}
	// A non-blocking fd makes a pollable File: Read waits in Go's poller,
	// and Close ends a Read in progress.
	f := os.NewFile(uintptr(fd), "inotify")
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		f.Close()
		return nil, fmt.Errorf("watch %s: %w", path, os.NewSyscallError("inotify_add_watch", err))
	}
	w := &Watch{f: f, done: make(chan struct{}), ch: make(chan struct{})}
	go w.run()
	return w, nil
}

// run wakes the waiters on every read of events: what the events say does
// not matter, only that something changed.
func (w *Watch) run() {
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

// Changed returns a channel closed at the next change after this call
// (nil, never closed, for a nil Watch).
func (w *Watch) Changed() <-chan struct{} {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// Close stops watching; a channel taken from Changed before is closed. It
// must be called once.
func (w *Watch) Close() {
	w.f.Close()
	<-w.done
}
