// Package watch wakes a waiter when a file, or a file in a directory, is
// written to (inotify, on Linux), and polls as well: Poll is the loop that
// log.Reader.Wait and offset.Log.Wait share.
package watch

import (
	"context"
	"time"
)

// Poll calls check until it reports done or fails, again every poll
// interval and whenever w reports a change (w nil: only the poll). It
// returns ctx.Err() when ctx ends first. A change between a check and the
// sleep after it still wakes the sleep.
func Poll(ctx context.Context, w *Watch, every time.Duration, check func() (done bool, err error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		changed := w.Changed() // taken before the check
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
