package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// chunkSize is how much of a segment an iterator reads at a time.
const chunkSize = 4 << 20

// iter reads entries straight from the segment files. It never takes the
// writer's lock: segments are append-only, and a record is only yielded
// once it is complete and checksummed (and, for the writer's own Log, once
// Append has published it).
type iter struct {
	dir   string
	limit func() Seq // highest seq that may be yielded; nil: whatever is valid on disk
	from  Seq
	next  Seq // the seq the next record must hold

	seg    segment  // current segment; path "" until the first Next
	f      *os.File // open current segment
	bufOff int64    // file offset of buf[0]
	buf    []byte   // data read from f; never reused once entries point into it
	pos    int      // position of the next frame in buf
	cur    Entry
	err    error
	closed bool

	// refetched is the file offset of a damaged frame already re-read from
	// disk once (a reader may hold stale bytes after a writer's repair).
	refetched int64
	// listedMod and listedAt are the directory's modification time when
	// checkGap last listed it, and when (a reader's check for a gap).
	listedMod, listedAt time.Time

	seek *seekIndex // shared with the other iterators of the log; may be nil
}

func newIter(dir string, from Seq, limit func() Seq, seek *seekIndex) *iter {
	if from == 0 {
		from = 1
	}
	return &iter{dir: dir, from: from, limit: limit, seek: seek, refetched: -1}
}

// Next implements Iterator.
func (it *iter) Next() bool {
	if it.err != nil || it.closed {
		return false
	}
	for {
		if it.limit != nil && it.next != 0 && it.next > it.limit() {
			return false
		}
		if it.seg.path == "" {
			ok, err := it.openFirst()
			if err != nil || !ok {
				it.err = err
				return false
			}
		}
		rec, n, st := readFrame(it.buf[it.pos:])
		if st == frameOK {
			e, why := decodeRecord(rec)
			if why == "" && e.Seq != it.next {
				why = fmt.Sprintf("record holds seq %d", e.Seq)
			}
			if why != "" {
				if it.damaged(why) {
					return false
				}
				continue
			}
			it.seek.note(e.Seq, it.seg.path, it.bufOff+int64(it.pos))
			it.pos += n
			it.next++
			if e.Seq < it.from {
				continue
			}
			it.cur = e
			return true
		}
		if st == frameBad {
			if it.damaged("invalid frame length") {
				return false
			}
			continue
		}
		// frameTorn: need more bytes.
		more, err := it.fill()
		if err != nil {
			it.err = err
			return false
		}
		if more {
			continue
		}
		if it.limit == nil && len(it.buf) > it.pos {
			// A frame runs past the end of the file: the writer's
			// unfinished append or a torn tail, unless valid records
			// follow it.
			if it.damaged("frame runs past the end of the segment") {
				return false
			}
			continue
		}
		// Nothing more in this segment. The writer moves on to a new
		// segment only after finishing this one.
		moved, err := it.nextSegment()
		if err != nil {
			it.err = err
			return false
		}
		if !moved {
			if it.limit != nil && it.next <= it.limit() {
				// Append publishes a seq only after writing it.
				it.err = it.corrupt(fmt.Sprintf("the log ends before seq %d, which was appended", it.next))
			}
			return false
		}
	}
}

// openFirst opens the segment holding from. It reports false (and no
// error) when the log has no such entry yet.
func (it *iter) openFirst() (bool, error) {
	segs, err := listSegments(it.dir)
	if err != nil {
		return false, err
	}
	if len(segs) == 0 {
		return false, nil
	}
	i := findSegment(segs, it.from)
	if err := it.open(segs[i]); err != nil {
		return false, err
	}
	if m, ok := it.seek.near(it.from, segs[i].path); ok {
		it.next, it.bufOff = m.seq, m.off
	}
	return true, nil
}

func (it *iter) open(s segment) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	if it.f != nil {
		it.f.Close()
	}
	it.f, it.seg, it.next = f, s, s.first
	it.buf, it.pos, it.bufOff = nil, 0, 0
	return nil
}

// fill reads more of the current segment into a fresh buffer, keeping the
// unparsed bytes. It reports whether any new byte arrived.
func (it *iter) fill() (bool, error) {
	rest := it.buf[it.pos:]
	off := it.bufOff + int64(it.pos)
	// Look at the size first: a follower polls here, and must not pay for
	// a buffer when nothing was appended.
	fi, err := it.f.Stat()
	if err != nil {
		return false, fmt.Errorf("read log %s: %w", it.seg.path, err)
	}
	avail := fi.Size() - off - int64(len(rest))
	if avail <= 0 {
		return false, nil
	}
	need := chunkSize
	if size, k := uvarint(rest); k > 0 && int(size)+k > need {
		need = int(size) + k
	}
	need = int(min(int64(need), int64(len(rest))+avail))
	buf := make([]byte, need)
	copy(buf, rest)
	n, err := it.f.ReadAt(buf[len(rest):], off+int64(len(rest)))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read log %s: %w", it.seg.path, err)
	}
	if n == 0 {
		return false, nil
	}
	it.buf, it.pos, it.bufOff = buf[:len(rest)+n], 0, off
	return true, nil
}

