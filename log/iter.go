package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// chunkSize is how much of a segment an iterator reads at a time.
const chunkSize = 4 << 20

// iter reads entries straight from the segment files. It never takes the
// writer's lock: segments are append-only, and a record is only yielded
// once it is complete and checksummed, and so is the last record of its
// Append (the writer's own iterators also wait until Append has published
// it).
type iter struct {
	dir   string
	node  NodeID // fills in the ID of entries first appended here
	owner *Log   // the writer whose iterator this is; nil for a Reader's
	from  Seq
	next  Seq // the seq the next record must hold; 0 before the first Next
	skip  Seq // records below it are read but not yielded (from, or a rewind)

	seg    segment  // current segment; path "" until the first Next
	f      *os.File // open current segment
	bufOff int64    // file offset of buf[0]
	buf    []byte   // data read from f; never reused once entries point into it
	pos    int      // position of the next frame in buf
	reads  int      // counts the reads into buf
	epoch  uint64   // owner.rollbacks when buf was read

	// pend holds the records of the current Append read so far; none is
	// yielded before its last record is read (done), then yield walks them.
	pend     []pendRec
	pendSize int
	done     bool
	yield    int

	cur    Entry
	raw    []byte // the frame of cur, as stored (see Raw in wire.go)
	passed Seq    // Position
	err    error
	closed bool

	// refreshed is the file offset of a damaged frame re-read from disk
	// (-1 if none), and laterBefore the later segment seen before that
	// re-read; verdict is the damaged tail last found with nothing after
	// it, so that a follower polling it does not read it again.
	refreshed   int64
	laterBefore os.FileInfo
	verdict     tailVerdict

	list listCache

	seek *seekIndex // shared with the other iterators of the log; may be nil

	// beforeRest, if set, is called when damaged is about to read the rest
	// of the segment (tests write there meanwhile, as a writer may).
	beforeRest func()
}

// pendRec is a record read, with where it was read from.
type pendRec struct {
	e     Entry
	lost  bool
	seg   segment
	off   int64
	frame []byte
	read  int // iter.reads when it was read
}

type tailVerdict struct {
	path string
	off  int64
	size int64
	mod  time.Time
}

func newIter(dir string, node NodeID, from Seq, owner *Log, seek *seekIndex) *iter {
	if from == 0 {
		from = 1
	}
	return &iter{dir: dir, node: node, from: from, skip: from, owner: owner, seek: seek, refreshed: -1}
}

// Next implements Iterator.
func (it *iter) Next() bool {
	if it.err != nil || it.closed {
		return false
	}
	for {
		if it.done {
			if it.yield < len(it.pend) {
				p := &it.pend[it.yield]
				it.yield++
				it.seek.note(p.e.Seq, p.seg.path, p.off)
				it.passed = max(it.passed, p.e.Seq)
				if p.lost || p.e.Seq < it.skip {
					continue
				}
				it.cur, it.raw = p.e, p.frame
				return true
			}
			clear(it.pend) // drop references to old buffers
			it.pend, it.pendSize, it.done, it.yield = it.pend[:0], 0, false, 0
		}
		if it.owner != nil {
			if it.next != 0 && it.next > Seq(it.owner.last.Load()) {
				return false
			}
			if e := it.owner.rollbacks.Load(); e != it.epoch {
				// A failed write was cut and may be rewritten: the bytes
				// read past what was parsed may be stale.
				it.epoch = e
				it.buf = it.buf[:it.pos]
			}
		}
		if it.seg.path == "" {
			ok, err := it.openFirst()
			if err != nil || !ok {
				it.err = err
				return false
			}
		}
		rec, n, st := readFrame(it.buf[it.pos:])
		switch st {
		case frameOK:
			e, flags, why := decodeRecord(rec)
			if why == "" && e.Seq != it.next {
				why = fmt.Sprintf("record holds seq %d", e.Seq)
			}
			if why != "" {
				if it.damaged(why) {
					return false
				}
				continue
			}
			it.refreshed = -1
			if e.ID.IsZero() {
				e.ID = ID{Node: it.node, Seq: e.Seq}
			}
			if flags&(flagMore|flagLost) == 0 && len(it.pend) == 0 {
				// A whole Append of one record: no need to hold it.
				it.seek.note(e.Seq, it.seg.path, it.bufOff+int64(it.pos))
				it.raw = it.buf[it.pos : it.pos+n]
				it.pos += n
				it.next++
				it.passed = e.Seq
				if e.Seq < it.skip {
					continue
				}
				it.cur = e
				return true
			}
			it.pend = append(it.pend, pendRec{e: e, lost: flags&flagLost != 0, seg: it.seg,
				off: it.bufOff + int64(it.pos), frame: it.buf[it.pos : it.pos+n], read: it.reads})
			it.pos += n
			it.next++
			it.pendSize += n
			if flags&flagMore == 0 {
				if err := it.batchDone(); err != nil {
					it.err = err
					return false
				}
			} else if it.pendSize > MaxBatchLimit {
				it.err = it.corrupt(fmt.Sprintf("an Append's records run on for over %d bytes without an end (MaxBatchLimit)", MaxBatchLimit))
				return false
			}
		case frameBad:
			if it.damaged("invalid frame length") {
				return false
			}
		default: // frameTorn: need more bytes
			more, err := it.fill()
			if err != nil {
				it.err = err
				return false
			}
			if more {
				continue
			}
			if len(it.buf) > it.pos {
				// A frame runs past the end of the file: the writer's
				// unfinished write or a torn tail.
				if it.damaged("frame runs past the end of the segment") {
					return false
				}
				continue
			}
			moved, err := it.nextSegment()
			if err != nil {
				it.err = err
				return false
			}
			if !moved {
				if it.owner != nil && it.next <= Seq(it.owner.last.Load()) {
					// Append publishes a seq only after writing it, but it
					// may have written and published it since fill looked:
					// look again. Nothing there now is a loss.
					if more, err := it.fill(); err != nil || more {
						it.err = err
						if more {
							continue
						}
						return false
					}
					if moved, err := it.nextSegment(); err != nil || moved {
						it.err = err
						if moved {
							continue
						}
						return false
					}
					it.err = it.corrupt(fmt.Sprintf("the log ends before seq %d, which was appended", it.next))
				}
				return false
			}
		}
	}
}

