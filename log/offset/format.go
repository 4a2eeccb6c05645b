package offset

import (
	"encoding/binary"
)

const (
	// lenSize is the width of each of a frame's two length fields.
	lenSize = 4
	// chunkSize is how much of the file one read fetches. Iterators hand
	// out payloads pointing into their chunks, so every chunk is freshly
	// allocated.
	chunkSize = 4 << 20
	// firstChunk is the size of a scanner's first read; each read after
	// it doubles, up to chunkSize.
	firstChunk = 64 << 10
	// indexEvery is the spacing, in frames, of the in-memory seq → offset
	// index that makes Iter(from) cheap.
	indexEvery = 256
	// maxFirstTorn is the largest first frame that a file shorter than it
	// is taken to be a torn write of. A longer claim in a file that holds
	// no complete frame marks a file that is not a flumelog at all (the
	// first bytes of a JSON or text file read as a length of a gigabyte or
	// more); SSB messages are a few kilobytes.
	maxFirstTorn = 1 << 20
)

// widths are the trailer widths flumelog-offset writers use: uint32,
// uint48 and uint53 (stored in 8 bytes), all big-endian.
var widths = [...]int{4, 6, 8}

// frameSize is the size on disk of a frame with an n-byte payload and a
// w-byte trailer.
func frameSize(n uint32, w int) int64 { return 2*lenSize + int64(n) + int64(w) }

func u32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// trailer decodes a next-frame offset stored big-endian in len(b) bytes
// (4, 6 or 8).
func trailer(b []byte) uint64 {
	switch len(b) {
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 6:
		return uint64(binary.BigEndian.Uint16(b))<<32 | uint64(binary.BigEndian.Uint32(b[2:]))
	default:
		return binary.BigEndian.Uint64(b)
	}
}

// putTrailer encodes v big-endian into w bytes; it is the inverse of
// trailer.
func putTrailer(v uint64, w int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[8-w:]
}

// isZero reports whether b holds only zero bytes: flumelog-offset deletes a
// record by overwriting its payload with zeros. An empty payload counts as
// deleted too, as it does for the JavaScript reader.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
