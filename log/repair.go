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
	// DroppedFrom and DroppedTo are the seqs named by intact record
	// headers in the dropped bytes (a record torn mid-write); both are 0
	// when the dropped bytes held no header (a zero-filled or garbage
	// tail).
	DroppedFrom Seq `json:"dropped_from,omitempty"`
	DroppedTo   Seq `json:"dropped_to,omitempty"`
	// Reason says what was wrong with the first dropped byte.
	Reason string `json:"reason"`
	// Removed is set when an empty segment after a damaged one was deleted.
	Removed bool `json:"removed,omitempty"`
}

// String describes the repair in one line.
func (r Repair) String() string {
	what := "cut"
	if r.Removed {
		what = "removed empty segment"
	}
	s := fmt.Sprintf("%s %s at offset %d: dropped %d bytes after seq %d (%s)", what, filepath.Base(r.Segment), r.Offset, r.Bytes, r.LastSeq, r.Reason)
	if r.DroppedFrom != 0 {
		s += fmt.Sprintf("; torn records seq %d..%d", r.DroppedFrom, r.DroppedTo)
	}
	return s
}

// repairTail validates the last segment of dir and cuts a torn tail off it.
// Corruption that is not a torn tail (valid records follow the damage) is
// returned as a *CorruptError and nothing is changed.
func repairTail(dir string) ([]Repair, error) {
	var repairs []Repair
	for {
		segs, err := listSegments(dir)
		if err != nil {
			return repairs, err
		}
		if len(segs) == 0 {
			return repairs, nil
		}
		if segs[0].first != 1 {
			return repairs, fmt.Errorf("%w: %s: first segment starts at seq %d, want 1", ErrCorrupt, dir, segs[0].first)
		}
		last := segs[len(segs)-1]
		data, err := os.ReadFile(last.path)
		if err != nil {
			return repairs, fmt.Errorf("repair: %w", err)
		}
		r := scanSegment(data, last.first)
		if r.badAt >= 0 {
			if !r.torn {
				return repairs, &CorruptError{Path: last.path, Offset: int64(r.badAt), Seq: r.last + 1,
					Reason: fmt.Sprintf("%s, and a valid record (seq %d) follows, so this is not a torn tail", r.reason, r.resumes)}
			}
			rep := Repair{Segment: last.path, Offset: int64(r.badAt), Bytes: int64(len(data) - r.badAt), LastSeq: r.last, Reason: r.reason}
			if r.tornTo != 0 {
				rep.DroppedFrom, rep.DroppedTo = r.last+1, r.tornTo
			}
			if err := truncateSync(last.path, int64(r.badAt)); err != nil {
				return repairs, err
			}
			repairs = append(repairs, rep)
		}
		if r.count > 0 || len(segs) == 1 {
			return repairs, nil
		}
		// The last segment is empty. It is only right if the one before it
		// ends just before it starts; otherwise (a crash cut the previous
		// one) remove it and repair the previous one.
		prev := segs[len(segs)-2]
		pdata, err := os.ReadFile(prev.path)
		if err != nil {
			return repairs, fmt.Errorf("repair: %w", err)
		}
		pr := scanSegment(pdata, prev.first)
		if pr.badAt < 0 && pr.last == last.first-1 {
			return repairs, nil
		}
		if err := os.Remove(last.path); err != nil {
			return repairs, fmt.Errorf("repair: %w", err)
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return repairs, err
		}
		repairs = append(repairs, Repair{Segment: last.path, LastSeq: pr.last, Removed: true,
			Reason: fmt.Sprintf("empty segment starting at seq %d follows a segment ending at seq %d", last.first, pr.last)})
	}
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
