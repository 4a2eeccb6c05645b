package log

import (
	"fmt"
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

// listSegments returns the segment files of dir in seq order.
func listSegments(dir string) ([]segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var segs []segment
	for _, de := range des {
		name := de.Name()
		if len(name) != 20 || de.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil || n == 0 {
			continue
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
}

// scanSegment validates every record in data, the contents of a segment
// whose first entry is first. It never fails; the result says where valid
// data ends and whether what follows is a torn tail or corruption.
func scanSegment(data []byte, first Seq) scanResult {
	r := scanResult{last: first - 1, badAt: -1}
	off := 0
	for off < len(data) {
		rec, n, st := readFrame(data[off:])
		reason := ""
		switch st {
		case frameTorn:
			reason = "frame runs past the end of the segment"
		case frameBad:
			reason = "invalid frame length"
		default:
			e, why := decodeRecord(rec)
			switch {
			case why != "":
				reason = why
			case e.Seq != r.last+1:
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
		r.last++
		r.count++
		off += n
		r.end = off
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
		if e, why := decodeRecord(rec); why == "" {
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
		if k <= 0 || size < headerSize+1 || len(tail)-off-k < headerSize {
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
