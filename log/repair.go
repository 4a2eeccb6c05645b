package log

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// Repair describes damage that Open cut off the tail of the log.
type Repair struct {
	// Segment is the file that was cut (or removed, when Removed).
	Segment string `json:"segment"`
	// Offset is the file's new size: the end of the last record kept.
	Offset int64 `json:"offset"`
	// Bytes is how many bytes were dropped.
	Bytes int64 `json:"bytes"`
	// LastSeq is the last seq kept in the log after the cut.
	LastSeq Seq `json:"last_seq"`
	// DroppedFrom and DroppedTo are the seqs named by intact records or
	// record headers in the dropped bytes (a record torn mid-write, or the
	// records of an Append whose last record is missing); both are 0 when
	// the dropped bytes held no header (a zero-filled or garbage tail).
	DroppedFrom Seq `json:"dropped_from,omitempty"`
	DroppedTo   Seq `json:"dropped_to,omitempty"`
	// Reason says what was wrong with the first dropped byte.
	Reason string `json:"reason"`
	// Removed is set when a segment after a damaged one, holding no
	// complete Append, was deleted.
	Removed bool `json:"removed,omitempty"`
}

// String describes the repair in one line.
func (r Repair) String() string {
	what := "cut"
	if r.Removed {
		what = "removed segment"
	}
	s := fmt.Sprintf("%s %s at offset %d: dropped %d bytes after seq %d (%s)", what, filepath.Base(r.Segment), r.Offset, r.Bytes, r.LastSeq, r.Reason)
	if r.DroppedFrom != 0 {
		s += fmt.Sprintf("; torn or incomplete records seq %d..%d", r.DroppedFrom, r.DroppedTo)
	}
	return s
}

// repairPlan is what Open must cut off the tail of a log: planRepair
// decides it without changing anything, so that LASTOPEN can record it
// before the first byte is cut, and a loss of acknowledged entries can be
// refused with nothing changed.
type repairPlan struct {
	repairs []Repair
	actions []repairAction // in order
	last    Seq            // the last seq kept
	// tailLastLen is the length of the last frame kept in the tail
	// segment, 0 if not known (see closedFile).
	tailLastLen int
}

type repairAction struct {
	path   string
	size   int64 // truncate to this size
	remove bool  // or remove the file
}

// scanned is a segment's bytes and what scanSegment found in them.
type scanned struct {
	seg  segment
	data []byte
	r    scanResult
}

// testHookScan, if set, is called with each segment scanFile reads whole
// (tests).
var testHookScan func(path string)

func scanFile(s segment) (scanned, error) {
	if testHookScan != nil {
		testHookScan(s.path)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return scanned{}, fmt.Errorf("repair: %w", err)
	}
	return scanned{seg: s, data: data, r: scanSegment(data, s.first)}, nil
}

// keepPoint returns where segment c is cut: after the last record that
// ends its Append — unless the valid records after it were acknowledged
// (the durable mark is beyond them): then their Append was acknowledged
// whole and lost its end to damage, and they are kept. Acknowledged
// entries are not given up for damage after them; the seqs lost are those
// past the last kept, up to the mark, and the placeholders AcceptLoss
// writes for them end the Append.
func (c scanned) keepPoint(mark Seq) (int, Seq) {
	r := c.r
	if r.last > r.batchLast && r.last < mark {
		return r.end, r.last
	}
	return r.batchEnd, r.batchLast
}

