package chaos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicedb/sluice/log"
)

// Tear is what tearTail did to a log's tail.
type Tear struct {
	Segment string  // the segment file torn
	Mark    log.Seq // the log's durable mark when it was torn
	// Cut is the seq of the record cut in the middle (everything from it
	// on is gone; Open also drops the rest of its Append); 0 when the tail
	// was torn by adding a partial record instead (a write cut short that
	// was never acknowledged).
	Cut log.Seq
	// Offset is where the segment now ends; Bytes how many bytes were cut
	// (negative: added).
	Offset int64
	Bytes  int64
}

// String describes the tear for a schedule's printout.
func (t Tear) String() string {
	if t.Cut > 0 {
		return fmt.Sprintf("cut %d bytes mid-record at seq %d (mark %d), %s now ends at %d", t.Bytes, t.Cut, t.Mark, filepath.Base(t.Segment), t.Offset)
	}
	return fmt.Sprintf("added a %d-byte partial record (mark %d), %s now ends at %d", -t.Bytes, t.Mark, filepath.Base(t.Segment), t.Offset)
}

// frame is one record's place in a segment.
type frame struct {
	off, end int64
	seq      log.Seq
}

// segmentFrames reads the whole frames of a segment file (log/doc.go): a
// uvarint length, then the record, whose seq is 8 little-endian bytes
// after its 4-byte crc. It stops at a frame that does not fit.
func segmentFrames(data []byte) []frame {
	var fs []frame
	off := 0
	for off < len(data) {
		n, k := binary.Uvarint(data[off:])
		if k <= 0 || n < 12 || uint64(len(data)-off-k) < n {
			break
		}
		rec := data[off+k : off+k+int(n)]
		fs = append(fs, frame{off: int64(off), end: int64(off + k + int(n)), seq: log.Seq(binary.LittleEndian.Uint64(rec[4:12]))})
		off += k + int(n)
	}
	return fs
}

// lastSegment returns the path of the segment holding the log's tail.
func lastSegment(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", errors.New("no segment")
	}
	sort.Strings(names) // 20-digit names sort as their seqs
	return names[len(names)-1], nil
}

// tearTail tears the tail of the log in dir (its writer must be dead), as
// a crash mid-write leaves it. If mayLose and records above the durable
// mark exist (a log written with durability none: a power loss may take
// them), it cuts one of them in the middle; otherwise it adds a partial
// copy of the last record, as a write cut short. Records at or below the
// mark are never touched: they were acknowledged as durable.
func tearTail(dir string, rng *rand.Rand, mayLose bool) (Tear, error) {
	mark, err := log.ReadMark(dir)
	if err != nil {
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	seg, err := lastSegment(dir)
	if err != nil {
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	data, err := os.ReadFile(seg)
	if err != nil {
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	fs := segmentFrames(data)
	if len(fs) == 0 {
		return Tear{}, fmt.Errorf("tear %s: no whole record in %s", dir, filepath.Base(seg))
	}
	t := Tear{Segment: seg, Mark: mark}
	var above []frame
	for _, f := range fs {
		if f.seq > mark {
			above = append(above, f)
		}
	}
	if mayLose && len(above) > 0 {
		f := above[rng.IntN(len(above))]
		cut := f.off + 1 + rng.Int64N(f.end-f.off-1) // strictly inside the frame
		t.Cut, t.Offset, t.Bytes = f.seq, cut, int64(len(data))-cut
		if err := os.Truncate(seg, cut); err != nil {
			return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
		}
		return t, nil
	}
	last := fs[len(fs)-1]
	part := data[last.off : last.off+1+rng.Int64N(last.end-last.off-1)]
	file, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	if _, err := file.Write(part); err != nil {
		file.Close()
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	if err := file.Close(); err != nil {
		return Tear{}, fmt.Errorf("tear %s: %w", dir, err)
	}
	t.Offset, t.Bytes = int64(len(data)+len(part)), -int64(len(part))
	return t, nil
}
