package log

import (
	"context"
	"fmt"
	"time"
)

// AppendFunc appends the records fn returns, holding the log's appends from
// before fn is called until they are written: no other entry comes between
// the log's last entry when fn starts (seq next-1) and fn's records, which
// get the seqs next, next+1, … and the append time at (Entry.Time). So fn
// may compute its records from the log as it stands — for example apply
// them to views caught up to next-1 — and know the entries they will be.
//
// The records are one Append: atomic, checked like Append's (nothing is
// appended if one is invalid) and as durable as Options.Durability asks
// when AppendFunc returns. If fn returns an error, or no records, nothing
// is appended and AppendFunc returns fn's error and no seqs.
//
// fn runs holding the log's write lock: it must not call this log's
// Append, AppendFunc, Get, Iter, Mark, Sync or Close, which wait for it;
// Last, Node and the Next of an iterator opened before are fine. Every
// appender waits while fn runs, so keep it short.
func (l *Log) AppendFunc(ctx context.Context, fn func(next Seq, at time.Time) ([]Record, error)) ([]Seq, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.broken != nil {
		return nil, fmt.Errorf("append: log unusable after an earlier write error, reopen it: %w", l.broken)
	}
	at := time.Now()
	recs, err := fn(Seq(l.last.Load())+1, at)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	if err := l.check(recs); err != nil {
		return nil, err
	}
	first, err := l.commitAt([][]Record{recs}, 0, at, l.opts.Durability != SyncNone)
	if err != nil {
		return nil, err
	}
	return seqRange(first, len(recs)), nil
}
