//go:build !linux

package log

import "errors"

// dirWatch is only implemented on Linux (inotify); elsewhere a Reader
// polls.
type dirWatch struct{}

func watchDir(dir string) (*dirWatch, error) {
	return nil, errors.New("watch " + dir + ": not supported on this system")
}

func (w *dirWatch) changed() <-chan struct{} { return nil }

func (w *dirWatch) close() {}
