package offset

import (
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// manyFrames builds a log of n frames of varied sizes, every 7th deleted,
// and returns it with the entries an iterator from 1 yields.
func manyFrames(n, w int) ([]byte, []want) {
	var file []byte
	var exp []want
	for i := 1; i <= n; i++ {
		p := []byte(fmt.Sprintf(`{"seq":%d,"pad":"%*s"}`, i, i%97, ""))
		if i%7 == 0 {
			p = deleted(len(p))
		} else {
			exp = append(exp, want{log.Seq(i), string(p)})
		}
		file = appendFrame(file, p, w)
	}
	return file, exp
}

// suffix returns the entries of exp with seq >= from.
func suffix(exp []want, from log.Seq) []want {
	for i, e := range exp {
		if e.seq >= from {
			return exp[i:]
		}
	}
	return nil
}

func TestIterFrom(t *testing.T) {
	const n = 1300 // several index blocks
	froms := []log.Seq{0, 1, 2, 7, 8, 255, 256, 257, 258, 511, 512, 513, 700, 1024, 1025, 1299, 1300, 1301, 5000}
	for _, w := range widths {
		file, exp := manyFrames(n, w)
		path := writeFile(t, file)
		warm := openLog(t, path)
		if _, err := readFrom(t, warm, 1, n); err != nil {
			t.Fatal(err)
		}
		for _, from := range froms {
			for _, l := range []*Log{openLog(t, path), warm} {
				got, err := readFrom(t, l, from, n)
				if err != nil {
					t.Fatalf("w%d Iter(%d): %v", w, from, err)
				}
				checkEntries(t, got, suffix(exp, from))
			}
		}
		// Reverse order on one log: each Iter starts from the index.
		rev := openLog(t, path)
		for i := len(froms) - 1; i >= 0; i-- {
			got, err := readFrom(t, rev, froms[i], n)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, suffix(exp, froms[i]))
		}
		// The index lets Iter start within indexEvery frames of from.
		for _, from := range froms {
			if from < 1 || from > n {
				continue
			}
			seq, off := warm.start(from)
			if seq > from || from-seq >= indexEvery || off != frameOffsets(file, w)[seq-1] {
				t.Fatalf("start(%d) = %d, %d", from, seq, off)
			}
		}
	}
}

// TestIterFromBeyondEnd: an iterator from a seq not written yet yields it
// once it is.
func TestIterFromBeyondEnd(t *testing.T) {
	file, _ := manyFrames(10, 4)
	path := writeFile(t, file)
	l := openLog(t, path)
	it, err := l.Iter(13)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if got, err := drain(t, it, 1); err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", seqs(got), err)
	}
	more := file
	for _, p := range []string{"11", "12", "13", "14"} {
		more = appendFrame(more, []byte(p), 4)
	}
	appendFile(t, path, more[len(file):])
	got, err := drain(t, it, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, []want{{13, "13"}, {14, "14"}})
}
