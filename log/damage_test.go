package log

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// noSpin runs f and fails the test if it does not return within 20 s: a
// damaged log must make readers fail, not loop.
func noSpin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return within 20 s", what)
	}
}

// iterErr reads src from 1 to the end and returns how many entries it
// yielded and the error it stopped with.
func iterErr(t *testing.T, src Source) (n int, err error) {
	t.Helper()
	noSpin(t, "an iteration", func() {
		it, err2 := src.Iter(1)
		if err2 != nil {
			err = err2
			return
		}
		defer it.Close()
		for it.Next() {
			n++
		}
		err = it.Err()
	})
	return n, err
}

// wantCorrupt checks that err is a *CorruptError whose reason says want.
func wantCorrupt(t *testing.T, what string, err error, seq Seq, want string) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(ce.Reason, want) {
		t.Fatalf("%s: err = %v; want a CorruptError at seq %d saying %q", what, err, seq, want)
	}
}

// TestMissingFirstSegment (issue 10, item 3): a deleted first segment fails
// every reader, also one opened before, and the writer, naming the missing
// seqs; it used to be skipped silently by readers.
func TestMissingFirstSegment(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 200, Options{SegmentSize: 2048})
	segs, _ := listSegments(dir)
	before := openReaderT(t, dir)
	os.Remove(segs[0].path)
	want := "seqs 1.." + itoa(segs[1].first-1) + " are missing"
	if _, err := OpenReader(dir); err == nil {
		t.Fatal("OpenReader of a log without its first segment succeeded")
	} else {
		wantCorrupt(t, "OpenReader", err, 1, want)
	}
	_, err := before.Last()
	wantCorrupt(t, "Reader.Last", err, 1, want)
	n, err := iterErr(t, before)
	wantCorrupt(t, "Reader.Iter", err, 1, want)
	if n != 0 {
		t.Fatalf("the iterator yielded %d entries", n)
	}
	_, err = Open(dir, Options{})
	wantCorrupt(t, "Open", err, 1, want)
}

// TestSegmentGap (issue 10, item 11): a segment missing in the middle
// makes iterators of a Reader and of the writer fail at the gap, naming
// the missing seqs.
func TestSegmentGap(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 300, Options{SegmentSize: 2048})
	segs, _ := listSegments(dir)
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	gone := segs[2]
	os.Remove(gone.path)
	want := "seqs " + itoa(gone.first) + ".." + itoa(segs[3].first-1) + " are missing"
	r := openReaderT(t, dir)
	n, err := iterErr(t, r)
	wantCorrupt(t, "Reader.Iter", err, gone.first, want)
	if Seq(n) != gone.first-1 {
		t.Fatalf("the Reader yielded %d entries before the gap, want %d", n, gone.first-1)
	}
	l := openT(t, dir, Options{})
	n, err = iterErr(t, l)
	wantCorrupt(t, "Log.Iter", err, gone.first, want)
	if Seq(n) != gone.first-1 {
		t.Fatalf("the writer's iterator yielded %d entries before the gap", n)
	}
}

// writeSegment writes a segment file of format 2 records for seqs
// first..last with payloadFor's payloads.
func writeSegment(t *testing.T, dir string, name Seq, first, last Seq) {
	t.Helper()
	var b []byte
	for s := first; s <= last; s++ {
		b = appendFrame(b, appendRecord(nil, s, int64(s), &Record{Payload: payloadFor(int(s))}, 0))
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(name)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOverlappingSegments (issue 10, item 11): segment 1 holds seqs 1-3,
// segment 2 holds 2-4. Reader.Last, the iterators and Open all fail with
// a CorruptError naming the overlap, and nothing spins (the indexer spun
// at 100% CPU on it: Last said 4 while iterators ended at 3).
func TestOverlappingSegments(t *testing.T) {
	for _, where := range []string{"last", "middle"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{}) // FORMAT, NODE, HEAD
			l.Close()
			os.Remove(filepath.Join(dir, segmentName(1)))
			writeSegment(t, dir, 1, 1, 3)
			writeSegment(t, dir, 2, 2, 4)
			if where == "middle" {
				writeSegment(t, dir, 5, 5, 7)
			}
			want := "segments overlap: seqs 2..3 are in both"
			r := openReaderT(t, dir)
			n, err := iterErr(t, r)
			wantCorrupt(t, "Reader.Iter", err, 2, want)
			if n != 3 {
				t.Fatalf("the iterator yielded %d entries, want 3", n)
			}
			var last Seq
			noSpin(t, "Reader.Last", func() { last, err = r.Last() })
			if where == "last" {
				wantCorrupt(t, "Reader.Last", err, 2, want)
				_, err = Open(dir, Options{})
				wantCorrupt(t, "Open", err, 2, want)
			} else if err != nil || last != 7 {
				t.Fatalf("Reader.Last = %d, %v; want 7 (it checks the last boundary only)", last, err)
			}
		})
	}
}

func itoa(s Seq) string { return strconv.FormatUint(uint64(s), 10) }

