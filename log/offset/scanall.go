package offset

import "github.com/sluicedb/sluice/log"

// Scan calls fn with every entry of the file that is not deleted, in seq
// order, with the byte offset of its frame, up to the end of the file as it
// is when Scan starts (a torn last frame ends it, as it ends an iterator).
// It stops at the first error fn returns, and returns it, or at a damaged
// frame with a *log.CorruptError naming it.
//
// Scan reads the file through one buffer that it reuses, so it is cheaper
// than an iterator when payloads are only looked at: the payload fn gets
// is valid only until fn returns.
func (l *Log) Scan(fn func(e log.Entry, off int64) error) error {
	size, err := l.size()
	if err != nil {
		return err
	}
	w, err := l.width(size)
	if err != nil || w == 0 {
		return err
	}
	s := scanner{r: l.f, path: l.path, w: w, payload: true, reuse: true, seq: 1}
	for {
		off := s.off
		f, ok, err := s.next(size)
		if err != nil || !ok {
			if err == nil {
				l.advance(s.seq, s.off)
			}
			return err
		}
		if indexed(s.seq) {
			l.advance(s.seq, s.off)
		}
		if f.deleted {
			continue
		}
		if err := fn(log.Entry{Seq: f.seq, Origin: log.Remote, Payload: f.payload}, off); err != nil {
			return err
		}
	}
}
