package log

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// buildLog writes n entries to a new log in dir and closes it. It returns
// the path of the last segment.
func buildLog(t *testing.T, dir string, n int, opts Options) string {
	t.Helper()
	l := openT(t, dir, opts)
	appendN(t, l, 1, n, Remote)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	return segs[len(segs)-1].path
}

// setMark rewrites the durable mark of the (closed) log in dir: a test that
// tears the last record makes it as if that Append had never returned.
func setMark(t *testing.T, dir string, seq Seq) {
	t.Helper()
	if err := writeHeadFile(dir, seq); err != nil {
		t.Fatal(err)
	}
}

// frameOffsets returns where each frame of a segment starts, found by
// walking the uvarint lengths independently of the scanner under test.
func frameOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off < len(data); {
		size, k := uvarint(data[off:])
		if k <= 0 {
			t.Fatalf("bad frame at %d", off)
		}
		offs = append(offs, off)
		off += k + int(size)
	}
	return offs
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkReopen opens dir, expects it to hold exactly seqs 1..want with their
// payloads, appends one more entry and reads everything again.
func checkReopen(t *testing.T, dir string, want int) *Log {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	if last, _ := l.Last(); last != Seq(want) {
		t.Fatalf("Last = %d, want %d", last, want)
	}
	if got := readAll(t, l, 1); len(got) != want {
		t.Fatalf("read %d entries, want %d", len(got), want)
	}
	appendN(t, l, want+1, want+1, Local)
	if got := readAll(t, l, 1); len(got) != want+1 {
		t.Fatalf("after append: read %d entries, want %d", len(got), want+1)
	}
	return l
}

// TestTruncateLastRecord cuts the log at every byte offset inside its last
// record: Open keeps all earlier records, reports the cut, and the log takes
// new appends.
func TestTruncateLastRecord(t *testing.T) {
	const n = 20
	src := t.TempDir()
	seg := buildLog(t, src, n, Options{})
	setMark(t, src, n-1) // the last Append was torn, so never acknowledged
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	offs := frameOffsets(t, data)
	if len(offs) != n {
		t.Fatalf("%d frames, want %d", len(offs), n)
	}
	lastStart := offs[n-1]
	for cut := lastStart; cut < len(data); cut++ {
		dir := copyDir(t, src)
		if err := os.Truncate(filepath.Join(dir, filepath.Base(seg)), int64(cut)); err != nil {
			t.Fatal(err)
		}
		l := checkReopen(t, dir, n-1)
		reps := l.Repairs()
		if cut == lastStart {
			if len(reps) != 0 {
				t.Fatalf("cut at a frame boundary: unexpected repair %v", reps)
			}
			continue
		}
		if len(reps) != 1 {
			t.Fatalf("cut at %d: repairs = %v, want one", cut, reps)
		}
		r := reps[0]
		if r.Offset != int64(lastStart) || r.Bytes != int64(cut-lastStart) || r.LastSeq != n-1 {
			t.Fatalf("cut at %d: repair %+v", cut, r)
		}
		// Once the frame's length and the record header are intact, the
		// repair names the torn seq.
		_, k := uvarint(data[lastStart:])
		if cut-lastStart >= k+headerSize && (r.DroppedFrom != n || r.DroppedTo != n) {
			t.Fatalf("cut at %d: repair %+v, want torn seq %d named", cut, r, n)
		}
		lo, err := ReadLastOpen(dir)
		if err != nil || len(lo.Repairs) != 1 || lo.Repairs[0].Bytes != r.Bytes {
			t.Fatalf("LASTOPEN = %+v, %v", lo, err)
		}
		l.Close()
	}
}

// TestGarbageTails appends zero-filled and random tails (what a crash can
// leave after a file's size was extended): Open cuts exactly the tail.
func TestGarbageTails(t *testing.T) {
	const n = 50
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(k int) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	cases := map[string][]byte{
		"one zero":     {0},
		"zeros 4096":   make([]byte, 4096),
		"zeros 1MiB":   make([]byte, 1<<20),
		"random 7":     random(7),
		"random 5000":  random(5000),
		"ff 300":       bytes.Repeat([]byte{0xff}, 300),
		"huge length":  {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3},
		"short length": {5, 1, 2, 3, 4, 5},
	}
	src := t.TempDir()
	seg := buildLog(t, src, n, Options{})
	for name, tail := range cases {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, src)
			path := filepath.Join(dir, filepath.Base(seg))
			before, _ := os.Stat(path)
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail)
			f.Close()
			l := checkReopen(t, dir, n)
			reps := l.Repairs()
			if len(reps) != 1 || reps[0].Bytes != int64(len(tail)) || reps[0].Offset != before.Size() || reps[0].LastSeq != n {
				t.Fatalf("repairs = %+v, want one cutting %d bytes at %d", reps, len(tail), before.Size())
			}
		})
	}
}

