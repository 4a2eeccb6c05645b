package watch

import (
	"context"
	"sync"
	"time"
)

// Waiter is the waiting half of a log source (log.Reader, offset.Log):
// its poll interval, whether it also watches, and the watch of its path,
// set up by the first Wait and ended by Close. Its methods are safe for
// concurrent use.
type Waiter struct {
	path string
	def  time.Duration // the poll interval SetPollInterval(0) restores

	mu      sync.Mutex
	poll    time.Duration
	noWatch bool   // SetWatch(false)
	w       *Watch // nil while only polling
	done    bool   // the first Wait has tried to set up w, or Close ran
}

// NewWaiter returns a Waiter for path (a file or a directory) that polls
// every def and watches, until told otherwise.
func NewWaiter(path string, def time.Duration) *Waiter {
	return &Waiter{path: path, def: def, poll: def}
}

// SetPollInterval sets how often Wait checks; d <= 0 means the default.
func (s *Waiter) SetPollInterval(d time.Duration) {
	if d <= 0 {
		d = s.def
	}
	s.mu.Lock()
	s.poll = d
	s.mu.Unlock()
}

// SetWatch chooses whether Wait also wakes on the watch's notices.
func (s *Waiter) SetWatch(on bool) {
	s.mu.Lock()
	s.noWatch = !on
	s.mu.Unlock()
}

// Watching reports whether Wait wakes on a watch: false before the first
// Wait, with SetWatch(false), and where watching is not available.
func (s *Waiter) Watching() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w != nil && !s.noWatch
}

// Wait calls check until it reports done or fails (see Poll). The first
// call sets up the watch; when that fails, Wait only polls.
func (s *Waiter) Wait(ctx context.Context, check func() (done bool, err error)) error {
	s.mu.Lock()
	if !s.done && !s.noWatch {
		s.done = true
		s.w, _ = Open(s.path)
	}
	w, poll := s.w, s.poll
	if s.noWatch {
		w = nil
	}
	s.mu.Unlock()
	return Poll(ctx, w, poll, check)
}

// Close ends the watch. It is idempotent; a Wait after it only polls.
func (s *Waiter) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
}
