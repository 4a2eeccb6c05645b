package index

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// work is what the reader hands a file's writer: a decoded backlog batch,
// or the news that the log has been read to its end.
type work struct {
	b        *view.Batch
	caughtUp bool
}

// pipe connects the reader and the tail watcher to one file's writer.
type pipe struct {
	f       *view.File
	backlog chan work
	ahead   chan *view.Batch
	local   bool           // the file has a view that accepts local entries ahead
	phase   *atomic.Int32  // the file's Phase, for Progress
	pause   chan *pauseReq // Transact asks the writer to hand the file over
	done    chan struct{}  // closed when the writer has returned
}

// pauseReq asks a writer to commit and leave its file alone until resume is
// closed; it answers on paused (the commit's error; a writer that fails
// returns).
type pauseReq struct {
	paused chan error
	resume chan struct{}
}

func (ix *Indexer) run(ctx context.Context, until log.Seq, follow bool) error {
	if !ix.running.CompareAndSwap(false, true) {
		return errors.New("index: Run or SynchronizeUpTo is already running")
	}
	defer ix.running.Store(false)
	ix.setFailed(nil)
	var delay time.Duration
	for {
		err := ix.runOnce(ctx, until, follow)
		switch {
		case ctx.Err() != nil:
		case follow && sqlite.IsFull(err):
			delay = min(max(2*delay, fullRetryMin), fullRetryMax)
			ix.opts.Logger.Warn(fmt.Sprintf("index: the disk is full; retrying in %s", delay), "err", err)
			if err = ix.waitFull(ctx, delay); err == nil {
				continue
			}
		case sqlite.IsBusy(err):
			// Another connection (the sqlite3 shell, a backup) holds a
			// view file's lock: SQLite waited its busy timeout for it.
			// Not a failure: say so, and try again.
			ix.opts.Logger.Warn(fmt.Sprintf("index: a view file is locked by another connection; waited %s, retrying", sqlite.BusyTimeout), "err", err)
			if err = ix.waitFull(ctx, busyRetry); err == nil {
				continue
			}
		}
		if err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			ix.setFailed(err)
		}
		ix.broadcast()
		return err
	}
}

// How long Run waits before it retries after a full disk: doubling from
// fullRetryMin up to fullRetryMax. After a busy view file (SQLite has
// waited sqlite.BusyTimeout already), busyRetry.
const (
	fullRetryMin = time.Second
	fullRetryMax = 30 * time.Second
	busyRetry    = 100 * time.Millisecond
)

// waitFull waits d (or until ctx ends) and recovers the files that failed.
// A full disk or a busy file while recovering is not an error: Run tries
// again later.
func (ix *Indexer) waitFull(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	for _, f := range ix.files {
		if err := f.Recover(); err != nil && !sqlite.IsFull(err) && !sqlite.IsBusy(err) {
			return fmt.Errorf("index: %w", err)
		}
	}
	return nil
}

// setFailed records why the run stopped (see Err).
func (ix *Indexer) setFailed(err error) {
	ix.notifyMu.Lock()
	ix.failed = err
	ix.notifyMu.Unlock()
}

