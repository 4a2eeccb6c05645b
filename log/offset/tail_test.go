package offset

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestFrameEndAfter: the search for a complete frame after a bad one reads
// the file backwards in windows; the frame it finds may lie windows away
// from the end, and its trailer across a window boundary.
func TestFrameEndAfter(t *testing.T) {
	const window = 1 << 20
	for _, w := range widths {
		for _, garbage := range []int{0, 1, window - w - 1, window - w + 1, window - 1, window, window + 1, 2*window + 3} {
			t.Run(fmt.Sprintf("w%d/garbage%d", w, garbage), func(t *testing.T) {
				file := buildLog(w, []byte(compact), []byte(private), []byte(indented))
				offs := frameOffsets(file, w)
				file[offs[1]+3]++ // frame 2: head length
				end := int64(len(file))
				file = append(file, bytes.Repeat([]byte{0xff}, garbage)...)
				r := bytes.NewReader(file)
				got, found, err := frameEndAfter(r, "f", w, offs[1], int64(len(file)))
				if err != nil || !found || got != end {
					t.Fatalf("frameEndAfter = %d, %v, %v; want %d", got, found, err, end)
				}
				// From frame 3 on, nothing complete follows: a torn tail.
				if _, found, err := frameEndAfter(r, "f", w, offs[2]+1, int64(len(file))); found || err != nil {
					t.Fatalf("after frame 3: found %v, %v", found, err)
				}

				path := writeFile(t, file)
				got2, rerr := readFrom(t, openLog(t, path), 1, 3)
				isCorrupt(t, rerr, path, 2, offs[1])
				checkEntries(t, got2, []want{{1, compact}})
			})
		}
	}
}

// TestGarbageTail: garbage after the last frame, with no complete frame in
// it, reads as a torn tail.
func TestGarbageTail(t *testing.T) {
	for _, w := range widths {
		file := buildLog(w, []byte(compact), []byte(private))
		file = append(file, []byte("\x00\x00\x01\x00 half a frame, and more: {\"key\":")...)
		l := openLog(t, writeFile(t, file))
		got, err := readFrom(t, l, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, []want{{1, compact}, {2, private}})
		if last, err := l.Last(); err != nil || last != log.Seq(2) {
			t.Fatalf("Last = %d, %v", last, err)
		}
	}
}
