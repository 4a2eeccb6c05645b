package offset

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestScan checks Scan against the frames written: every frame that is not
// deleted, in order, with its seq and the byte offset of its frame (counted
// here from the frame sizes: 8 bytes of lengths, the payload, the
// trailer), for each trailer width; an error from fn stops it.
func TestScan(t *testing.T) {
	for _, w := range []int{4, 6, 8} {
		frames := [][]byte{[]byte(`{"a":1}`), deleted(9), []byte(`{"bb":22}`), deleted(5), []byte(`[]`)}
		l := openLog(t, writeFile(t, buildLog(w, frames...)))
		type seen struct {
			seq     log.Seq
			off     int64
			payload []byte
		}
		var want, got []seen
		off := int64(0)
		for i, f := range frames {
			if i != 1 && i != 3 {
				want = append(want, seen{log.Seq(i + 1), off, f})
			}
			off += 8 + int64(len(f)) + int64(w)
		}
		err := l.Scan(func(e log.Entry, off int64) error {
			got = append(got, seen{e.Seq, off, bytes.Clone(e.Payload)})
			return nil
		})
		if err != nil || len(got) != len(want) {
			t.Fatalf("width %d: Scan = %v, saw %v, want %v", w, err, got, want)
		}
		for i := range want {
			if got[i].seq != want[i].seq || got[i].off != want[i].off || !bytes.Equal(got[i].payload, want[i].payload) {
				t.Fatalf("width %d: entry %d = %+v, want %+v", w, i, got[i], want[i])
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := l.Scan(func(log.Entry, int64) error { n++; return stop }); err != stop || n != 1 {
			t.Fatalf("width %d: Scan with fn failing = %v after %d calls", w, err, n)
		}
	}
}