// planRepair validates the tail of the log whose segments are segs: the
// last segment, and the one before it as far as the boundary between them
// goes. It plans to cut a torn tail, and the records of an Append whose
// last record is missing (even when they are valid one by one, unless they
// are below mark, the durable mark: see keepPoint), and to remove a last
// segment that holds nothing but such records or a crash's leftovers.
// Damage that is not a torn tail — valid records after it, a gap or an
// overlap between segments, a first segment that does not start at seq 1
// — is a *CorruptError, and nothing is planned.
func planRepair(segs []segment, mark Seq) (repairPlan, error) {
	var p repairPlan
	if len(segs) == 0 {
		return p, nil
	}
	if err := checkFirst(segs); err != nil {
		return p, err
	}
	i := len(segs) - 1
	cur, err := scanFile(segs[i])
	if err != nil {
		return p, err
	}
	for {
		s, r := cur.seg, cur.r
		if r.badAt >= 0 && !r.torn {
			return p, &CorruptError{Path: s.path, Offset: int64(r.badAt), Seq: r.last + 1,
				Reason: fmt.Sprintf("%s, and a valid record (seq %d) follows, so this is not a torn tail", r.reason, r.resumes)}
		}
		// Keep the records up to the last one that ends its Append (or
		// the last acknowledged one).
		keep, keepLast := cur.keepPoint(mark)
		var prev scanned
		if i > 0 {
			if prev, err = scanFile(segs[i-1]); err != nil {
				return p, err
			}
		}
		if keep > 0 || i == 0 {
			if i > 0 {
				if err := checkBoundary(prev, s); err != nil {
					return p, err
				}
			}
			if keep < len(cur.data) {
				p.repairs = append(p.repairs, cutRepair(cur, keep, keepLast))
				p.actions = append(p.actions, repairAction{path: s.path, size: int64(keep)})
			}
			if keep == r.end && r.count > 0 {
				p.tailLastLen = keep - r.lastOff
			}
			p.last = keepLast
			return p, nil
		}
		// Nothing in this segment ends an Append. If the one before is
		// whole and ends with a complete Append just before this one
		// starts, this is the writer's new segment (perhaps with a torn
		// first record).
		pr := prev.r
		if pr.badAt < 0 && pr.end == pr.batchEnd {
			if err := checkBoundary(prev, s); err != nil {
				return p, err
			}
			if len(cur.data) > 0 {
				p.repairs = append(p.repairs, cutRepair(cur, 0, keepLast))
				p.actions = append(p.actions, repairAction{path: s.path, size: 0})
			}
			p.last = pr.last
			return p, nil
		}
		// The segment before is torn, or ends inside an Append that
		// continues here and never ends: this segment is a crash's
		// leftover. Remove it, and repair the one before.
		_, prevLast := prev.keepPoint(mark)
		rep := Repair{Segment: s.path, Bytes: int64(len(cur.data)), LastSeq: prevLast, Removed: true}
		if r.count > 0 {
			rep.DroppedFrom, rep.DroppedTo = s.first, r.last
			rep.Reason = fmt.Sprintf("segment starting at seq %d holds only records of an Append whose last record is missing", s.first)
		} else {
			rep.Reason = fmt.Sprintf("empty segment starting at seq %d follows a segment ending at seq %d", s.first, pr.last)
		}
		p.repairs = append(p.repairs, rep)
		p.actions = append(p.actions, repairAction{path: s.path, remove: true})
		i--
		cur = prev
	}
}

// checkBoundary checks that segment prev is whole and ends just before s
// starts.
func checkBoundary(prev scanned, s segment) error {
	pr := prev.r
	if pr.badAt >= 0 {
		return &CorruptError{Path: prev.seg.path, Offset: int64(pr.badAt), Seq: pr.last + 1,
			Reason: fmt.Sprintf("%s, and a later segment follows", pr.reason)}
	}
	if pr.last != s.first-1 {
		return boundaryError(prev.seg, int64(pr.lastOff), pr.last, s)
	}
	return nil
}

// cutRepair describes cutting segment c at keep, after seq keepLast.
func cutRepair(c scanned, keep int, keepLast Seq) Repair {
	r := c.r
	rep := Repair{Segment: c.seg.path, Offset: int64(keep), Bytes: int64(len(c.data) - keep), LastSeq: keepLast, Reason: r.reason}
	dropTo := max(r.last, r.tornTo)
	if dropTo > keepLast {
		rep.DroppedFrom, rep.DroppedTo = keepLast+1, dropTo
	}
	if r.end > keep {
		why := fmt.Sprintf("seqs %d..%d belong to an Append whose last record is missing", keepLast+1, r.last)
		if r.badAt >= 0 {
			why += ", then " + r.reason
		}
		rep.Reason = why
	}
	return rep
}

// apply carries the plan out, making each change durable.
func (p repairPlan) apply(dir string) error {
	removed := false
	for _, a := range p.actions {
		if a.remove {
			if err := os.Remove(a.path); err != nil {
				return fmt.Errorf("repair: %w", err)
			}
			removed = true
			continue
		}
		if err := truncateSync(a.path, a.size); err != nil {
			return err
		}
	}
	if removed {
		return fsutil.SyncDir(dir)
	}
	return nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("repair: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("repair: sync %s: %w", path, err)
	}
	return f.Close()
}