// TestLostTail (issue 10, item 4): losing acknowledged entries at the end
// of the log — the last segment deleted or emptied, a flipped byte in the
// last record — is an error naming the lost seqs, from Open (which changes
// nothing) and Reader.Last; not a repair, and their seqs are not handed
// out again.
func TestLostTail(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 300, Options{SegmentSize: 2048})
	segs, _ := listSegments(src)
	lastSeg := segs[len(segs)-1]
	cases := []struct {
		name   string
		damage func(dir string)
		from   Seq
		says   string
	}{
		{"last segment deleted", func(dir string) { os.Remove(filepath.Join(dir, filepath.Base(lastSeg.path))) }, lastSeg.first, "the log ends at seq " + itoa(lastSeg.first-1)},
		{"last segment emptied", func(dir string) { os.Truncate(filepath.Join(dir, filepath.Base(lastSeg.path)), 0) }, lastSeg.first, "the log ends at seq " + itoa(lastSeg.first-1)},
		{"byte flipped in the last record", func(dir string) {
			path := filepath.Join(dir, filepath.Base(lastSeg.path))
			data, _ := os.ReadFile(path)
			data[len(data)-3] ^= 0x20
			os.WriteFile(path, data, 0o644)
		}, 300, "checksum mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			c.damage(dir)
			files := snapshot(t, dir)
			_, err := Open(dir, Options{})
			var le *LostError
			if !errors.As(err, &le) || !errors.Is(err, ErrLost) || le.From != c.from || le.To != 300 || !strings.Contains(err.Error(), c.says) ||
				!strings.Contains(err.Error(), "--accept-loss") {
				t.Fatalf("Open = %v; want a LostError for seqs %d..300 saying %q", err, c.from, c.says)
			}
			if now := snapshot(t, dir); now != files {
				t.Fatal("a failed Open changed the log's files")
			}
			r := openReaderT(t, dir)
			if _, err := r.Last(); !errors.As(err, &le) || le.From != c.from || le.To != 300 {
				t.Fatalf("Reader.Last = %v; want a LostError for seqs %d..300", err, c.from)
			}

			// Accepting the loss keeps the seqs as lost.
			l, err := Open(dir, Options{AcceptLoss: true})
			if err != nil {
				t.Fatal(err)
			}
			if lost := l.Lost(); lost == nil || lost.From != c.from || lost.To != 300 {
				t.Fatalf("Lost = %+v", lost)
			}
			if lo, err := ReadLastOpen(dir); err != nil || lo.Lost == nil || lo.Lost.From != c.from {
				t.Fatalf("LASTOPEN = %+v, %v", lo, err)
			}
			if seqs, err := l.Append(context.Background(), Record{Payload: payloadFor(301)}); err != nil || seqs[0] != 301 {
				t.Fatalf("Append after the accepted loss = %v, %v; want seq 301", seqs, err)
			}
			if _, err := l.Get(c.from); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(%d) of a lost seq = %v", c.from, err)
			}
			l.Close()
			for _, src := range []Source{openReaderT(t, dir), openT(t, dir, Options{})} {
				it, _ := src.Iter(1)
				var got []Seq
				for it.Next() {
					got = append(got, it.Entry().Seq)
				}
				if it.Err() != nil || len(got) != int(c.from) || got[len(got)-2] != c.from-1 || got[len(got)-1] != 301 {
					t.Fatalf("after the accepted loss: %d entries ending %v, %v", len(got), got[max(0, len(got)-3):], it.Err())
				}
				if p := it.(Positioner).Position(); p != 301 {
					t.Fatalf("Position = %d, want 301", p)
				}
				if last, err := src.Last(); err != nil || last != 301 {
					t.Fatalf("Last = %d, %v", last, err)
				}
				it.Close()
			}
		})
	}
}

// snapshot describes every file of dir: names, sizes and contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		data, _ := os.ReadFile(filepath.Join(dir, de.Name()))
		b.WriteString(de.Name() + "\n")
		b.Write(data)
	}
	return b.String()
}

// TestStraySegmentNames (issue 10, items 5 and 12): tidwall/wal deletes
// segments when it sees NNN.START or NNN.END files, and a segment named
// 18446744073709551615 made append acknowledge seq 0. Writer and readers
// refuse such a directory, naming the file, and change nothing.
func TestStraySegmentNames(t *testing.T) {
	src := t.TempDir()
	buildLog(t, src, 100, Options{SegmentSize: 2048})
	segs, _ := listSegments(src)
	data, _ := os.ReadFile(segs[1].path)
	for _, name := range []string{
		segmentName(segs[1].first) + ".END",
		segmentName(segs[1].first) + ".START",
		"18446744073709551615",
		"99999999999999999999",
		"0000000000000000000x",
		"00000000000000000000",
		"1",
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, src)
			os.WriteFile(filepath.Join(dir, name), data, 0o644)
			files := snapshot(t, dir)
			if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("Open = %v; want an error naming %s", err, name)
			}
			if _, err := OpenReader(dir); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("OpenReader = %v; want an error naming %s", err, name)
			}
			if snapshot(t, dir) != files {
				t.Fatal("the log's files changed")
			}
		})
	}
}

// TestLastOpenBeforeCut (issue 10, item 6): Open records what it repairs in
// LASTOPEN before it cuts anything, so a failure on the way does not lose
// the report: when LASTOPEN cannot be written, nothing is cut, and the next
// Open cuts and reports.
func TestLastOpenBeforeCut(t *testing.T) {
	dir := t.TempDir()
	seg := buildLog(t, dir, 20, Options{})
	setMark(t, dir, 20)
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{40, 1, 2, 3}) // a torn frame
	f.Close()
	torn, _ := os.ReadFile(seg)
	lastOpen := filepath.Join(dir, lastOpenFile)
	os.Remove(lastOpen)
	os.MkdirAll(filepath.Join(lastOpen, "blocker"), 0o755) // rename over it fails
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open succeeded without writing LASTOPEN")
	}
	if now, _ := os.ReadFile(seg); !bytes.Equal(now, torn) {
		t.Fatal("Open cut the tail before it had recorded the repair")
	}
	os.RemoveAll(lastOpen)
	l := openT(t, dir, Options{})
	lo, err := ReadLastOpen(dir)
	if err != nil || len(lo.Repairs) != 1 || lo.Repairs[0].Bytes != 4 || len(l.Repairs()) != 1 {
		t.Fatalf("LASTOPEN = %+v, %v; Repairs %v", lo, err, l.Repairs())
	}
}
