package log

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// closedFile records how a writer left the log when it closed it cleanly:
// the tail segment's name and size, the length of its last frame and that
// record's seq, and the segment before it. Open trusts it instead of
// reading the last two segments whole when they are exactly as recorded:
// the tail segment's size and the one before it too, and the last frame
// reads back as a valid record of that seq ending an Append (so damage to
// the last record is still found at open). Any other change since — an
// append, a cut, a crash mid-write, another segment — changes a size or a
// name, and Open scans as before. It is written without fsync: lost or
// torn, it only costs a full scan.
const closedFile = "CLOSED"

type closedState struct {
	Tail     string `json:"tail"`
	Size     int64  `json:"size"`
	LastLen  int    `json:"last_len"` // the tail's last frame, in bytes
	Last     Seq    `json:"last"`
	Prev     string `json:"prev,omitempty"`
	PrevSize int64  `json:"prev_size,omitempty"`
}

// writeClosed records how l leaves the log; a tail whose last frame is not
// known (empty, or cut back since Open) is not recorded, and an old record
// is removed. Failures are ignored: the next Open scans.
func (l *Log) writeClosed() {
	path := filepath.Join(l.dir, closedFile)
	os.Remove(path)
	if l.tailLastLen <= 0 || l.tailSize <= 0 {
		return
	}
	st := closedState{Tail: segmentName(l.tailFirst), Size: int64(l.tailSize), LastLen: l.tailLastLen, Last: Seq(l.last.Load())}
	segs, err := listSegments(l.dir)
	if err != nil || len(segs) == 0 || segs[len(segs)-1].path != segmentPath(l.dir, l.tailFirst) {
		return
	}
	if len(segs) > 1 {
		prev := segs[len(segs)-2]
		fi, err := os.Stat(prev.path)
		if err != nil {
			return
		}
		st.Prev, st.PrevSize = filepath.Base(prev.path), fi.Size()
	}
	if b, err := json.Marshal(st); err == nil {
		os.WriteFile(path, b, 0o644)
	}
}

// cleanPlan returns the plan for a log left as closedFile records (nothing
// to repair) and the tail's last frame length, or false if it is not.
func cleanPlan(dir string, segs []segment) (repairPlan, int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, closedFile))
	if err != nil || len(segs) == 0 || checkFirst(segs) != nil {
		return repairPlan{}, 0, false
	}
	var st closedState
	if json.Unmarshal(b, &st) != nil || st.LastLen <= 0 || int64(st.LastLen) > st.Size {
		return repairPlan{}, 0, false
	}
	tail := segs[len(segs)-1]
	if filepath.Base(tail.path) != st.Tail || (len(segs) > 1) != (st.Prev != "") {
		return repairPlan{}, 0, false
	}
	if len(segs) > 1 {
		prev := segs[len(segs)-2]
		fi, err := os.Stat(prev.path)
		if filepath.Base(prev.path) != st.Prev || err != nil || fi.Size() != st.PrevSize || prev.first >= tail.first {
			return repairPlan{}, 0, false
		}
	} else if tail.first != 1 {
		return repairPlan{}, 0, false
	}
	f, err := os.Open(tail.path)
	if err != nil {
		return repairPlan{}, 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() != st.Size {
		return repairPlan{}, 0, false
	}
	frame := make([]byte, st.LastLen)
	if _, err := f.ReadAt(frame, st.Size-int64(st.LastLen)); err != nil {
		return repairPlan{}, 0, false
	}
	rec, n, fs := readFrame(frame)
	if fs != frameOK || n != len(frame) {
		return repairPlan{}, 0, false
	}
	e, flags, why := decodeRecord(rec)
	if why != "" || e.Seq != st.Last || flags&flagMore != 0 || st.Last < tail.first {
		return repairPlan{}, 0, false
	}
	return repairPlan{last: st.Last}, st.LastLen, true
}