// TestTornTailReader checks that a read-only reader stops cleanly before a
// torn tail, without changing the files.
func TestTornTailReader(t *testing.T) {
	src := t.TempDir()
	seg := buildLog(t, src, 30, Options{})
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(make([]byte, 100))
	f.Close()
	before, _ := os.ReadFile(seg)
	r, err := OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if last, err := r.Last(); err != nil || last != 30 {
		t.Fatalf("Last = %d, %v; want 30", last, err)
	}
	if got := readAll(t, r, 1); len(got) != 30 {
		t.Fatalf("read %d entries", len(got))
	}
	after, _ := os.ReadFile(seg)
	if !bytes.Equal(before, after) {
		t.Fatal("reader changed the segment")
	}
}

// TestCorruptionMidLog flips one byte inside a record that has valid records
// after it: that is an error naming the seq, from Open (last segment, when
// the log was not closed cleanly: a log closed cleanly and untouched since
// is not read whole at open, see closedFile), Get, Iter and a Reader —
// never a silent skip, and never "repaired" away.
func TestCorruptionMidLog(t *testing.T) {
	const n = 200
	src := t.TempDir()
	buildLog(t, src, n, Options{SegmentSize: 4096})
	segs, _ := listSegments(src)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	for _, which := range []string{"first segment", "last segment", "last segment, not closed cleanly"} {
		t.Run(which, func(t *testing.T) {
			dir := copyDir(t, src)
			segs, _ := listSegments(dir)
			s := segs[0]
			if which != "first segment" {
				s = segs[len(segs)-1]
			}
			if which == "last segment, not closed cleanly" {
				os.Remove(filepath.Join(dir, closedFile))
			}
			data, _ := os.ReadFile(s.path)
			offs := frameOffsets(t, data)
			victim := s.first + 1 // the second record of the segment
			off := offs[1] + 30   // inside its payload
			data[off] ^= 0x40
			os.WriteFile(s.path, data, 0o644)
			orig := append([]byte(nil), data...)

			l, err := Open(dir, Options{SegmentSize: 4096})
			if which == "last segment, not closed cleanly" {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Seq != victim || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open: err = %v, want corruption at seq %d", err, victim)
				}
				if now, _ := os.ReadFile(s.path); !bytes.Equal(now, orig) {
					t.Fatal("Open changed a corrupt segment")
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer l.Close()
				if _, err := l.Get(victim); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Get(%d): err = %v, want ErrCorrupt", victim, err)
				}
				if e, err := l.Get(victim + 1); err != nil || e.Seq != victim+1 {
					t.Fatalf("Get(%d) = %v", victim+1, err)
				}
				checkIterCorrupt(t, l, victim)
			}
			r, err := OpenReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkIterCorrupt(t, r, victim)
		})
	}
}

func checkIterCorrupt(t *testing.T, src Source, victim Seq) {
	t.Helper()
	it, _ := src.Iter(1)
	defer it.Close()
	var n Seq
	for it.Next() {
		n++
	}
	var ce *CorruptError
	if !errors.As(it.Err(), &ce) || ce.Seq != victim || n != victim-1 {
		t.Fatalf("Iter: read %d then err = %v, want corruption at seq %d", n, it.Err(), victim)
	}
}

func TestNotALog(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNotLog) {
		t.Fatalf("Open(dir with other files): err = %v, want ErrNotLog", err)
	}
	if _, err := os.Stat(filepath.Join(dir, formatFile)); err == nil {
		t.Fatal("Open wrote into a foreign directory")
	}
	if _, err := OpenReader(dir); !errors.Is(err, ErrNotLog) {
		t.Fatalf("OpenReader: err = %v, want ErrNotLog", err)
	}
	if _, err := OpenReader(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReader(missing): err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, formatFile), []byte("something else\n"), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrNotLog) {
		t.Fatalf("Open(wrong FORMAT): err = %v, want ErrNotLog", err)
	}
}
