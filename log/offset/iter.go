package offset

import (
	"fmt"

	"github.com/sluicedb/sluice/log"
)

// Iter returns an iterator over the frames with seq >= from that are not
// deleted, in seq order; from 0 or 1 means from the start. It starts from
// the nearest frame the log already knows (walking the headers of the
// frames before from if need be), so starting in the middle costs far less
// than reading everything.
//
// Payloads point into buffers the iterator never reuses: they stay valid
// after Next and Close, but one kept payload keeps its whole read chunk (a
// few megabytes) in memory; copy payloads kept for long.
func (l *Log) Iter(from log.Seq) (log.Iterator, error) {
	from = max(from, 1)
	size, err := l.size()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	known := l.next
	l.mu.Unlock()
	if from > known {
		// Errors surface again, with their seq, from Next.
		known, _ = l.walk(size, from)
	}
	w, err := l.width(size)
	if err != nil {
		return nil, err
	}
	seq, off := l.start(from)
	return &iterator{
		l:     l,
		sc:    scanner{r: l.f, path: l.path, w: w, payload: true, seq: seq, off: off},
		from:  from,
		size:  size,
		known: known,
	}, nil
}

// iterator is the log.Iterator of a Log.
type iterator struct {
	l     *Log
	sc    scanner
	from  log.Seq // frames before from are skipped
	size  int64   // file size last seen
	known log.Seq // the log's frontier as last seen
	cur   log.Entry
	err   error
	done  bool // closed
}

// Next advances to the next frame that is not deleted. At the end of the
// file (or before a torn last frame) it returns false with Err nil; a later
// call returns the frames appended since.
func (it *iterator) Next() bool {
	if it.done || it.err != nil {
		return false
	}
	if it.l.closed.Load() {
		it.err = fmt.Errorf("read flumelog %q: %w", it.l.path, log.ErrClosed)
		return false
	}
	restated := false
	for {
		f, ok, err := it.frame()
		if err != nil {
			it.err = err
			it.report()
			return false
		}
		if !ok {
			it.report()
			if restated {
				return false
			}
			size, err := it.l.size()
			if err != nil {
				it.err = err
				return false
			}
			if size == it.size {
				return false
			}
			it.size, restated = size, true
			continue
		}
		if f.seq >= it.known && indexed(f.seq+1) {
			it.known = it.l.advance(f.seq+1, it.sc.off)
		}
		if f.seq < it.from || f.deleted {
			continue
		}
		it.cur = log.Entry{Seq: f.seq, Origin: log.Remote, Payload: f.payload}
		return true
	}
}

// frame returns the next frame of the file as last seen, detecting the
// trailer width first if the file held no complete frame before.
func (it *iterator) frame() (frame, bool, error) {
	if it.sc.w == 0 {
		w, err := it.l.width(it.size)
		if err != nil || w == 0 {
			return frame{}, false, err
		}
		it.sc.w = w
	}
	return it.sc.next(it.size)
}

// report pushes the log's frontier to where the iterator stands.
func (it *iterator) report() {
	if it.sc.w != 0 && it.sc.seq > it.known {
		it.known = it.l.advance(it.sc.seq, it.sc.off)
	}
}

// Entry returns the current entry: Origin log.Remote, Time zero, Payload
// the frame's payload, unchanged.
func (it *iterator) Entry() log.Entry { return it.cur }

// Err returns the error that stopped Next: a *log.CorruptError for a
// damaged frame, a *FormatError for a file that turned out not to be a
// flumelog, an error matching log.ErrClosed after Log.Close.
func (it *iterator) Err() error { return it.err }

// Close releases the iterator's buffer. It is idempotent.
func (it *iterator) Close() error {
	if !it.done {
		it.done = true
		it.report()
		it.sc.buf = nil
	}
	return nil
}

// Position implements log.Positioner: the seq of the last frame passed,
// deleted frames included, so an indexer reading this iterator knows it has
// covered them.
func (it *iterator) Position() log.Seq {
	if it.sc.w == 0 || it.sc.seq == 0 {
		return it.from - 1
	}
	return max(it.sc.seq-1, it.from-1)
}
