package log

import (
	"sort"
	"sync"
)

// seekEvery is how many records apart the seek index remembers offsets.
const seekEvery = 1024

// seekIndex remembers where in its segment every seekEvery-th record
// starts, as iterators pass them, so that Iter(from) starts reading near
// from instead of at the start of a segment (up to SegmentSize, 8 MiB by
// default). It is shared by
// the iterators of one Log or Reader. Offsets only ever describe complete,
// checked records: segments are append-only, so they stay true.
type seekIndex struct {
	mu    sync.Mutex
	marks []seekMark // sorted by seq
}

type seekMark struct {
	seq  Seq
	path string
	off  int64
}

// note records that the record seq starts at off in path.
func (x *seekIndex) note(seq Seq, path string, off int64) {
	if x == nil || seq%seekEvery != 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	i := sort.Search(len(x.marks), func(i int) bool { return x.marks[i].seq >= seq })
	if i < len(x.marks) && x.marks[i].seq == seq {
		return
	}
	x.marks = append(x.marks, seekMark{})
	copy(x.marks[i+1:], x.marks[i:])
	x.marks[i] = seekMark{seq: seq, path: path, off: off}
}

// near returns the highest mark at or below seq in the segment at path.
func (x *seekIndex) near(seq Seq, path string) (seekMark, bool) {
	if x == nil {
		return seekMark{}, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	i := sort.Search(len(x.marks), func(i int) bool { return x.marks[i].seq > seq })
	if i == 0 || x.marks[i-1].path != path {
		return seekMark{}, false
	}
	return x.marks[i-1], true
}
