package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// headerSize is the size of a record's fixed header: crc32c(4) seq(8)
// time(8) flags(1) — the last byte is the origin in a format 1 record.
const headerSize = 21

// The flags byte of a format 2 record (see doc.go).
const (
	flagV2     = 0x80 // always set in format 2: tells it from a format 1 origin (0 or 1)
	flagLocal  = 0x01 // Origin Local
	flagMore   = 0x02 // not the last record of its Append
	flagAuthor = 0x04 // author node and seq follow the header
	flagVia    = 0x08 // via node and seq follow
	flagScope  = 0x10 // scope length and scope follow
	flagLost   = 0x20 // placeholder for an acknowledged entry lost and accepted (Options.AcceptLoss); no payload
	flagsKnown = flagV2 | flagLocal | flagMore | flagAuthor | flagVia | flagScope | flagLost
)

// MaxScopeLen is the longest scope an entry may have, in bytes.
const MaxScopeLen = 255

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the format 2 record of r, as seq appended at time t
// (Unix nanoseconds), to dst. extra holds flagMore or flagLost when they
// apply. See doc.go for the layout.
func appendRecord(dst []byte, seq Seq, t int64, r *Record, extra byte) []byte {
	start := len(dst)
	flags := byte(flagV2) | extra
	if r.Origin == Local {
		flags |= flagLocal
	}
	if !r.Author.IsZero() {
		flags |= flagAuthor
	}
	if !r.Via.IsZero() {
		flags |= flagVia
	}
	if r.Scope != "" {
		flags |= flagScope
	}
	var h [headerSize]byte
	binary.LittleEndian.PutUint64(h[4:], uint64(seq))
	binary.LittleEndian.PutUint64(h[12:], uint64(t))
	h[20] = flags
	dst = append(dst, h[:]...)
	if flags&flagAuthor != 0 {
		dst = append(dst, r.Author.Node[:]...)
		dst = binary.AppendUvarint(dst, uint64(r.Author.Seq))
	}
	if flags&flagVia != 0 {
		dst = append(dst, r.Via.Node[:]...)
		dst = binary.AppendUvarint(dst, uint64(r.Via.Seq))
	}
	if flags&flagScope != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(r.Scope)))
		dst = append(dst, r.Scope...)
	}
	dst = append(dst, r.Payload...)
	crc := crc32.Checksum(dst[start+4:], castagnoli)
	binary.LittleEndian.PutUint32(dst[start:], crc)
	return dst
}

// recordLen is the length of the record appendRecord makes for r.
func recordLen(r *Record) int {
	n := headerSize + len(r.Payload)
	if !r.Author.IsZero() {
		n += len(r.Author.Node) + uvarintLen(uint64(r.Author.Seq))
	}
	if !r.Via.IsZero() {
		n += len(r.Via.Node) + uvarintLen(uint64(r.Via.Seq))
	}
	if r.Scope != "" {
		n += uvarintLen(uint64(len(r.Scope))) + len(r.Scope)
	}
	return n
}

// recordSeq returns the seq field of rec without checking anything else.
// rec must be at least headerSize long.
func recordSeq(rec []byte) Seq {
	return Seq(binary.LittleEndian.Uint64(rec[4:]))
}

// decodeRecord checks rec (one record, as stored in a segment frame, in
// format 1 or 2) and returns its entry and its flags (a format 1 record
// reports flagLocal or 0). The payload aliases rec. e.ID is set only for
// an entry with an author; the caller fills in this log's node otherwise.
// The reason string is empty on success and says which check failed
// otherwise.
func decodeRecord(rec []byte) (e Entry, flags byte, reason string) {
	if len(rec) < headerSize {
		return e, 0, "record shorter than its header"
	}
	if crc32.Checksum(rec[4:], castagnoli) != binary.LittleEndian.Uint32(rec) {
		return e, 0, "checksum mismatch"
	}
	e.Seq = recordSeq(rec)
	e.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(rec[12:])))
	flags = rec[20]
	rest := rec[headerSize:len(rec):len(rec)]
	if flags&flagV2 == 0 {
		// Format 1: the byte is the origin.
		if flags > 1 {
			return Entry{}, 0, "unknown origin"
		}
		if len(rest) == 0 {
			return Entry{}, 0, "record has an empty payload"
		}
		e.Origin = Origin(flags)
		e.Payload = rest
		return e, flags, ""
	}
	if flags&^flagsKnown != 0 {
		return Entry{}, 0, fmt.Sprintf("reserved flag bits set (flags %#02x)", flags)
	}
	if flags&flagLocal != 0 {
		e.Origin = Local
	}
	var why string
	if flags&flagAuthor != 0 {
		if e.ID, rest, why = decodeID(rest, "author"); why != "" {
			return Entry{}, 0, why
		}
	}
	if flags&flagVia != 0 {
		if flags&flagAuthor == 0 {
			return Entry{}, 0, "via without an author"
		}
		if e.Via, rest, why = decodeID(rest, "via"); why != "" {
			return Entry{}, 0, why
		}
	}
	if flags&flagScope != 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n == 0 || n > uint64(len(rest)-k) {
			return Entry{}, 0, "record ends inside its scope"
		}
		if err := CheckScope(string(rest[k : k+int(n)])); err != nil {
			return Entry{}, 0, err.Error()
		}
		e.Scope = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	if flags&flagLost != 0 {
		if len(rest) != 0 || flags&^(flagV2|flagLost) != 0 {
			return Entry{}, 0, "lost-entry placeholder with other fields"
		}
		return e, flags, ""
	}
	if len(rest) == 0 {
		return Entry{}, 0, "record has an empty payload"
	}
	e.Payload = rest
	return e, flags, ""
}

// decodeID reads a node and a uvarint seq from the start of b.
func decodeID(b []byte, what string) (ID, []byte, string) {
	var id ID
	if len(b) < len(id.Node) {
		return id, b, "record ends inside its " + what
	}
	copy(id.Node[:], b)
	s, k := binary.Uvarint(b[len(id.Node):])
	if k <= 0 {
		return id, b, "record ends inside its " + what
	}
	id.Seq = Seq(s)
	if why := id.invalid(); why != "" || id.Node.IsZero() {
		if why == "" {
			why = "zero node"
		}
		return id, b, fmt.Sprintf("invalid %s: %s", what, why)
	}
	return id, b[len(id.Node)+k:], ""
}

// CheckScope returns an error if s cannot be an entry's scope: more than
// MaxScopeLen bytes, or a byte that is not printable ASCII or is a space.
// The empty scope (visible to every reader) is valid.
func CheckScope(s string) error {
	if len(s) > MaxScopeLen {
		return fmt.Errorf("invalid scope: %d bytes, limit %d", len(s), MaxScopeLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("invalid scope %q: byte %d is %#02x (want printable ASCII, no spaces)", s, i, c)
		}
	}
	return nil
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
	if size < headerSize {
		return nil, 0, frameBad
	}
	if size > uint64(len(buf)-k) {
		return nil, 0, frameTorn
	}
	return buf[k : k+int(size)], k + int(size), frameOK
}

// frameLen is the length of the frame holding a record of recLen bytes.
func frameLen(recLen int) int { return uvarintLen(uint64(recLen)) + recLen }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// uvarint is binary.Uvarint, named here so the scanners read alike.
func uvarint(b []byte) (uint64, int) { return binary.Uvarint(b) }

func putUvarint(b []byte, x uint64) int { return binary.PutUvarint(b, x) }
