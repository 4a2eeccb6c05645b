package log

import (
	"errors"
	"fmt"
)

// What the replicate package needs to send records over the network exactly
// as they are stored, so that their checksum covers them end to end: the
// stored bytes of an iterator's current entry, and a decoder of those bytes.

// ErrBadRecord is returned (wrapped) by DecodeRecord for bytes that are not
// a valid record.
var ErrBadRecord = errors.New("bad record")

// RawIterator is implemented by the iterators of native logs (those of
// (*Log).Iter and (*Reader).Iter).
type RawIterator interface {
	Iterator
	// Raw returns the current entry's record exactly as stored in its
	// segment (format 1 or 2, its crc32c first; see doc.go), without the
	// frame's length. Like Entry's Payload, it stays valid after Next and
	// must not be modified.
	Raw() []byte
}

// Raw implements RawIterator.
func (it *iter) Raw() []byte {
	_, k := uvarint(it.raw)
	return it.raw[k:]
}

// StoredRecord is a record decoded from its stored bytes by DecodeRecord.
type StoredRecord struct {
	// Entry is the record's entry. Its Payload aliases the decoded bytes.
	// Its ID is set only for a replicated entry (one stored with its
	// author); for an entry first appended to the log that stored it, ID
	// is zero: it is (that log's node, Seq), which the record does not
	// hold.
	Entry
	// More is set on every record of an Append but its last: a reader
	// must not act on the records of a call before it has its last one.
	More bool
	// Lost is set on a placeholder for an acknowledged entry that was lost
	// and accepted (Options.AcceptLoss); it has no payload.
	Lost bool
}

// DecodeRecord checks rec, one record as a log stores it (format 1 or 2,
// as RawIterator.Raw returns it), and decodes it: its checksum, its fields
// and their sizes. An error wraps ErrBadRecord and says which check failed.
// It never panics, whatever rec holds.
func DecodeRecord(rec []byte) (StoredRecord, error) {
	e, flags, why := decodeRecord(rec)
	if why != "" {
		return StoredRecord{}, fmt.Errorf("%w: %s", ErrBadRecord, why)
	}
	v2 := flags&flagV2 != 0
	return StoredRecord{Entry: e, More: v2 && flags&flagMore != 0, Lost: v2 && flags&flagLost != 0}, nil
}

// RecordMore reports whether rec, a record as stored that was already
// checked (by an iterator, or DecodeRecord), is flagged "more": not the last
// record of its Append. It checks nothing else.
func RecordMore(rec []byte) bool {
	return len(rec) >= headerSize && rec[20]&flagV2 != 0 && rec[20]&flagMore != 0
}

// RecordSeq returns the seq field of rec, a record as stored, and false if
// rec is too short to hold one. It checks nothing else.
func RecordSeq(rec []byte) (Seq, bool) {
	if len(rec) < headerSize {
		return 0, false
	}
	return recordSeq(rec), true
}
