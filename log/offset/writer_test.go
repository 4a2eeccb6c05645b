package offset

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// Helpers that write flumelog-offset files the way the JavaScript writer
// does, and read them back with bounded loops. They encode and decode the
// format themselves, without the package's trailer, putTrailer or
// frameSize: TestTrailerBytes checks them against hand-written bytes.

// appendBE appends v big-endian in w bytes.
func appendBE(dst []byte, v uint64, w int) []byte {
	for i := w - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// beUint decodes the big-endian unsigned integer b holds.
func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// appendFrame appends to file (a whole flumelog-offset file so far) a frame
// holding payload, with a w-byte trailer.
func appendFrame(file, payload []byte, w int) []byte {
	file = appendBE(file, uint64(len(payload)), 4)
	file = append(file, payload...)
	file = appendBE(file, uint64(len(payload)), 4)
	return appendBE(file, uint64(len(file)+w), w)
}

// buildLog returns a file of frames holding payloads, with w-byte trailers.
func buildLog(w int, payloads ...[]byte) []byte {
	var file []byte
	for _, p := range payloads {
		file = appendFrame(file, p, w)
	}
	return file
}

// frameOffsets returns the offsets of the frames of a valid file, and its
// size as the last element.
func frameOffsets(file []byte, w int) []int64 {
	var offs []int64
	for off := int64(0); off < int64(len(file)); off += 4 + int64(beUint(file[off:off+4])) + 4 + int64(w) {
		offs = append(offs, off)
	}
	return append(offs, int64(len(file)))
}

// deleted returns the payload of a frame deleted in place: n zero bytes.
func deleted(n int) []byte { return make([]byte, n) }

// writeFile writes data to a new file in a test directory and returns its
// path.
func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.offset")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// appendFile appends data to the file at path, as a writer process would.
func appendFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := appendBytes(path, data); err != nil {
		t.Fatal(err)
	}
}

// appendBytes appends data to the file at path; for goroutines other than
// the test's.
func appendBytes(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openLog opens path and closes it when the test ends.
func openLog(t testing.TB, path string) *Log {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// drain calls Next on it until it returns false, at most limit times, and
// returns the entries and Err.
func drain(t testing.TB, it log.Iterator, limit int) ([]log.Entry, error) {
	t.Helper()
	var out []log.Entry
	for it.Next() {
		if len(out) == limit {
			t.Fatalf("iterator yielded more than %d entries", limit)
		}
		out = append(out, it.Entry())
	}
	return out, it.Err()
}

// readFrom iterates l from seq from to its end and returns the entries and
// the iterator's error.
func readFrom(t testing.TB, l *Log, from log.Seq, limit int) ([]log.Entry, error) {
	t.Helper()
	it, err := l.Iter(from)
	if err != nil {
		t.Fatalf("Iter(%d): %v", from, err)
	}
	defer it.Close()
	return drain(t, it, limit)
}

// want is an expected entry.
type want struct {
	seq     log.Seq
	payload string
}

// checkEntries compares got with the expected seqs and payloads.
func checkEntries(t testing.TB, got []log.Entry, exp []want) {
	t.Helper()
	if len(got) != len(exp) {
		t.Fatalf("got %d entries %v, want %d", len(got), seqs(got), len(exp))
	}
	for i, e := range got {
		if e.Seq != exp[i].seq || string(e.Payload) != exp[i].payload {
			t.Fatalf("entry %d: seq %d payload %q, want seq %d payload %q", i, e.Seq, e.Payload, exp[i].seq, exp[i].payload)
		}
		if e.Origin != log.Remote || !e.Time.IsZero() {
			t.Fatalf("entry %d: origin %v time %v, want remote and zero", i, e.Origin, e.Time)
		}
	}
}

func seqs(es []log.Entry) []log.Seq {
	s := make([]log.Seq, len(es))
	for i, e := range es {
		s[i] = e.Seq
	}
	return s
}

// isCorrupt checks that err is a *log.CorruptError for seq at off in path.
func isCorrupt(t testing.TB, err error, path string, seq log.Seq, off int64) {
	t.Helper()
	var ce *log.CorruptError
	if !errors.Is(err, log.ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *log.CorruptError", err)
	}
	if ce.Seq != seq || ce.Offset != off || ce.Path != path {
		t.Fatalf("err = %v: seq %d offset %d path %q, want seq %d offset %d path %q", err, ce.Seq, ce.Offset, ce.Path, seq, off, path)
	}
}