// batchDone is called when the record just read ends its Append: the
// batch may be yielded. A Reader first checks that the batch's records
// read in earlier reads are still on disk as read: a writer may have cut
// an incomplete batch (after a crash or a failed write) and written others
// in its place. If they are not, it reads them again.
func (it *iter) batchDone() error {
	if it.owner == nil && (it.pend[0].read != it.reads || it.pend[0].seg.path != it.seg.path) {
		same, err := it.pendOnDisk()
		if err != nil {
			return err
		}
		if !same {
			it.rewind(it.pend[0].e.Seq)
			return nil
		}
	}
	it.done, it.yield = true, 0
	return nil
}

// pendOnDisk reports whether the pending records are still on disk as they
// were read. A writer cuts an incomplete Append at its first record and
// writes the next one at the same place, with a new time and checksum: so
// it compares the start of the first record read from each segment, one
// small read per segment.
func (it *iter) pendOnDisk() (bool, error) {
	var b [64]byte
	for i := range it.pend {
		p := &it.pend[i]
		if i > 0 && p.seg.path == it.pend[i-1].seg.path {
			continue
		}
		f, err := os.Open(p.seg.path)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read log: %w", err)
		}
		want := p.frame[:min(len(p.frame), len(b))]
		n, err := f.ReadAt(b[:len(want)], p.off)
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("read log %s: %w", p.seg.path, err)
		}
		if n < len(want) || string(b[:n]) != string(want) {
			return false, nil
		}
	}
	return true, nil
}

// rewind drops what was read from seq on and starts reading again at seq,
// looking up its segment afresh.
func (it *iter) rewind(seq Seq) {
	clear(it.pend)
	it.pend, it.pendSize, it.done, it.yield = it.pend[:0], 0, false, 0
	if it.f != nil {
		it.f.Close()
		it.f = nil
	}
	it.seg, it.buf, it.pos, it.bufOff = segment{}, nil, 0, 0
	it.skip = max(it.skip, seq)
	it.refreshed, it.verdict = -1, tailVerdict{}
}

