package index

import (
	"context"
	"time"
)

// stall keeps a loop that reads a source from spinning when the source's
// Wait says it holds entries its iterator does not yield (a log whose
// segments overlap, or a reader that sees a record's length before the
// record): after such a Wait, the loop backs off, from 200 µs doubling to
// 100 ms, until the iterator yields again. Every backoff ends with ctx.
type stall struct {
	afterWait bool          // Wait returned since the last read
	delay     time.Duration // the next backoff
}

const (
	stallMin = 200 * time.Microsecond
	stallMax = 100 * time.Millisecond
)

// waited records that Wait returned: the source says it has more.
func (s *stall) waited() { s.afterWait = true }

// check is called after each read: moved reports whether it yielded
// anything. A read that yielded nothing right after Wait backs off.
func (s *stall) check(ctx context.Context, moved bool) error {
	after := s.afterWait
	s.afterWait = false
	if moved || !after {
		s.delay = 0
		return nil
	}
	s.delay = min(max(2*s.delay, stallMin), stallMax)
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
