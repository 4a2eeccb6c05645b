package offset

// Stats describes a flumelog-offset file.
type Stats struct {
	// Frames is the number of complete frames, deleted ones included: the
	// log's last seq.
	Frames int64
	// Deleted is the number of frames deleted in place (payload
	// overwritten with zero bytes).
	Deleted int64
	// Bytes is the size of the complete frames: the offset where the next
	// frame will start.
	Bytes int64
	// Tail is the number of bytes after the last complete frame: a torn
	// frame, or one being written.
	Tail int64
	// TrailerWidth is the width in bytes of the frames' next-frame offset:
	// 4, 6 or 8; 0 while the file holds no complete frame.
	TrailerWidth int
}

// Stats reads the whole file and describes it. It returns what it counted
// so far with a *log.CorruptError if a frame is damaged.
func (l *Log) Stats() (Stats, error) {
	size, err := l.size()
	if err != nil {
		return Stats{}, err
	}
	w, err := l.width(size)
	if err != nil || w == 0 {
		return Stats{Tail: size}, err
	}
	st := Stats{TrailerWidth: w}
	s := scanner{r: l.f, path: l.path, w: w, payload: true, reuse: true, seq: 1}
	for {
		f, ok, err := s.next(size)
		if err != nil || !ok {
			st.Bytes, st.Tail = s.off, size-s.off
			if err == nil {
				l.advance(s.seq, s.off)
			}
			return st, err
		}
		st.Frames++
		if f.deleted {
			st.Deleted++
		}
		if indexed(s.seq) {
			l.advance(s.seq, s.off)
		}
	}
}
