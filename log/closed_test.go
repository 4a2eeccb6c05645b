package log

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCleanOpenReadsNoSegment: a log closed cleanly and untouched since is
// opened without reading a segment whole (before: the last two, 16 MiB with
// full segments, which made one sluice append ×3–5 slower on a log of full
// segments). Anything else since the close — an append, a torn tail, a
// flipped byte in the last record, a record of the clean state lost —
// makes Open scan as before, and it repairs or refuses as before.
func TestCleanOpenReadsNoSegment(t *testing.T) {
	var scans []string
	testHookScan = func(p string) { scans = append(scans, filepath.Base(p)) }
	defer func() { testHookScan = nil }()
	src := t.TempDir()
	buildLog(t, src, 300, Options{SegmentSize: 2048})
	if segs, _ := listSegments(src); len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		scan   bool // Open must scan
		last   Seq  // what the log holds after Open
	}{
		{"closed cleanly", func(*testing.T, string) {}, false, 300},
		{"closed cleanly after an append", func(t *testing.T, dir string) {
			l := openT(t, dir, Options{SegmentSize: 2048})
			appendN(t, l, 301, 301, Local)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}, false, 301},
		{"record of the clean state lost", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, closedFile)) }, true, 300},
		{"record of the clean state torn", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, closedFile), []byte(`{"tail":"0`), 0o644)
		}, true, 300},
		{"garbage appended to the tail", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(tailPath(t, dir), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0, 0, 0, 7, 7})
			f.Close()
		}, true, 300},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			c.damage(t, dir)
			scans = nil
			l, err := Open(dir, Options{SegmentSize: 2048})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got := len(scans) > 0; got != c.scan {
				t.Errorf("Open read %v whole; want a scan: %v", scans, c.scan)
			}
			if last, _ := l.Last(); last != c.last {
				t.Fatalf("Last = %d, want %d", last, c.last)
			}
			if got := readAll(t, l, 1); len(got) != int(c.last) {
				t.Fatalf("read %d entries, want %d", len(got), c.last)
			}
			appendN(t, l, int(c.last)+1, int(c.last)+1, Remote)
		})
	}
}
