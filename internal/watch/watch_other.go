//go:build !linux

package watch

import "errors"

// Watch is only implemented on Linux (inotify); elsewhere Open fails and
// callers only poll.
type Watch struct{}

// Open fails: watching is not supported on this system.
func Open(path string) (*Watch, error) {
	return nil, errors.New("watch " + path + ": not supported on this system")
}

// Changed returns nil: a channel never closed.
func (w *Watch) Changed() <-chan struct{} { return nil }

// Close does nothing.
func (w *Watch) Close() {}
