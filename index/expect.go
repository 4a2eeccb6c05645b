package index

import (
	"context"
	"errors"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Expect tells the indexer that the log is going to grow to seq soon: a
// pull from a peer is appending a backlog (package replicate). A Run or
// SynchronizeUpTo that starts while seq is ahead of the log starts in bulk
// mode as if the log were already there, and until the log reaches seq a
// Run that reaches the end of the log does not take it for catching up: a
// view file catching up stays in bulk mode and its secondary indexes are
// not built yet. So indexing runs while the backlog arrives, instead of
// after it, at the speed of a catch-up. Expect(0) says nothing more is
// coming: call it when the pull ends, also when it delivered less than it
// announced. Local entries go first meanwhile, as always. Safe to call
// from any goroutine at any time.
func (ix *Indexer) Expect(seq log.Seq) {
	ix.expect.Store(uint64(seq))
}

func (ix *Indexer) expected() log.Seq { return log.Seq(ix.expect.Load()) }

// expectPoll bounds how long Run's reader waits for the log to grow while
// entries are expected, before it looks whether Expect changed.
const expectPoll = 20 * time.Millisecond

// waitExpected waits for an entry after pos, for at most expectPoll.
func (ix *Indexer) waitExpected(ctx context.Context, pos log.Seq) error {
	wctx, cancel := context.WithTimeout(ctx, expectPoll)
	defer cancel()
	_, err := ix.src.Wait(wctx, pos)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
