package offset

import "github.com/sluicedb/sluice/log"

// The frontier is how far the log is known to be valid: frames 1 to
// l.next-1, ending at l.end, with a sparse seq → offset index over them.
// Header walks (Last, Iter) and iterators push it forward as they check
// frames, so a second Iter(from) or Last does not read again what the first
// one read.

// advance records that frames before next are valid and that frame next
// starts at end, and returns the frontier. Callers report every frame
// indexEvery apart as they pass it and the point where they stop; a report
// that would leave a hole in the index is ignored (the frontier stays
// behind, and a later walk fills the gap).
func (l *Log) advance(next log.Seq, end int64) log.Seq {
	l.mu.Lock()
	defer l.mu.Unlock()
	if next <= l.next {
		return l.next
	}
	have := (l.next - 1) / indexEvery // highest index slot held
	switch need := (next - 1) / indexEvery; {
	case need == have:
	case need == have+1 && indexed(next):
		l.index = append(l.index, end)
	default:
		return l.next
	}
	l.next, l.end = next, end
	return l.next
}

// start returns the known frame nearest at or before from: its seq and
// offset.
func (l *Log) start(from log.Seq) (log.Seq, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if from >= l.next {
		return l.next, l.end
	}
	k := (from - 1) / indexEvery
	return k*indexEvery + 1, l.index[k]
}

// walk checks the frames of a file of size bytes from the frontier on,
// reading only their lengths and trailers, until frame stop is known (0:
// to the end of the file), and returns the new frontier. It returns a
// *log.CorruptError for a damaged frame, a *FormatError if the file does
// not start with a frame.
func (l *Log) walk(size int64, stop log.Seq) (log.Seq, error) {
	l.walkMu.Lock()
	defer l.walkMu.Unlock()
	l.mu.Lock()
	next, end, walked := l.next, l.end, l.walked
	l.mu.Unlock()
	if end > size {
		// An iterator that saw the file bigger than our caller did moved
		// the frontier past size: look at the file again.
		var err error
		if size, err = l.size(); err != nil {
			return next, err
		}
	}
	if size == walked || (stop != 0 && next >= stop) {
		return next, nil
	}
	w, err := l.width(size)
	if err != nil {
		return next, err
	}
	if w == 0 {
		l.setWalked(size)
		return next, nil
	}
	s := scanner{r: l.f, path: l.path, w: w, reuse: true, seq: next, off: end}
	for stop == 0 || s.seq < stop {
		_, ok, err := s.next(size)
		if err != nil {
			return l.advance(s.seq, s.off), err
		}
		if !ok {
			l.setWalked(size)
			break
		}
		if indexed(s.seq) {
			l.advance(s.seq, s.off)
		}
	}
	return l.advance(s.seq, s.off), nil
}

// setWalked records that a walk reached the end of a file of size bytes.
func (l *Log) setWalked(size int64) {
	l.mu.Lock()
	l.walked = size
	l.mu.Unlock()
}

// indexed reports whether the frame with seq next starts an index slot
// (l.index holds the offset of every such frame up to l.next).
func indexed(next log.Seq) bool { return (next-1)%indexEvery == 0 }
