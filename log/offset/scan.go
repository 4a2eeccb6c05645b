package offset

import (
	"fmt"
	"io"

	"github.com/sluicedb/sluice/log"
)

// scanner walks the frames of a flumelog-offset file forwards, reading it
// in big chunks and checking every frame: both lengths agree and the
// trailer holds the offset of the next frame. Iterators, header walks and
// Stats all use it, so they agree on where the log ends.
type scanner struct {
	r    io.ReaderAt
	path string
	w    int // trailer width, known (non-zero) before next is called

	// payload makes next read whole frames and return their payloads;
	// without it next reads only lengths and trailers.
	payload bool
	// reuse lets next overwrite buf: no payload slice was handed out.
	reuse bool

	buf    []byte // file bytes from bufOff
	bufOff int64
	// chunk is the size of the last read. Without reuse it starts small,
	// so an iterator that wants a few frames reads little, and doubles up
	// to chunkSize.
	chunk int64

	seq log.Seq // seq of the frame at off
	off int64   // offset of the next frame to read
}

// frame is one checked frame.
type frame struct {
	seq     log.Seq
	payload []byte // nil without payload mode; capacity capped at its length
	deleted bool   // payload all zero bytes (payload mode only)
}

// next checks and returns the frame at s.off in a file of size bytes, and
// moves past it. At the end of the file, or before a torn last frame, it
// returns false and no error (and stays put, so a later call with a bigger
// size carries on); before damage in the middle of the log it returns a
// *log.CorruptError naming the frame's seq.
func (s *scanner) next(size int64) (frame, bool, error) {
	rem := size - s.off
	switch {
	case rem == 0:
		return frame{}, false, nil
	case rem < 0:
		return frame{}, false, &log.CorruptError{Path: s.path, Offset: s.off, Seq: s.seq,
			Reason: fmt.Sprintf("the file shrank to %d bytes", size)}
	case rem < lenSize:
		return s.damaged(size, fmt.Sprintf("the file ends %d bytes into the frame's length", rem))
	}
	h, err := s.window(s.off, lenSize, size)
	if err != nil {
		return frame{}, false, err
	}
	n := u32(h)
	fsz := frameSize(n, s.w)
	if fsz > rem {
		return s.damaged(size, fmt.Sprintf("a frame of length %d needs %d bytes, the file holds %d from here", n, fsz, rem))
	}
	var f frame
	var t []byte // second length and trailer
	if s.payload {
		b, err := s.window(s.off, fsz, size)
		if err != nil {
			return frame{}, false, err
		}
		end := lenSize + int64(n)
		f.payload = b[lenSize:end:end]
		f.deleted = isZero(f.payload)
		t = b[end:]
	} else if t, err = s.window(s.off+lenSize+int64(n), lenSize+int64(s.w), size); err != nil {
		return frame{}, false, err
	}
	if n2 := u32(t); n2 != n {
		return s.damaged(size, fmt.Sprintf("lengths disagree: %d at offset %d, %d at offset %d", n, s.off, n2, s.off+lenSize+int64(n)))
	}
	if got, want := trailer(t[lenSize:]), s.off+fsz; got != uint64(want) {
		return s.damaged(size, fmt.Sprintf("the trailer at offset %d says the next frame is at %d, not %d", s.off+fsz-int64(s.w), got, want))
	}
	f.seq = s.seq
	s.seq++
	s.off += fsz
	return f, true, nil
}

// damaged decides what a frame at s.off that fails reason is: a torn tail
// (false, no error) when no complete frame follows it, corruption
// otherwise.
func (s *scanner) damaged(size int64, reason string) (frame, bool, error) {
	end, found, err := frameEndAfter(s.r, s.path, s.w, s.off, size)
	if err != nil || !found {
		return frame{}, false, err
	}
	return frame{}, false, &log.CorruptError{Path: s.path, Offset: s.off, Seq: s.seq,
		Reason: fmt.Sprintf("%s (not a torn tail: a complete frame ends at offset %d)", reason, end)}
}

// window returns the n file bytes at off, reading a new chunk starting at
// off when the current one does not hold them all. off+n must not pass
// size.
func (s *scanner) window(off, n, size int64) ([]byte, error) {
	if i := off - s.bufOff; i >= 0 && i+n <= int64(len(s.buf)) {
		return s.buf[i : i+n], nil
	}
	if s.reuse {
		s.chunk = chunkSize // one buffer for all reads: make it big at once
	} else {
		s.chunk = min(max(2*s.chunk, firstChunk), chunkSize)
	}
	want := min(max(n, s.chunk), size-off)
	var b []byte
	if s.reuse && int64(cap(s.buf)) >= want {
		b = s.buf[:want]
	} else {
		s.buf = nil // let the old chunk go before allocating the next
		b = make([]byte, want)
	}
	if _, err := s.r.ReadAt(b, off); err != nil {
		s.buf = nil
		return nil, readErr(s.path, off, err)
	}
	s.buf, s.bufOff = b, off
	return b[:n], nil
}
