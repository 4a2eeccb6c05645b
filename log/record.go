package log

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// headerSize is the size of a record header: crc32c(4) seq(8) time(8) origin(1).
const headerSize = 21

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the record for (seq, origin, t, payload) to dst.
// See doc.go for the layout.
func appendRecord(dst []byte, seq Seq, origin Origin, t int64, payload []byte) []byte {
	start := len(dst)
	var h [headerSize]byte
	binary.LittleEndian.PutUint64(h[4:], uint64(seq))
	binary.LittleEndian.PutUint64(h[12:], uint64(t))
	h[20] = byte(origin)
	dst = append(dst, h[:]...)
	dst = append(dst, payload...)
	crc := crc32.Checksum(dst[start+4:], castagnoli)
	binary.LittleEndian.PutUint32(dst[start:], crc)
	return dst
}

// recordSeq returns the seq field of rec without checking anything else.
// rec must be at least headerSize long.
func recordSeq(rec []byte) Seq {
	return Seq(binary.LittleEndian.Uint64(rec[4:]))
}

// decodeRecord checks rec (one record, as stored in a segment frame) and
// returns its entry. The payload aliases rec. The reason string is empty on
// success and says which check failed otherwise.
func decodeRecord(rec []byte) (e Entry, reason string) {
	if len(rec) < headerSize {
		return e, "record shorter than its header"
	}
	if len(rec) == headerSize {
		return e, "record has an empty payload"
	}
	if crc32.Checksum(rec[4:], castagnoli) != binary.LittleEndian.Uint32(rec) {
		return e, "checksum mismatch"
	}
	o := Origin(rec[20])
	if o != Remote && o != Local {
		return e, "unknown origin"
	}
	e.Seq = recordSeq(rec)
	e.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(rec[12:])))
	e.Origin = o
	e.Payload = rec[headerSize:len(rec):len(rec)]
	return e, ""
}

// frameStatus classifies what readFrame found at a position.
type frameStatus int

const (
	frameOK   frameStatus = iota
	frameTorn             // the data ends inside the frame: more may come, or the tail is torn
	frameBad              // the frame cannot be a record (zero length, checksum, ...)
)

// readFrame parses the frame at the start of buf: tidwall/wal's binary entry
// framing (uvarint length, then that many bytes) around one record. It
// returns the frame's total length n and the record inside it.
func readFrame(buf []byte) (rec []byte, n int, st frameStatus) {
	size, k := binary.Uvarint(buf)
	if k == 0 {
		return nil, 0, frameTorn
	}
	if k < 0 {
		return nil, 0, frameBad
	}
	if size < headerSize+1 {
		return nil, 0, frameBad
	}
	if size > uint64(len(buf)-k) {
		return nil, 0, frameTorn
	}
	return buf[k : k+int(size)], k + int(size), frameOK
}

// frameLen is the length of the frame holding a record of recLen bytes.
func frameLen(recLen int) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], uint64(recLen)) + recLen
}

// uvarint is binary.Uvarint, named here so the scanners read alike.
func uvarint(b []byte) (uint64, int) { return binary.Uvarint(b) }

func putUvarint(b []byte, x uint64) int { return binary.PutUvarint(b, x) }
