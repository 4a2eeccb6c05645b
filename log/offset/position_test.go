package offset

import (
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestPosition checks that an iterator's Position covers deleted frames,
// also at the end of the log, so an indexer knows they are done.
func TestPosition(t *testing.T) {
	path := writeFile(t, buildLog(4, []byte(`{"a":1}`), deleted(9), []byte(`{"a":3}`), deleted(5), deleted(7)))
	l := openLog(t, path)
	for _, c := range []struct {
		from, wantFirst, wantEnd log.Seq
	}{{1, 1, 5}, {2, 3, 5}, {4, 0, 5}, {6, 0, 5}} {
		it, err := l.Iter(c.from)
		if err != nil {
			t.Fatal(err)
		}
		pos := it.(log.Positioner)
		if p := pos.Position(); p != c.from-1 {
			t.Fatalf("from %d: Position before Next = %d", c.from, p)
		}
		if it.Next() {
			if it.Entry().Seq != c.wantFirst || pos.Position() != c.wantFirst {
				t.Fatalf("from %d: first entry %d at Position %d", c.from, it.Entry().Seq, pos.Position())
			}
		} else if c.wantFirst != 0 {
			t.Fatalf("from %d: no entry", c.from)
		}
		for it.Next() {
		}
		if it.Err() != nil || pos.Position() != c.wantEnd {
			t.Fatalf("from %d: Position at the end = %d (%v), want %d", c.from, pos.Position(), it.Err(), c.wantEnd)
		}
		it.Close()
	}
	if last, _ := l.Last(); last != 5 {
		t.Fatalf("Last = %d", last)
	}
}
