package log

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// framePos is where a frame is in a log: its segment and offsets.
type framePos struct {
	seg      segment
	off, end int
}

// logFrames lists every frame of the (closed) log in dir, walking the
// uvarint lengths independently of the scanner under test.
func logFrames(t *testing.T, dir string) []framePos {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []framePos
	for _, s := range segs {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range frameOffsets(t, data) {
			size, k := uvarint(data[off:])
			out = append(out, framePos{seg: s, off: off, end: off + k + int(size)})
		}
	}
	return out
}

// batchLog makes a log of 10 single appends and then one Append of 12
// records that spans several segments. It returns the log's directory and
// its frames.
func batchLog(t *testing.T) (string, []framePos) {
	t.Helper()
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 300})
	appendN(t, l, 1, 10, Remote)
	var recs []Record
	for n := 11; n <= 22; n++ {
		recs = append(recs, Record{Payload: payloadFor(n)})
	}
	if seqs, err := l.Append(context.Background(), recs...); err != nil || seqs[0] != 11 {
		t.Fatalf("Append = %v, %v", seqs, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	frames := logFrames(t, dir)
	if len(frames) != 22 || frames[10].seg == frames[21].seg {
		t.Fatalf("%d frames, the batch in segments %s..%s: the test needs it to span segments", len(frames), frames[10].seg.path, frames[21].seg.path)
	}
	return dir, frames
}

// crashState copies the log in src as a crash at byte cut of frame i would
// leave it: that frame cut after cut bytes, later segments gone (or, for a
// cut at the end of a segment, the next one just created and empty).
func crashState(t *testing.T, src string, frames []framePos, i, cut int, emptyNext bool) string {
	t.Helper()
	dir := copyDir(t, src)
	f := frames[i]
	path := filepath.Join(dir, filepath.Base(f.seg.path))
	if err := os.Truncate(path, int64(f.off+cut)); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	for _, s := range segs {
		if s.first > f.seg.first {
			os.Remove(s.path)
		}
	}
	if emptyNext {
		if err := os.WriteFile(filepath.Join(dir, segmentName(Seq(i+2))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestIncompleteBatch cuts the log at every frame of an Append that spans
// segments (and inside some frames): a Reader yields none of the Append's
// records and its Last stays before it; Open cuts them all, reports it,
// and the next Append reuses their seqs (they were never acknowledged).
func TestIncompleteBatch(t *testing.T) {
	src, frames := batchLog(t)
	type state struct {
		name      string
		i, cut    int
		emptyNext bool
	}
	var states []state
	for i := 10; i < 22; i++ {
		f := frames[i]
		states = append(states, state{fmt.Sprintf("before record %d", i+1), i, 0, false})
		states = append(states, state{fmt.Sprintf("inside record %d", i+1), i, (f.end - f.off) / 2, false})
		if i < 21 {
			states = append(states, state{fmt.Sprintf("record %d whole", i+1), i, f.end - f.off, false})
			if frames[i+1].seg != f.seg {
				states = append(states, state{fmt.Sprintf("record %d ends its segment, next one empty", i+1), i, f.end - f.off, true})
			}
		}
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			dir := crashState(t, src, frames, s.i, s.cut, s.emptyNext)
			setMark(t, dir, 10)
			r := openReaderT(t, dir)
			if last, err := r.Last(); err != nil || last != 10 {
				t.Fatalf("Reader.Last = %d, %v; want 10", last, err)
			}
			if got := readAll(t, r, 1); len(got) != 10 {
				t.Fatalf("Reader yielded %d entries, want 10", len(got))
			}
			l := openT(t, dir, Options{SegmentSize: 300})
			if last, _ := l.Last(); last != 10 {
				t.Fatalf("Open kept up to seq %d, want 10", last)
			}
			reps := l.Repairs()
			if (s.i > 10 || s.cut > 0 || s.emptyNext) && len(reps) == 0 {
				t.Fatal("Open cut an incomplete Append without reporting it")
			}
			for _, rep := range reps {
				if rep.DroppedFrom != 0 && rep.DroppedFrom != 11 && !rep.Removed {
					t.Errorf("repair %s: dropped from %d, want 11", rep, rep.DroppedFrom)
				}
			}
			appendN(t, l, 11, 12, Local)
			if got := readAll(t, l, 1); len(got) != 12 {
				t.Fatalf("read %d entries after appending, want 12", len(got))
			}
		})
	}
}

// TestFollowBatch writes an Append that spans segments frame by frame,
// and mid-frame, as a writer does, under a following Reader: it sees none
// of the Append until its last record is there, then all of it.
func TestFollowBatch(t *testing.T) {
	full, frames := batchLog(t)
	dir := crashState(t, full, frames, 10, 0, false) // the 10 entries before the Append
	setMark(t, dir, 10)
	r := openReaderT(t, dir)
	it, _ := r.Iter(1)
	defer it.Close()
	var seen Seq
	follow := func() {
		t.Helper()
		for it.Next() {
			if it.Entry().Seq != seen+1 {
				t.Fatalf("follower got seq %d after %d", it.Entry().Seq, seen)
			}
			seen++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	follow()
	if seen != 10 {
		t.Fatalf("follower saw %d entries, want 10", seen)
	}
	for i := 10; i < 22; i++ {
		f := frames[i]
		data, _ := os.ReadFile(f.seg.path)
		path := filepath.Join(dir, filepath.Base(f.seg.path))
		for _, part := range [][2]int{{f.off, f.off + 3}, {f.off + 3, f.end}} {
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data[part[0]:part[1]])
			w.Close()
			follow()
			last, err := r.Last()
			want := Seq(10)
			if i == 21 && part[1] == f.end {
				want = 22
			}
			if err != nil || last != want || seen != want {
				t.Fatalf("after writing bytes %d..%d of record %d: Last %d (%v), follower at %d; want %d", part[0], part[1], i+1, last, err, seen, want)
			}
		}
	}
}

// TestGroupBatches appends multi-record calls from many goroutines with
// group commit: on disk, each call's records are one batch of their own —
// consecutive, all but the last flagged "more".
func TestGroupBatches(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{Durability: SyncGroup, SegmentSize: 4096})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 0; c < 40; c++ {
				n := 1 + (w+c)%4
				recs := make([]Record, n)
				for i := range recs {
					recs[i] = Record{Payload: []byte(fmt.Sprintf(`{"w":%d,"c":%d,"i":%d,"n":%d}`, w, c, i, n))}
				}
				if _, err := l.Append(context.Background(), recs...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	// Decode the flags and payloads by hand: the flags byte is the 21st of
	// a record, the payload follows it.
	type call struct{ W, C, I, N int }
	var run []call
	calls := 0
	for _, f := range logFrames(t, dir) {
		data, _ := os.ReadFile(f.seg.path)
		_, k := uvarint(data[f.off:])
		rec := data[f.off+k : f.end]
		var p call
		if err := json.Unmarshal(rec[21:], &p); err != nil {
			t.Fatal(err)
		}
		run = append(run, p)
		if rec[20]&0x02 != 0 {
			continue
		}
		// The last record of a batch: the batch is exactly one call.
		for i, q := range run {
			if q.W != run[0].W || q.C != run[0].C || q.I != i || q.N != len(run) {
				t.Fatalf("batch %v is not one call's records", run)
			}
		}
		run, calls = run[:0], calls+1
	}
	if len(run) != 0 || calls != 6*40 {
		t.Fatalf("%d batches, %d records left over; want %d batches", calls, len(run), 6*40)
	}
}

// TestTornFrameCompletedMeanwhile: a Reader finds a frame torn (the
// writer is writing it), reads it again, still torn, and before it looks at
// the rest of the segment the writer finishes it and writes the next one.
// That is not corruption: the Reader yields both. (It called the log
// corrupt, "a valid record (seq 3) follows", judging the frame in the old
// bytes and what follows it in the new ones; seen once in the follower
// stress test under load.)
func TestTornFrameCompletedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	appendN(t, l, 1, 1, Remote)
	l.Close()
	segs, _ := listSegments(dir)
	var more []byte
	for s := Seq(2); s <= 3; s++ {
		more = appendFrame(more, appendRecord(nil, s, int64(s), &Record{Payload: payloadFor(int(s))}, 0))
	}
	write := func(b []byte) {
		f, err := os.OpenFile(segs[0].path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Close()
	}
	write(more[:10]) // record 2, torn
	it := newIter(dir, l.Node(), 1, nil, nil)
	defer it.Close()
	it.beforeRest = func() {
		write(more[10:]) // the writer finishes record 2 and writes record 3
		it.beforeRest = nil
	}
	var got []Seq
	for it.Next() {
		got = append(got, it.Entry().Seq)
	}
	if err := it.Err(); err != nil || len(got) != 3 {
		t.Fatalf("read %v, then %v; want seqs 1, 2, 3 and no error", got, it.Err())
	}
}
