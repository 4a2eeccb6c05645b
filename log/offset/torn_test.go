package offset

import (
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestTornLastFrame cuts the last frame at every byte: the reader stops
// cleanly before it, and yields it once the rest is appended.
func TestTornLastFrame(t *testing.T) {
	payloads := [][]byte{[]byte(compact), []byte(indented), []byte(private)}
	for _, w := range widths {
		for frames := 1; frames <= len(payloads); frames++ {
			file := buildLog(w, payloads[:frames]...)
			offs := frameOffsets(file, w)
			start := offs[frames-1]
			var exp []want
			for i := range frames - 1 {
				exp = append(exp, want{log.Seq(i + 1), string(payloads[i])})
			}
			for cut := start; cut < int64(len(file)); cut++ {
				t.Run(fmt.Sprintf("w%d/frames%d/cut%d", w, frames, cut-start), func(t *testing.T) {
					path := writeFile(t, file[:cut])
					l := openLog(t, path)
					it, err := l.Iter(1)
					if err != nil {
						t.Fatal(err)
					}
					defer it.Close()
					got, err := drain(t, it, frames)
					if err != nil {
						t.Fatalf("torn tail: %v", err)
					}
					checkEntries(t, got, exp)
					if last, err := l.Last(); err != nil || last != log.Seq(frames-1) {
						t.Fatalf("Last = %d, %v; want %d", last, err, frames-1)
					}
					st, err := l.Stats()
					if err != nil || st.Frames != int64(frames-1) || st.Tail != cut-start {
						t.Fatalf("Stats = %+v, %v", st, err)
					}
					// The writer finishes the frame.
					appendFile(t, path, file[cut:])
					got, err = drain(t, it, frames)
					if err != nil {
						t.Fatal(err)
					}
					checkEntries(t, got, []want{{log.Seq(frames), string(payloads[frames-1])}})
					if last, err := l.Last(); err != nil || last != log.Seq(frames) {
						t.Fatalf("Last after the append = %d, %v; want %d", last, err, frames)
					}
				})
			}
		}
	}
}

// TestZeroTail: a crash can leave blocks allocated but never written, so
// the file ends in zero bytes. That is a torn tail too.
func TestZeroTail(t *testing.T) {
	for _, zeros := range []int{1, 4, 12, 100, 5000} {
		for _, w := range widths {
			t.Run(fmt.Sprintf("w%d/zeros%d", w, zeros), func(t *testing.T) {
				file := buildLog(w, []byte(compact), []byte(private))
				l := openLog(t, writeFile(t, append(file, make([]byte, zeros)...)))
				got, err := readFrom(t, l, 1, 3)
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, []want{{1, compact}, {2, private}})
			})
		}
		t.Run(fmt.Sprintf("only zeros %d", zeros), func(t *testing.T) {
			l := openLog(t, writeFile(t, make([]byte, zeros)))
			if last, err := l.Last(); err != nil || last != 0 {
				t.Fatalf("Last = %d, %v; want 0", last, err)
			}
		})
	}
}
