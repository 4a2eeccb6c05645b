package offset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// FuzzReader feeds arbitrary bytes as a file. The reader must not panic or
// hang; whatever it yields must be real frames: the payload of seq N is the
// bytes between the lengths of the N-th frame, seqs increase. Reading the
// file whole, from the middle, or while it grows gives the same entries.
func FuzzReader(f *testing.F) {
	f.Add(buildLog(4, []byte(compact), []byte(indented)), uint16(0))
	f.Add(buildLog(6, []byte(compact), deleted(5), []byte(private)), uint16(30))
	f.Add(buildLog(8, []byte(private))[:40], uint16(3))
	f.Add([]byte(`{"key":"%a"}`), uint16(0))
	// One directory for all inputs of a fuzzing process (they run one
	// after another): a directory per input costs more than the reading.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole, wholeErr := readBytes(t, rewrite(t, dir, "whole", data), len(data))
		if wholeErr != nil && !errors.Is(wholeErr, log.ErrNotLog) && !errors.Is(wholeErr, log.ErrCorrupt) {
			t.Fatalf("unexpected error: %v", wholeErr)
		}
		checkFrames(t, data, whole)

		// The same file written in two parts, read in between.
		cut := int(split) % (len(data) + 1)
		path := rewrite(t, dir, "parts", data[:cut])
		l, err := Open(path)
		if err != nil {
			return
		}
		defer l.Close()
		it, err := l.Iter(1)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		first, err := drain(t, it, len(data)/8+1)
		if err != nil {
			return
		}
		appendFile(t, path, data[cut:])
		rest, err := drain(t, it, len(data)/8+1)
		if (err == nil) != (wholeErr == nil) {
			t.Fatalf("read in two parts: err %v; read whole: err %v", err, wholeErr)
		}
		sameEntries(t, "read in two parts", append(first, rest...), whole)

		// From the middle of what the whole read yielded.
		if len(whole) > 1 {
			mid := whole[len(whole)/2].Seq
			got, err := readFrom(t, l, mid, len(data)/8+1)
			if (err == nil) != (wholeErr == nil) {
				t.Fatalf("Iter(%d): err %v; read whole: err %v", mid, err, wholeErr)
			}
			sameEntries(t, "read from the middle", got, whole[len(whole)/2:])
		}
	})
}

// rewrite replaces the file dir/name with data and returns its path.
func rewrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readBytes reads the file at path, of size bytes, whole.
func readBytes(t *testing.T, path string, size int) ([]log.Entry, error) {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	entries, err := readFrom(t, l, 1, size/8+1)
	if err == nil {
		// Last counts every complete frame, deleted ones too.
		last, lerr := l.Last()
		if lerr != nil || (len(entries) > 0 && last < entries[len(entries)-1].Seq) {
			t.Fatalf("Last = %d, %v after reading up to %v", last, lerr, seqs(entries))
		}
		st, serr := l.Stats()
		if serr != nil || st.Frames != int64(last) || st.Bytes+st.Tail != int64(size) ||
			st.Frames-st.Deleted != int64(len(entries)) {
			t.Fatalf("Stats = %+v, %v; Last %d, %d entries, %d bytes", st, serr, last, len(entries), size)
		}
	}
	return entries, err
}

// checkFrames checks that entries are frames of data: walking the frames
// of data from the start (each one the reader yielded lies after frames it
// accepted), the N-th one holds the payload of seq N.
func checkFrames(t *testing.T, data []byte, entries []log.Entry) {
	t.Helper()
	if len(entries) == 0 {
		return
	}
	w := 0
	for _, cand := range widths {
		if frames(data, cand, entries[len(entries)-1].Seq) != nil {
			w = cand
		}
	}
	if w == 0 {
		t.Fatalf("yielded seqs %v, but data does not hold that many frames", seqs(entries))
	}
	offs := frames(data, w, entries[len(entries)-1].Seq)
	prev := log.Seq(0)
	for _, e := range entries {
		if e.Seq <= prev {
			t.Fatalf("seq %d after %d", e.Seq, prev)
		}
		prev = e.Seq
		off := offs[e.Seq-1]
		n := int64(beUint(data[off : off+4]))
		if !bytes.Equal(e.Payload, data[off+4:off+4+n]) || len(bytes.Trim(e.Payload, "\x00")) == 0 {
			t.Fatalf("seq %d: payload %q is not the frame at offset %d", e.Seq, e.Payload, off)
		}
	}
}

// frames returns the offsets of the first n frames of data with trailer
// width w, or nil if it does not hold n valid frames. It decodes the
// format itself (see doc.go), not with the package's code.
func frames(data []byte, w int, n log.Seq) []int64 {
	var offs []int64
	off := int64(0)
	for range n {
		if int64(len(data))-off < 4 {
			return nil
		}
		l := int64(beUint(data[off : off+4]))
		end := off + 4 + l + 4 + int64(w)
		if end > int64(len(data)) || int64(beUint(data[end-int64(w)-4:end-int64(w)])) != l || beUint(data[end-int64(w):end]) != uint64(end) {
			return nil
		}
		offs = append(offs, off)
		off = end
	}
	return offs
}

// sameEntries compares two reads of the same file.
func sameEntries(t *testing.T, what string, got, want []log.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: seqs %v, want %v", what, seqs(got), seqs(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Fatalf("%s: entry %d: seq %d %q, want seq %d %q", what, i, got[i].Seq, got[i].Payload, want[i].Seq, want[i].Payload)
		}
	}
}