func (ix *Indexer) runOnce(ctx context.Context, until log.Seq, follow bool) error {
	ix.started.Store(time.Now().UnixNano())
	ix.entries.Store(0)
	ix.bytes.Store(0)
	ix.lastLocalN.Store(0)

	// Where new entries start: taken before anything else, so that local
	// entries appended as Run starts go ahead of the backlog.
	last, err := ix.src.Last()
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	newFrom := last
	if ix.fromNew {
		newFrom, ix.fromNew = min(ix.newFrom, last), false
	}
	pipes, from, err := ix.setUp(last)
	if err != nil {
		return err
	}
	// From here Transact pauses the writers to use the files; once they
	// have returned, it uses the files itself.
	defer func() {
		ix.txMu.Lock()
		ix.pipes = nil
		ix.txMu.Unlock()
	}()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var frontier frontier
	frontier.set(from - 1)
	var writers, others sync.WaitGroup
	for _, p := range pipes {
		writers.Add(1)
		go func() {
			defer writers.Done()
			defer close(p.done)
			if err := ix.write(ctx, p); err != nil {
				cancel(err)
			}
		}()
	}
	others.Add(1)
	go func() {
		defer others.Done()
		err := ix.read(ctx, from, until, follow, pipes, &frontier)
		for _, p := range pipes {
			close(p.backlog)
		}
		if err != nil {
			cancel(err)
		}
	}()
	if !ix.opts.NoPriority {
		tailCtx, stopTail := context.WithCancel(ctx)
		defer stopTail()
		others.Add(1)
		go func() {
			defer others.Done()
			if err := ix.tail(tailCtx, newFrom, pipes, &frontier); err != nil && tailCtx.Err() == nil {
				cancel(err)
			}
		}()
		writers.Wait()
		stopTail()
	} else {
		writers.Wait()
	}
	others.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// frontier is how far the reader has got: the highest seq it has read.
// The tail watcher only hurries local entries beyond the reader's next
// batch (see tail).
type frontier struct {
	seq atomic.Uint64
}

func (fr *frontier) set(s log.Seq) { fr.seq.Store(uint64(s)) }

func (fr *frontier) get() log.Seq { return log.Seq(fr.seq.Load()) }

// read reads the log from seq from in batches, decodes each batch for every
// file and hands it to the files' writers. It stops once it has read up to
// until, or, when following, when ctx ends.
func (ix *Indexer) read(ctx context.Context, from, until log.Seq, follow bool, pipes []*pipe, fr *frontier) error {
	it, err := ix.src.Iter(from)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer it.Close()
	pos := from - 1
	caughtUp := log.Seq(0)
	var stall stall
	hint := 0 // the last batch's length: the next one's likely size
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		es, size, err := ix.readBatch(it, hint)
		if err != nil {
			return err
		}
		hint = len(es)
		atEnd := len(es) < ix.opts.BatchSize && size < ix.opts.BatchBytes
		newPos := position(it, es, pos)
		if err := stall.check(ctx, newPos > pos); err != nil {
			return err
		}
		if newPos > pos {
			ix.entries.Add(int64(len(es)))
			ix.bytes.Add(int64(size))
			fr.set(newPos)
			for _, p := range pipes {
				b := &view.Batch{Entries: es, From: pos + 1, To: newPos}
				p.f.Decode(b)
				if err := send(ctx, p.backlog, work{b: b}); err != nil {
					return err
				}
			}
			// Let a goroutine woken meanwhile (the tail watcher's poll) run
			// now, not after Go's 10 ms time slice, when this one and the
			// writer keep every P busy.
			runtime.Gosched()
			pos = newPos
		}
		if !atEnd {
			if follow || pos < until {
				continue
			}
			// Done; the batch may have ended exactly at the log's end.
			if last, err := ix.src.Last(); err != nil || pos < last {
				return err
			}
		}
		if follow && pos < ix.expected() {
			// More is on its way (Expect): not caught up yet.
			if err := ix.waitExpected(ctx, pos); err != nil {
				return err
			}
			continue
		}
		if caughtUp != pos || pos == 0 {
			caughtUp = pos
			for _, p := range pipes {
				if err := send(ctx, p.backlog, work{caughtUp: true}); err != nil {
					return err
				}
			}
		}
		if !follow && pos >= until {
			return nil
		}
		if _, err := ix.src.Wait(ctx, pos); err != nil {
			return err
		}
		stall.waited()
	}
}

