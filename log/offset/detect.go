package offset

import (
	"bytes"
	"fmt"
	"io"
)

// detectWidth finds the trailer width of the flumelog-offset file r, of
// size bytes, from its first frame: the one width (4, 6 or 8) whose trailer
// holds the frame's own end.
//
// It returns 0 and no error while the file holds no complete first frame
// yet: it is empty, ends inside a plausible first frame (a torn write, or
// one still being written), or holds only zero bytes (blocks allocated by a
// crash before they were written). Anything else that does not start with a
// valid frame is a *FormatError.
func detectWidth(r io.ReaderAt, path string, size int64) (int, error) {
	if size == 0 {
		return 0, nil
	}
	var head [lenSize]byte
	if n := min(size, lenSize); n < lenSize {
		if _, err := r.ReadAt(head[:n], 0); err != nil {
			return 0, readErr(path, 0, err)
		}
		// Padding with zeros gives the smallest length these bytes can
		// start.
		if u32(head[:]) <= maxFirstTorn {
			return 0, nil
		}
		return 0, &FormatError{Path: path, Offset: 0,
			Reason: fmt.Sprintf("the file is %d bytes long and starts with % x, which cannot start a frame", size, head[:n])}
	}
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return 0, readErr(path, 0, err)
	}
	n := u32(head[:])
	tailOff := lenSize + int64(n)
	// tail holds what the file has of the second length and the trailer.
	var buf [lenSize + 8]byte
	tail := buf[:max(0, min(size-tailOff, int64(len(buf))))]
	if len(tail) > 0 {
		if _, err := r.ReadAt(tail, tailOff); err != nil {
			return 0, readErr(path, tailOff, err)
		}
	}
	for _, w := range widths {
		if len(tail) >= lenSize+w && u32(tail) == n && trailer(tail[lenSize:lenSize+w]) == uint64(frameSize(n, w)) {
			return w, nil
		}
	}
	if len(tail) < len(buf) && tornFirst(n, tail) {
		return 0, nil
	}
	zero, err := allZero(r, path, size)
	if err != nil || zero {
		return 0, err
	}
	return 0, &FormatError{Path: path, Offset: 0, Reason: firstFrameProblem(n, tail, size)}
}

// tornFirst reports whether tail, the bytes of a file after the payload of
// its first frame (of length n), can be the start of that frame's second
// length and trailer for some trailer width the file is too short to hold.
func tornFirst(n uint32, tail []byte) bool {
	if n > maxFirstTorn {
		return false
	}
	var want [lenSize]byte
	putLen(want[:], n)
	if len(tail) <= lenSize {
		return bytes.HasPrefix(want[:], tail)
	}
	if u32(tail) != n {
		return false
	}
	got := tail[lenSize:]
	for _, w := range widths {
		if len(got) < w && bytes.HasPrefix(putTrailer(uint64(frameSize(n, w)), w), got) {
			return true
		}
	}
	return false
}

// firstFrameProblem says why a first frame of length n, followed by tail,
// in a file of size bytes is not the start of a flumelog-offset file.
func firstFrameProblem(n uint32, tail []byte, size int64) string {
	end := lenSize + int64(n)
	switch {
	case len(tail) == 0 || (len(tail) < lenSize+4 && n > maxFirstTorn):
		return fmt.Sprintf("the first frame's length field says %d bytes, but the file holds %d", n, size)
	case len(tail) >= lenSize && u32(tail) != n:
		return fmt.Sprintf("the first frame's lengths disagree: %d at offset 0, %d at offset %d", n, u32(tail), end)
	case len(tail) < lenSize:
		return fmt.Sprintf("the first frame (length %d) ends with % x at offset %d, not its length", n, tail, end)
	}
	return fmt.Sprintf("no trailer width (4, 6 or 8 bytes) fits the first frame (length %d): it is followed by % x at offset %d",
		n, tail[lenSize:], end+lenSize)
}

func putLen(b []byte, n uint32) {
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// allZero reports whether the first size bytes of r are all zero.
func allZero(r io.ReaderAt, path string, size int64) (bool, error) {
	buf := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; {
		b := buf[:min(int64(len(buf)), size-off)]
		if _, err := r.ReadAt(b, off); err != nil {
			return false, readErr(path, off, err)
		}
		if !isZero(b) {
			return false, nil
		}
		off += int64(len(b))
	}
	return true, nil
}
