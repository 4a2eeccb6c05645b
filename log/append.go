package log

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// Append appends recs as consecutive entries and returns their seqs. It
// returns once they are as durable as Options.Durability asks.
//
// One call is atomic: all of its records or none of them are in the log,
// for readers in any process and after a crash at any point (the records
// are marked as one batch; readers yield none of them before the last is
// on disk, and Open cuts a batch whose last record is missing). When
// writing or syncing fails (a full disk, an I/O error), Append cuts what it
// wrote, returns the error and the log goes on; if it cannot undo the write,
// every later call fails until the log is reopened, whose Open cuts it.
//
// Every payload must be non-empty and at most Options.MaxRecordSize bytes,
// the call's records at most Options.MaxBatchSize bytes as stored (else
// ErrEmpty or ErrTooLarge), and each record's Origin, Author, Via and Scope
// valid (else ErrInvalid); otherwise Append appends nothing. An Append that
// has started writing is not interrupted by ctx.
func (l *Log) Append(ctx context.Context, recs ...Record) ([]Seq, error) {
	return l.append(ctx, recs, l.opts.Durability != SyncNone, l.group)
}

// append is Append, syncing or not, through the group committer if set.
func (l *Log) append(ctx context.Context, recs []Record, sync bool, group *committer) ([]Seq, error) {
	if err := l.check(recs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if group != nil {
		return group.append(recs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	first, err := l.commitAt([][]Record{recs}, 0, time.Now(), sync)
	if err != nil {
		return nil, err
	}
	return seqRange(first, len(recs)), nil
}

func seqRange(first Seq, n int) []Seq {
	seqs := make([]Seq, n)
	for i := range seqs {
		seqs[i] = first + Seq(i)
	}
	return seqs
}

func (l *Log) check(recs []Record) error {
	if len(recs) == 0 {
		return fmt.Errorf("append: %w: no records", ErrEmpty)
	}
	size := 0
	for i := range recs {
		r := &recs[i]
		bad := func(err error, format string, args ...any) error {
			return fmt.Errorf("append: record %d of %d: %w: %s", i+1, len(recs), err, fmt.Sprintf(format, args...))
		}
		if len(r.Payload) == 0 {
			return bad(ErrEmpty, "payload is empty")
		}
		if len(r.Payload) > l.opts.MaxRecordSize {
			return bad(ErrTooLarge, "%d bytes, limit %d", len(r.Payload), l.opts.MaxRecordSize)
		}
		if r.Origin != Local && r.Origin != Remote {
			return bad(ErrInvalid, "unknown origin %d", r.Origin)
		}
		if why := r.Author.invalid(); why != "" {
			return bad(ErrInvalid, "author %s", why)
		}
		if why := r.Via.invalid(); why != "" {
			return bad(ErrInvalid, "via %s", why)
		}
		switch {
		case r.Author.Node == l.node && !r.Author.IsZero():
			return bad(ErrInvalid, "the author is this log's own node %s: an entry of ours coming back must not be appended again", l.node)
		case !r.Via.IsZero() && r.Author.IsZero():
			return bad(ErrInvalid, "via %s without an author", r.Via)
		case !r.Via.IsZero() && r.Via.Node == r.Author.Node:
			return bad(ErrInvalid, "via is the author's node: leave Via zero for an entry pulled from its author")
		case !r.Via.IsZero() && r.Via.Node == l.node:
			return bad(ErrInvalid, "via is this log's own node")
		}
		if err := CheckScope(r.Scope); err != nil {
			return bad(ErrInvalid, "%v", err)
		}
		size += frameLen(recordLen(r))
	}
	if size > l.opts.MaxBatchSize {
		return fmt.Errorf("append: %w: %d records take %d bytes, limit %d per call (Options.MaxBatchSize)", ErrTooLarge, len(recs), size, l.opts.MaxBatchSize)
	}
	return nil
}

// tailState is where the tail of the log was before a write: what a failed
// write is cut back to.
type tailState struct {
	last  Seq
	first Seq // of the tail segment
	size  int // of the tail segment
}

// commit writes calls (each one Append's records) as one write, syncs it as
// Options.Durability asks, publishes it and moves the durable mark. On
// failure it cuts what it wrote. It returns the seq of the first record.
// extra is added to every record's flags (flagLost). mu must be held.
func (l *Log) commit(calls [][]Record, extra byte) (Seq, error) {
	return l.commitAt(calls, extra, time.Now(), l.opts.Durability != SyncNone)
}

// commitAt is commit with the append time at; sync says whether to fsync
// (and move the durable mark) before publishing.
func (l *Log) commitAt(calls [][]Record, extra byte, at time.Time, sync bool) (Seq, error) {
	if l.closed {
		return 0, ErrClosed
	}
	if l.broken != nil {
		return 0, fmt.Errorf("append: log unusable after an earlier write error, reopen it: %w", l.broken)
	}
	pre := tailState{last: Seq(l.last.Load()), first: l.tailFirst, size: l.tailSize}
	n, err := l.write(calls, extra, at)
	if err == nil && sync {
		if err = l.w.Sync(); err != nil {
			err = fmt.Errorf("sync: %w", err)
		}
	}
	if err != nil {
		return 0, l.rollback(pre, err)
	}
	last := pre.last + Seq(n)
	l.publish(last)
	if sync {
		// The entries are durable, and so is everything written before
		// them (an fsync covers the whole tail segment; tidwall/wal syncs
		// a segment before it starts the next): the mark may cover them.
		// It is not
		// fsynced here (it may lag); a failure is reported by Close.
		if err := l.head.set(last, false); err != nil {
			l.headErr = err
		}
	}
	return pre.last + 1, nil
}

// write frames the records of calls and writes them to the tail segment,
// without syncing the segment. It returns how many records it wrote. mu
// must be held.
func (l *Log) write(calls [][]Record, extra byte, now time.Time) (int, error) {
	next := Seq(l.last.Load()) + 1
	t := now.UnixNano()
	l.batch.Clear()
	cycled := l.tailSize > l.opts.SegmentSize
	if cycled {
		l.tailSize, l.tailFirst = 0, next
	}
	n := 0
	for _, recs := range calls {
		for i := range recs {
			flags := extra
			if i < len(recs)-1 {
				flags |= flagMore
			}
			l.buf = appendRecord(l.buf[:0], next, t, &recs[i], flags)
			l.batch.Write(uint64(next), l.buf)
			next++
			n++
			// Mirror tidwall/wal's writeBatch: it starts a new segment as
			// soon as the tail reaches SegmentSize, in the middle of a
			// batch too, without syncing the directory.
			l.tailSize += frameLen(len(l.buf))
			l.tailLastLen = frameLen(len(l.buf))
			if l.tailSize >= l.opts.SegmentSize {
				cycled = true
				l.tailSize, l.tailFirst = 0, next
			}
		}
	}
	if err := l.w.WriteBatch(&l.batch); err != nil {
		return 0, err
	}
	if cycled && l.opts.Durability != SyncNone {
		if err := fsutil.SyncDir(l.dir); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// rollback cuts a failed write off: it closes tidwall/wal (whose memory no
// longer matches the files), cuts the tail segment back to its size before
// the write, removes segments the write started, and reopens. It returns
// the error to report for the failed call; if the log cannot be brought
// back, it is marked broken. mu must be held.
func (l *Log) rollback(pre tailState, cause error) error {
	l.rollbacks.Add(1)
	l.tailLastLen = 0 // not known after the cut: Close records no clean state
	l.w.Close()       // it may fail (and keep a descriptor): the files are what matter
	l.w = nil
	err := l.cutBack(pre)
	if err == nil {
		err = l.openWAL()
	}
	if err == nil && Seq(l.last.Load()) != pre.last {
		err = fmt.Errorf("the log ends at seq %d after the cut, want %d", l.last.Load(), pre.last)
		l.w.Close()
		l.w = nil
	}
	if err != nil {
		l.broken = fmt.Errorf("%w; undoing it failed: %w", cause, err)
		return fmt.Errorf("append: %w (the log could not undo the partial write and refuses appends until it is reopened; Open will cut it)", l.broken)
	}
	l.last.Store(uint64(pre.last))
	return fmt.Errorf("append: %w (nothing of this call was kept)", cause)
}

// cutBack restores the tail segment files to pre.
func (l *Log) cutBack(pre tailState) error {
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s.first > pre.first {
			if err := os.Remove(s.path); err != nil {
				return fmt.Errorf("remove segment: %w", err)
			}
		}
	}
	if err := truncateSync(segmentPath(l.dir, pre.first), int64(pre.size)); err != nil {
		return err
	}
	return fsutil.SyncDir(l.dir)
}

func segmentPath(dir string, first Seq) string { return filepath.Join(dir, segmentName(first)) }

// publish makes entries up to last visible to Last, Iter and Wait.
func (l *Log) publish(last Seq) {
	l.last.Store(uint64(last))
	l.notifyMu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.notifyMu.Unlock()
}

// lostChunk is how many placeholders fillLost writes per commit.
const lostChunk = 4096

// fillLost appends a placeholder for each seq of a loss Open accepted, so
// that those seqs are never handed out again, and makes them durable.
func (l *Log) fillLost(loss *Loss) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	placeholder := []Record{{}}
	for next := loss.From; next <= loss.To; {
		k := int(min(Seq(lostChunk), loss.To-next+1))
		calls := make([][]Record, k)
		for i := range calls {
			calls[i] = placeholder
		}
		if _, err := l.commit(calls, flagLost); err != nil {
			return fmt.Errorf("keep lost seqs %d..%d: %w", loss.From, loss.To, err)
		}
		next += Seq(k)
	}
	return l.syncAll()
}