// openFirst opens the segment holding skip (the first seq wanted). It
// reports false (and no error) when the log has no such entry yet.
func (it *iter) openFirst() (bool, error) {
	segs, err := listSegments(it.dir)
	if err != nil {
		return false, err
	}
	if len(segs) == 0 {
		return false, nil
	}
	if err := checkFirst(segs); err != nil {
		return false, err
	}
	i := findSegment(segs, it.skip)
	if err := it.open(segs[i]); err != nil {
		return false, err
	}
	if m, ok := it.seek.near(it.skip, segs[i].path); ok {
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
	if fi.Size() < off {
		// The segment was cut below what was read: a writer cut an
		// incomplete or failed Append.
		if len(it.pend) > 0 {
			it.rewind(it.pend[0].e.Seq)
			return true, nil
		}
		return false, it.corrupt(fmt.Sprintf("the segment was cut to %d bytes, below the %d this reader had read: entries it yielded were removed", fi.Size(), off))
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
	it.reads++
	return true, nil
}

// nextSegment moves to the segment after the current one if it exists: the
// writer names it after the seq of its first entry, the one this iterator
// needs next (a stat, not a directory listing: followers poll here). The
// writer starts it only once it has finished the current one, so a later
// segment named otherwise means missing seqs, or overlapping segments. It
// reports whether there is more to read.
func (it *iter) nextSegment() (bool, error) {
	if it.seg.first != it.next {
		path := segmentPath(it.dir, it.next)
		if _, err := os.Stat(path); err == nil {
			return true, it.open(segment{path: path, first: it.next})
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("read log: %w", err)
		}
	}
	later, fi, err := it.laterSegment()
	if err != nil || fi == nil {
		return false, err
	}
	if later.first == it.next {
		return true, it.open(later)
	}
	// What the writer wrote to this segment since fill looked is still
	// to be read.
	if more, err := it.fill(); err != nil || more {
		return more, err
	}
	if !it.stillThere(later, fi) {
		return false, nil
	}
	return false, boundaryError(it.seg, it.bufOff+int64(it.pos), it.next-1, later)
}

// listCache is an iterator's last look at the directory for the segment
// after its current one.
type listCache struct {
	mod, at time.Time
	forPath string
	later   segment
	fi      os.FileInfo
}

// laterSegment returns the first segment after the current one, and its
// FileInfo (nil if there is none). It lists the directory only when its
// modification time changed, or a second has passed (coarse timestamps),
// since the last listing: followers poll here.
func (it *iter) laterSegment() (segment, os.FileInfo, error) {
	fi, err := os.Stat(it.dir)
	if err != nil {
		return segment{}, nil, fmt.Errorf("read log: %w", err)
	}
	c := &it.list
	if c.forPath == it.seg.path && fi.ModTime().Equal(c.mod) && time.Since(c.at) < time.Second {
		return c.later, c.fi, nil
	}
	segs, err := listSegments(it.dir)
	if err != nil {
		return segment{}, nil, err
	}
	*c = listCache{mod: fi.ModTime(), at: time.Now(), forPath: it.seg.path}
	for _, s := range segs {
		if s.first > it.seg.first {
			lfi, err := os.Stat(s.path)
			if errors.Is(err, os.ErrNotExist) {
				break // removed since the listing: none for now
			}
			if err != nil {
				return segment{}, nil, fmt.Errorf("read log: %w", err)
			}
			c.later, c.fi = s, lfi
			break
		}
	}
	return c.later, c.fi, nil
}

// stillThere reports whether the later segment seen as fi is still there,
// the same file: then the writer had finished the current segment before
// it was seen (a writer that cuts a failed write removes the segment it
// started).
func (it *iter) stillThere(later segment, fi os.FileInfo) bool {
	now, err := os.Stat(later.path)
	return err == nil && os.SameFile(fi, now)
}

// damaged handles a frame that fails its checks, and reports whether Next
// should stop. For the writer's own log everything up to the published
// seq was written whole, so it is corruption. A Reader may be looking at
// bytes the writer has since completed, cut or rewritten, so it reads them
// again, after looking for a later segment; if they are still damaged it
// is corruption when a later segment existed before the re-read (the
// writer had finished this one) or valid records follow; otherwise it is
// the writer's unfinished write or a torn tail the next Open will cut: the
// end of the log for now.
func (it *iter) damaged(why string) bool {
	if it.owner != nil {
		it.err = it.corrupt(why)
		return true
	}
	off := it.bufOff + int64(it.pos)
	later, lfi, err := it.laterSegment()
	if err != nil {
		it.err = err
		return true
	}
	fi, err := it.f.Stat()
	if err != nil {
		it.err = fmt.Errorf("read log %s: %w", it.seg.path, err)
		return true
	}
	v := tailVerdict{path: it.seg.path, off: off, size: fi.Size(), mod: fi.ModTime()}
	if lfi == nil && v == it.verdict {
		return true // the same damaged tail as last time, nothing after it
	}
	if it.refreshed != off {
		it.refreshed, it.laterBefore = off, lfi
		it.buf, it.pos, it.bufOff = nil, 0, off
		return false
	}
	it.refreshed = -1
	if it.laterBefore != nil && it.stillThere(later, it.laterBefore) {
		it.err = it.corrupt(why + ", and a later segment follows")
		return true
	}
	if it.beforeRest != nil {
		it.beforeRest()
	}
	rest, err := it.readRest()
	if err != nil {
		it.err = err
		return true
	}
	// The writer may have written more since the re-read: judge the frame
	// and what follows it in these bytes alone.
	if rec, _, st := readFrame(rest); st == frameOK {
		if e, _, why := decodeRecord(rec); why == "" && e.Seq == it.next {
			it.buf, it.pos, it.bufOff = rest, 0, off
			it.reads++
			return false
		}
	}
	if s := resync(rest, 1, it.next); s != 0 {
		it.err = it.corrupt(fmt.Sprintf("%s, and a valid record (seq %d) follows", why, s))
		return true
	}
	it.verdict = v
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
	it.buf, it.pend = nil, nil
	if it.f != nil {
		return it.f.Close()
	}
	return nil
}

// Position implements Positioner: the highest seq below which every entry
// has been yielded, skipped below from, or is kept as lost.
func (it *iter) Position() Seq {
	return max(it.passed, it.from-1)
}
