package index

import (
	"context"
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// setUp prepares a run, holding txMu so that no Transact uses the files
// meanwhile: it checks the views against the log (rebuilding those built
// from another log), makes one pipe per file and publishes them for
// Transact to pause. It returns the pipes and the seq reading starts at.
func (ix *Indexer) setUp(last log.Seq) ([]*pipe, log.Seq, error) {
	ix.txMu.Lock()
	defer ix.txMu.Unlock()
	if err := ix.validate(); err != nil {
		return nil, 0, err
	}
	from := ix.minSince() + 1
	pipes := make([]*pipe, len(ix.files))
	for i, f := range ix.files {
		ix.phases[i].Store(int32(PhaseBacklog))
		pipes[i] = &pipe{f: f, phase: &ix.phases[i], backlog: make(chan work, 2), ahead: make(chan *view.Batch, 64),
			pause: make(chan *pauseReq), done: make(chan struct{})}
		for _, st := range f.Status() {
			pipes[i].local = pipes[i].local || st.LocalAhead
		}
		if lag := int64(max(last, ix.expected())) - int64(f.MinSince()); ix.opts.BulkLag >= 0 && lag > int64(ix.opts.BulkLag) {
			if err := f.SetBulk(true); err != nil {
				return nil, 0, fmt.Errorf("index: %w", err)
			}
		}
	}
	ix.pipes = pipes
	return pipes, from, nil
}

// pause asks every running writer to commit and hand its file over, and
// returns the function that gives the files back. A writer that has
// returned (its run is ending) needs no asking. txMu must be held.
func (ix *Indexer) pause(ctx context.Context) (resume func(), err error) {
	var held []*pauseReq
	resume = func() {
		for _, r := range held {
			close(r.resume)
		}
	}
	for _, p := range ix.pipes {
		req := &pauseReq{paused: make(chan error, 1), resume: make(chan struct{})}
		select {
		case p.pause <- req:
		case <-p.done:
			continue
		case <-ctx.Done():
			resume()
			return nil, context.Cause(ctx)
		}
		held = append(held, req)
		select {
		case <-req.paused:
		case <-p.done:
		case <-ctx.Done():
			resume() // the writer resumes as soon as it has paused
			return nil, context.Cause(ctx)
		}
	}
	return resume, nil
}

// hold is a writer's side of pause: it commits what it staged, says so,
// and waits until the Transact is done with the file. If its run ends
// meanwhile it returns ctx's cause, and the writer returns without
// touching the file again.
func (ix *Indexer) hold(ctx context.Context, req *pauseReq, commit func() error) error {
	err := commit()
	req.paused <- err
	if err != nil {
		return err
	}
	select {
	case <-req.resume:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