// readBatch reads the next batch of entries: up to BatchSize entries and
// BatchBytes of payload. It returns them and their payload bytes. hint is
// the batch's likely length (the last one's): a follower reading one entry
// at a time then allocates a small slice, not BatchSize entries cleared
// for each (6% of the CPU of 100 devices following a server).
func (ix *Indexer) readBatch(it log.Iterator, hint int) ([]log.Entry, int, error) {
	es := make([]log.Entry, 0, min(ix.opts.BatchSize, 4096, max(hint, 16)))
	size := 0
	for len(es) < ix.opts.BatchSize && size < ix.opts.BatchBytes && it.Next() {
		e := it.Entry()
		es = append(es, e)
		size += len(e.Payload)
	}
	if err := it.Err(); err != nil {
		return nil, 0, fmt.Errorf("read log: %w", err)
	}
	return es, size, nil
}

// position returns how far an iterator has read: its Position if it has
// one, else the seq of the last entry read.
func position(it log.Iterator, es []log.Entry, prev log.Seq) log.Seq {
	if p, ok := it.(log.Positioner); ok {
		return max(p.Position(), prev)
	}
	if len(es) > 0 {
		return es[len(es)-1].Seq
	}
	return prev
}

func send[T any](ctx context.Context, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// tail watches the log for entries appended after seen and hands the local
// ones beyond the reader's next batch to the files' writers, ahead of the
// backlog.
func (ix *Indexer) tail(ctx context.Context, seen log.Seq, pipes []*pipe, fr *frontier) error {
	wanted := false
	for _, p := range pipes {
		wanted = wanted || p.local
	}
	if !wanted {
		return nil
	}
	it, err := ix.src.Iter(seen + 1)
	if err != nil {
		return fmt.Errorf("watch log: %w", err)
	}
	defer it.Close()
	var stall stall
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		var local []log.Entry
		full := false
		moved := false
		for it.Next() {
			moved = true
			e := it.Entry()
			// Only an entry the reader's next batch will not reach: one
			// it will reach is applied as soon by the reader, and
			// handing it over too would cost a second commit, and could
			// show it before an earlier entry that batch holds.
			if e.Origin == log.Local && e.Seq > fr.get()+log.Seq(ix.opts.BatchSize) {
				local = append(local, e)
				if len(local) >= ix.opts.BatchSize {
					full = true
					break
				}
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("watch log: %w", err)
		}
		if err := stall.check(ctx, moved); err != nil {
			return err
		}
		seen = position(it, nil, seen)
		if len(local) > 0 {
			for _, p := range pipes {
				if p.local {
					if err := send(ctx, p.ahead, &view.Batch{Entries: local, Ahead: true}); err != nil {
						return err
					}
				}
			}
		}
		if full {
			continue
		}
		if _, err := ix.src.Wait(ctx, seen); err != nil {
			return err
		}
		stall.waited()
	}
}

// write applies a file's batches: local entries first, as long as the
// backlog keeps its share of the time. Backlog batches share a transaction
// (up to TxEntries entries or TxAge) while more backlog is queued; it is
// committed as soon as local entries wait or the queue runs dry, and kept
// small while local entries keep coming, so that committing it before them
// is quick. Once the log is read to its end, the secondary indexes are
// built one per transaction, with local entries applied between them.
func (ix *Indexer) write(ctx context.Context, p *pipe) error {
	var aheadTime, backlogTime time.Duration
	var txEntries int
	var txStart, lastAhead, leftBulk time.Time
	building := false // the log was read to its end: build indexes, then leave bulk mode
	share := ix.opts.BacklogShare
	commit := func() error {
		if !p.f.Pending() {
			return nil
		}
		if err := p.f.Commit(); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		txEntries = 0
		ix.broadcast()
		return nil
	}
	applyAhead := func(b *view.Batch) error {
		// Into the open transaction, if any: one commit for both.
		lastAhead = time.Now()
		if err := ix.applyAhead(ctx, p, b, &aheadTime); err != nil {
			return err
		}
		txEntries = 0
		return nil
	}
	for {
		ahead := p.ahead
		if len(p.backlog) > 0 && aheadTime.Seconds()*share > backlogTime.Seconds()*(1-share) {
			ahead = nil // the backlog's turn
		}
		txLimit := ix.opts.TxEntries
		if time.Since(lastAhead) < localActive {
			txLimit = min(txLimit, 2*ix.opts.BatchSize)
		}
		if len(p.backlog) == 0 || txEntries >= txLimit || (txEntries > 0 && time.Since(txStart) >= ix.opts.TxAge) {
			if err := commit(); err != nil {
				return err
			}
		}
		// Prefer a waiting local batch, or a Transact, over the next
		// backlog batch.
		select {
		case b := <-ahead:
			if err := applyAhead(b); err != nil {
				return err
			}
			continue
		case req := <-p.pause:
			if err := ix.hold(ctx, req, commit); err != nil {
				return err
			}
			continue
		default:
		}
		if building && len(p.backlog) == 0 {
			p.phase.Store(int32(PhaseIndexes)) // the backlog is committed
			start := time.Now()
			more, err := p.f.BuildIndexStep()
			if err != nil {
				return fmt.Errorf("index %s: %w", p.f.Path(), err)
			}
			if !more {
				if err := p.f.SetBulk(false); err != nil {
					return fmt.Errorf("index %s: %w", p.f.Path(), err)
				}
				building = false
				leftBulk = time.Now()
				p.phase.Store(int32(PhaseCaughtUp))
			}
			backlogTime += time.Since(start)
			ix.broadcast()
			continue
		}
		// Idle after a bulk catch-up, or busy since long enough: sync what
		// it wrote (see view.File.Settle).
		var settle <-chan time.Time
		if p.f.Unsettled() && !p.f.Bulk() {
			wait := settleAfter
			if !leftBulk.IsZero() {
				wait = max(0, min(wait, ix.opts.SettleWithin-time.Since(leftBulk)))
			}
			settle = time.After(wait)
		}
		select {
		case <-settle:
			// Commit what is staged here, with its broadcast: Settle
			// would commit it without telling the waiters.
			if err := commit(); err != nil {
				return err
			}
			if err := p.f.Settle(); err != nil {
				return fmt.Errorf("index %s: %w", p.f.Path(), err)
			}
		case b := <-ahead:
			if err := applyAhead(b); err != nil {
				return err
			}
		case req := <-p.pause:
			if err := ix.hold(ctx, req, commit); err != nil {
				return err
			}
		case w, ok := <-p.backlog:
			if !ok {
				return commit()
			}
			if w.caughtUp {
				building = p.f.IndexesPending() || p.f.Bulk()
				if !building {
					p.phase.Store(int32(PhaseCaughtUp))
				}
				continue
			}
			start := time.Now()
			if txEntries == 0 {
				txStart = start
			}
			// While local entries come, the batch goes in parts, and one
			// that arrives meanwhile waits for a part, not the batch.
			parts := []*view.Batch{w.b}
			if p.local && time.Since(lastAhead) < localActive {
				parts = w.b.Split(localPart)
			}
			for i, part := range parts {
				if i > 0 {
					select {
					case b := <-ahead:
						if err := applyAhead(b); err != nil {
							return err
						}
						txStart = time.Now()
					default:
					}
				}
				if err := p.f.Stage(ctx, part); err != nil {
					return fmt.Errorf("index: %w", err)
				}
				txEntries += len(part.Entries)
			}
			backlogTime += time.Since(start)
		case <-ctx.Done():
			return commit()
		}
	}
}

// settleAfter is how long the writer waits, idle, before syncing what a
// bulk catch-up wrote.
const settleAfter = 2 * time.Second

// localPart is how many backlog entries the writer stages at a time while
// local entries come (see localActive).
const localPart = 250

// localActive is how long after applying local entries the writer keeps
// its transactions small, expecting more.
const localActive = time.Second

func (ix *Indexer) applyAhead(ctx context.Context, p *pipe, b *view.Batch, spent *time.Duration) error {
	start := time.Now()
	if err := p.f.Apply(ctx, b); err != nil {
		return fmt.Errorf("index: local entries: %w", err)
	}
	*spent += time.Since(start)
	ix.lastLocalN.Add(int64(len(b.Entries)))
	ix.broadcast()
	return nil
}
