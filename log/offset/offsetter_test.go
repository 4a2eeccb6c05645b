package offset

import (
	"testing"
)

// TestOffset checks Offsetter: the byte offset of each yielded entry's
// frame, counted here from the frame sizes (8 bytes of lengths, the
// payload, the trailer), deleted frames and other trailer widths included.
func TestOffset(t *testing.T) {
	for _, w := range []int{4, 6, 8} {
		frames := [][]byte{[]byte(`{"a":1}`), deleted(9), []byte(`{"bb":22}`), deleted(5), []byte(`[]`)}
		l := openLog(t, writeFile(t, buildLog(w, frames...)))
		var want []int64 // offsets of the frames that are not deleted
		off := int64(0)
		for i, f := range frames {
			if i != 1 && i != 3 {
				want = append(want, off)
			}
			off += 8 + int64(len(f)) + int64(w)
		}
		it, err := l.Iter(1)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for it.Next() {
			got = append(got, it.(Offsetter).Offset())
		}
		it.Close()
		if it.Err() != nil || len(got) != len(want) {
			t.Fatalf("width %d: offsets %v (%v), want %v", w, got, it.Err(), want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("width %d: offsets %v, want %v", w, got, want)
			}
		}
	}
}
