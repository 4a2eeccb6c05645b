package offset

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestCorruptMiddle damages frame 3 of 5 in several ways: the frames before
// it are read, then an error names seq 3 and its offset. Nothing after it
// is yielded, from any starting seq.
func TestCorruptMiddle(t *testing.T) {
	payloads := [][]byte{[]byte(compact), []byte(indented), []byte(private), []byte(compact), []byte(indented)}
	const bad = 3
	tests := []struct {
		name   string
		damage func(frame []byte, w int) // frame: the bytes of frame 3
	}{
		{"head length +1", func(f []byte, w int) { f[3]++ }},
		{"head length -1", func(f []byte, w int) { f[3]-- }},
		{"head length past the end of the file", func(f []byte, w int) { f[0] = 0x10 }},
		{"head length zero", func(f []byte, w int) { binary.BigEndian.PutUint32(f, 0) }},
		{"tail length", func(f []byte, w int) { f[len(f)-w-1] ^= 0x40 }},
		{"trailer +1", func(f []byte, w int) { f[len(f)-1]++ }},
		{"trailer high byte", func(f []byte, w int) { f[len(f)-w] = 1 }},
		{"trailer zeroed", func(f []byte, w int) { clear(f[len(f)-w:]) }},
		{"lengths and trailer zeroed", func(f []byte, w int) { clear(f[:4]); clear(f[len(f)-w-4:]) }},
		{"whole frame zeroed", func(f []byte, w int) { clear(f) }},
	}
	for _, w := range widths {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("w%d/%s", w, tt.name), func(t *testing.T) {
				file := buildLog(w, payloads...)
				offs := frameOffsets(file, w)
				tt.damage(file[offs[bad-1]:offs[bad]], w)
				path := writeFile(t, file)
				l := openLog(t, path)
				got, err := readFrom(t, l, 1, len(payloads))
				isCorrupt(t, err, path, bad, offs[bad-1])
				checkEntries(t, got, []want{{1, compact}, {2, indented}})

				_, err = l.Last()
				isCorrupt(t, err, path, bad, offs[bad-1])
				st, err := l.Stats()
				isCorrupt(t, err, path, bad, offs[bad-1])
				if st.Frames != bad-1 {
					t.Fatalf("Stats.Frames = %d, want %d", st.Frames, bad-1)
				}
				for from := log.Seq(2); from <= log.Seq(len(payloads)+1); from++ {
					got, err := readFrom(t, openLog(t, path), from, len(payloads))
					isCorrupt(t, err, path, bad, offs[bad-1])
					if len(got) > 0 && (from > 2 || got[0].Seq != 2 || len(got) > 1) {
						t.Fatalf("Iter(%d) yielded %v", from, seqs(got))
					}
				}
			})
		}
	}
}

// TestDamagedLastFrame: damage to the last frame, with nothing after it,
// cannot be told from a torn write; the log ends before it, as the
// JavaScript writer would cut it on restart.
func TestDamagedLastFrame(t *testing.T) {
	for _, w := range widths {
		file := buildLog(w, []byte(compact), []byte(private))
		file[len(file)-1]++
		l := openLog(t, writeFile(t, file))
		got, err := readFrom(t, l, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, []want{{1, compact}})
	}
}
