package view

import (
	"context"
	"fmt"

	"github.com/sluicedb/sluice/log"
)

// CheckTask is a task a server is about to accept, as the views' checks see
// it (see Checker).
type CheckTask struct {
	ID    string     // the task's id, unique per device
	Kind  string     // what it asks for, e.g. "reaction.add"
	Queue string     // the queue it came in
	Node  log.NodeID // the device that sent it
	Scope string     // the scope of its user, e.g. "user:7777"
	// Payload is the task's payload, usually JSON.
	Payload []byte
}

// Checker is implemented by Writers that judge tasks before a server
// accepts them, such as the -- sluice:check sections of SQL views. Check
// reads the view's tables as they are in the open transaction — with every
// batch staged so far — and returns why the task must be rejected, or ""
// to let it pass. It must not write. It runs on the goroutine that applies
// batches, between them.
type Checker interface {
	Check(ctx context.Context, t CheckTask) (reason string, err error)
}

// Check asks every view of the file whose writer is a Checker, in order,
// whether task t may be accepted, and returns the first reason to reject
// it ("" if none has one). The views see what is staged but not
// committed. An error is the database's or the check's own, not a
// rejection: the caller should not accept the task then. Like Apply, it
// must not run concurrently with other methods but Status, Applied,
// MinSince and Err.
func (f *File) Check(ctx context.Context, t CheckTask) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	for _, vs := range f.views {
		c, ok := vs.w.(Checker)
		if !ok {
			continue
		}
		var reason string
		err := f.as(vs, false, func() error {
			var err error
			reason, err = c.Check(ctx, t)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("check task %q (%s) in view %q of %s: %w", t.ID, t.Kind, vs.v.Name(), f.path, err)
		}
		if reason != "" {
			return reason, nil
		}
	}
	return "", nil
}

// HasChecks reports whether a view of the file is a Checker: whether Check
// can reject anything. Like Check, it must not run concurrently with other
// methods but Status, Applied, MinSince and Err.
func (f *File) HasChecks() bool {
	for _, vs := range f.views {
		if _, ok := vs.w.(Checker); ok {
			return true
		}
	}
	return false
}
