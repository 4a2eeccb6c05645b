package offset

import (
	"io"
)

// A frame that fails its checks is either a torn tail (the writer crashed
// in the middle of it, or is writing it right now) or damage in the middle
// of the log. The difference is whether the log goes on after it: the
// JavaScript writer, on restart, looks backwards from the end of the file
// for the last trailer that holds its own position and cuts the file there.
// frameEndAfter does the same search, from the end of the file down to the
// start of the bad frame: if it finds a complete frame, the bad one is not
// the tail.

// frameEndAfter returns the end of the last complete, self-consistent frame
// of width w that lies in [off, size) of r, searching backwards from size.
func frameEndAfter(r io.ReaderAt, path string, w int, off, size int64) (int64, bool, error) {
	const window = 1 << 20
	minFrame := frameSize(0, w)
	if size-off < minFrame {
		return 0, false, nil
	}
	buf := make([]byte, min(window, size-off))
	for hi := size; hi-off >= minFrame; {
		lo := max(off, hi-int64(len(buf)))
		b := buf[:hi-lo]
		if _, err := r.ReadAt(b, lo); err != nil {
			return 0, false, readErr(path, lo, err)
		}
		// Candidate ends p with their trailer inside b, from the highest.
		for p := hi; p-int64(w) >= lo; p-- {
			if p-off < minFrame {
				return 0, false, nil
			}
			if trailer(b[p-int64(w)-lo:p-lo]) != uint64(p) {
				continue
			}
			ok, err := frameEndsAt(r, path, w, off, p)
			if err != nil || ok {
				return p, ok, err
			}
		}
		if lo == off {
			break
		}
		// The next window holds the trailers of ends below lo+w.
		hi = lo + int64(w) - 1
	}
	return 0, false, nil
}

// frameEndsAt reports whether a frame of width w starting at or after off
// ends at p, whose trailer is already known to hold p: its two lengths must
// agree.
func frameEndsAt(r io.ReaderAt, path string, w int, off, p int64) (bool, error) {
	var b [lenSize]byte
	at := p - int64(w) - lenSize
	if _, err := r.ReadAt(b[:], at); err != nil {
		return false, readErr(path, at, err)
	}
	n := u32(b[:])
	start := p - frameSize(n, w)
	if start < off {
		return false, nil
	}
	if _, err := r.ReadAt(b[:], start); err != nil {
		return false, readErr(path, start, err)
	}
	return u32(b[:]) == n, nil
}
