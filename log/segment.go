package log

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// segment is one segment file: its path and the seq of its first entry.
type segment struct {
	path  string
	first Seq
}

// segmentName is the file name of the segment whose first entry is first.
func segmentName(first Seq) string { return fmt.Sprintf("%020d", uint64(first)) }

// listSegments returns the segment files of dir in seq order. A file whose
// name starts with a digit must be a segment: exactly 20 digits naming a
// seq from 1 to 2^63-1. Anything else there — tidwall/wal's NNN.START and
// NNN.END files (it deletes segments when it sees them), a copy, a name that
// overflows — is refused with an error naming it, and nothing is opened.
func listSegments(dir string) ([]segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var segs []segment
	for _, de := range des {
		name := de.Name()
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if len(name) != 20 || err != nil || n == 0 || n > math.MaxInt64 || !de.Type().IsRegular() {
			return nil, fmt.Errorf("log %s: %q is not a segment file (a segment is a file named by the 20-digit seq of its first entry, 1 to 2^63-1): move it out of the log's directory",
				dir, name)
		}
		segs = append(segs, segment{path: filepath.Join(dir, name), first: Seq(n)})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs, nil
}

// findSegment returns the index of the segment holding seq (the last one
// whose first entry is <= seq), or 0.
func findSegment(segs []segment, seq Seq) int {
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > seq })
	if i == 0 {
		return 0
	}
	return i - 1
}

// checkFirst returns a *CorruptError if the log's first segment does not
// start at seq 1 (the segments before it were deleted).
func checkFirst(segs []segment) error {
	if len(segs) == 0 || segs[0].first == 1 {
		return nil
	}
	return &CorruptError{Path: segs[0].path, Offset: 0, Seq: 1,
		Reason: fmt.Sprintf("seqs 1..%d are missing: the first segment starts at seq %d", segs[0].first-1, segs[0].first)}
}

// boundaryError describes segment prev, whose last record is seq last,
// followed by a segment starting at next != last+1: missing seqs or
// overlapping segments.
func boundaryError(prev segment, off int64, last Seq, next segment) error {
	if next.first > last+1 {
		return &CorruptError{Path: prev.path, Offset: off, Seq: last + 1,
			Reason: fmt.Sprintf("seqs %d..%d are missing: the segment ends at seq %d and the next one, %s, starts at seq %d",
				last+1, next.first-1, last, filepath.Base(next.path), next.first)}
	}
	return &CorruptError{Path: next.path, Offset: 0, Seq: next.first,
		Reason: fmt.Sprintf("segments overlap: seqs %d..%d are in both %s and %s",
			next.first, last, filepath.Base(prev.path), filepath.Base(next.path))}
}

// scanResult is what scanSegment found in a segment's bytes.
type scanResult struct {
	end     int    // offset just past the last valid record
	last    Seq    // seq of the last valid record (first-1 if none)
	count   int    // number of valid records
	badAt   int    // offset of the first invalid frame, -1 if none
	reason  string // why the frame at badAt is invalid
	torn    bool   // the invalid part is a torn tail: no valid record follows it
	tornTo  Seq    // highest seq named by an intact header in the torn part, 0 if none
	resumes Seq    // when !torn: seq of the first valid record after badAt

	// The records from batchEnd to end belong to an Append whose last
	// record is not in this segment (yet): the batch continues in the next
	// segment, or it is incomplete.
	batchEnd  int  // offset just past the last valid record that ends its Append, 0 if none
	batchLast Seq  // seq of that record (first-1 if none)
	ends      bool // some valid record ends its Append
	lastOff   int  // offset of the last valid record
}

// scanSegment validates every record in data, the contents of a segment
// whose first entry is first. It never fails; the result says where valid
// data ends and whether what follows is a torn tail or corruption.
func scanSegment(data []byte, first Seq) scanResult {
	r := scanResult{last: first - 1, badAt: -1, batchLast: first - 1}
	off := 0
	for off < len(data) {
		rec, n, st := readFrame(data[off:])
		reason := ""
		var flags byte
		switch st {
		case frameTorn:
			reason = "frame runs past the end of the segment"
		case frameBad:
			reason = "invalid frame length"
		default:
			var e Entry
			e, flags, reason = decodeRecord(rec)
			if reason == "" && e.Seq != r.last+1 {
				reason = fmt.Sprintf("record holds seq %d", e.Seq)
			}
		}
		if reason != "" {
			r.badAt, r.reason = off, reason
			r.resumes = resync(data, off+1, r.last+1)
			r.torn = r.resumes == 0
			if r.torn {
				r.tornTo = tornSeqs(data[off:], r.last+1)
			}
			break
		}
		r.lastOff = off
		r.last++
		r.count++
		off += n
		r.end = off
		if flags&flagMore == 0 {
			r.batchEnd, r.batchLast, r.ends = off, r.last, true
		}
	}
	return r
}

// resync looks for a valid record at any offset from start on whose seq is at
// least want. It returns that seq, or 0 if none: then everything from the
// damaged frame on is a torn tail, not corruption in the middle.
func resync(data []byte, start int, want Seq) Seq {
	for p := start; p < len(data); p++ {
		rec, _, st := readFrame(data[p:])
		if st != frameOK {
			continue
		}
		s := recordSeq(rec)
		if s < want || s > want+Seq(len(data)) {
			continue
		}
		if e, _, why := decodeRecord(rec); why == "" {
			return e.Seq
		}
	}
	return 0
}

// tornSeqs returns the highest seq named by a record header in a torn tail
// (a frame cut short keeps its header), or 0 when no plausible header is
// there (a zero-filled or garbage tail).
func tornSeqs(tail []byte, want Seq) Seq {
	var top Seq
	off := 0
	for off < len(tail) {
		size, k := uvarint(tail[off:])
		if k <= 0 || size < headerSize || len(tail)-off-k < headerSize {
			break
		}
		s := recordSeq(tail[off+k:])
		if s < want || s > want+Seq(len(tail)) || (top != 0 && s != top+1) {
			break
		}
		top = s
		off += k + int(min(size, uint64(len(tail)-off-k)))
	}
	return top
}