// nextSegment moves to the segment after the current one if it exists: the
// writer names it after the seq of its first entry, the one this iterator
// needs next (a stat, not a directory listing: followers poll here). A
// segment that ends in the middle of a frame, with another one after it,
// is corrupt. It reports whether there is more to read.
func (it *iter) nextSegment() (bool, error) {
	if it.seg.first == it.next {
		// The current segment is still empty (a new log, or the writer
		// has just moved to it): it is the one named after it.next.
		return it.checkGap()
	}
	path := filepath.Join(it.dir, fmt.Sprintf("%020d", uint64(it.next)))
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return it.checkGap()
		}
		return false, fmt.Errorf("read log: %w", err)
	}
	if leftover := len(it.buf) - it.pos; leftover > 0 {
		return false, it.corrupt(fmt.Sprintf("segment ends inside a frame (%d bytes) and another segment follows", leftover))
	}
	return true, it.open(segment{path: path, first: it.next})
}

// checkGap is for a Reader at the end of a segment with no segment named
// after the seq it needs next: the end of the log, unless a later segment
// exists — then this one lost its last records, and the seqs have a gap.
// (The writer's own iterators check the end against the seqs appended.)
// It lists the directory only when its modification time changed, or a
// second has passed (coarse timestamps), since the last listing: followers
// poll here.
func (it *iter) checkGap() (bool, error) {
	if it.limit != nil {
		return false, nil
	}
	fi, err := os.Stat(it.dir)
	if err != nil {
		return false, fmt.Errorf("read log: %w", err)
	}
	if fi.ModTime().Equal(it.listedMod) && time.Since(it.listedAt) < time.Second {
		return false, nil
	}
	it.listedMod, it.listedAt = fi.ModTime(), time.Now()
	segs, err := listSegments(it.dir)
	if err != nil {
		return false, err
	}
	for _, s := range segs {
		if s.first == it.next {
			return false, nil // made since the stat: the next call opens it
		}
	}
	if len(segs) == 0 || segs[len(segs)-1].first < it.next {
		return false, nil
	}
	// The writer moves on only after finishing a segment: what it wrote
	// to this one since fill looked is still to be read.
	if more, err := it.fill(); err != nil || more {
		return more, err
	}
	return false, it.corrupt(fmt.Sprintf("the segment ends before seq %d and a later segment follows", it.next))
}

// damaged handles a frame that fails its checks. For the writer's own log
// (limit set) everything up to the limit was written whole, so it is
// corruption. A read-only reader may be looking at the writer's unfinished
// tail, or at a torn tail that the next Open will cut: that is the end of
// the log for now, unless valid records follow, which makes it corruption.
// It reports whether Next should stop.
func (it *iter) damaged(why string) bool {
	if it.limit == nil {
		if off := it.bufOff + int64(it.pos); it.refetched != off {
			// Drop what was buffered and read the frame again first.
			it.refetched = off
			it.buf, it.pos, it.bufOff = nil, 0, off
			return false
		}
		rest, err := it.readRest()
		if err != nil {
			it.err = err
			return true
		}
		if resync(rest, 1, it.next) == 0 {
			if later, err := it.laterSegment(); err != nil || !later {
				it.err = err
				return true
			}
		}
	}
	it.err = it.corrupt(why)
	return true
}

// readRest returns the current segment's bytes from the damaged frame on.
func (it *iter) readRest() ([]byte, error) {
	off := it.bufOff + int64(it.pos)
	fi, err := it.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	if fi.Size() <= off {
		return nil, nil
	}
	rest := make([]byte, fi.Size()-off)
	n, err := it.f.ReadAt(rest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read log %s: %w", it.seg.path, err)
	}
	return rest[:n], nil
}

func (it *iter) laterSegment() (bool, error) {
	segs, err := listSegments(it.dir)
	if err != nil {
		return false, err
	}
	return len(segs) > 0 && segs[len(segs)-1].first > it.seg.first, nil
}

func (it *iter) corrupt(why string) error {
	return &CorruptError{Path: it.seg.path, Offset: it.bufOff + int64(it.pos), Seq: it.next, Reason: why}
}

// Entry implements Iterator.
func (it *iter) Entry() Entry { return it.cur }

// Err implements Iterator.
func (it *iter) Err() error { return it.err }

// Close implements Iterator.
func (it *iter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.buf = nil
	if it.f != nil {
		return it.f.Close()
	}
	return nil
}

// Position implements Positioner: the seq of the last record read (or
// skipped below from).
func (it *iter) Position() Seq {
	if it.next == 0 {
		return it.from - 1
	}
	return max(it.next-1, it.from-1)
}
