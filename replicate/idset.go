package replicate

import (
	"sort"

	"github.com/sluicedb/sluice/log"
)

// idSet is a set of entry IDs: per author node, its seqs as sorted,
// disjoint, non-adjacent intervals. Entries from one author mostly arrive
// in order, so a node's set is usually one interval and adding extends it.
// Not safe for concurrent use.
type idSet struct {
	nodes map[log.NodeID]*seqSet
}

type interval struct{ lo, hi log.Seq }

type seqSet struct {
	iv []interval
}

func newIDSet() idSet { return idSet{nodes: map[log.NodeID]*seqSet{}} }

// has reports whether id is in the set.
func (s idSet) has(id log.ID) bool {
	n := s.nodes[id.Node]
	return n != nil && n.has(id.Seq)
}

// add puts id in the set; it reports whether it was new.
func (s idSet) add(id log.ID) bool {
	n := s.nodes[id.Node]
	if n == nil {
		n = &seqSet{}
		s.nodes[id.Node] = n
	}
	return n.add(id.Seq)
}

// intervals returns how many intervals the set holds (its size in memory).
func (s idSet) intervals() int {
	n := 0
	for _, ss := range s.nodes {
		n += len(ss.iv)
	}
	return n
}

// find returns the index of the first interval whose hi >= q.
func (s *seqSet) find(q log.Seq) int {
	if k := len(s.iv); k > 0 && s.iv[k-1].lo <= q {
		// The common case: at or after the last interval's start.
		if q <= s.iv[k-1].hi {
			return k - 1
		}
		return k
	}
	return sort.Search(len(s.iv), func(i int) bool { return s.iv[i].hi >= q })
}

func (s *seqSet) has(q log.Seq) bool {
	i := s.find(q)
	return i < len(s.iv) && s.iv[i].lo <= q
}

func (s *seqSet) add(q log.Seq) bool {
	i := s.find(q)
	if i < len(s.iv) && s.iv[i].lo <= q {
		return false
	}
	// q is after iv[i-1] (if any) and before iv[i] (if any).
	joinPrev := i > 0 && s.iv[i-1].hi+1 == q
	joinNext := i < len(s.iv) && s.iv[i].lo == q+1
	switch {
	case joinPrev && joinNext:
		s.iv[i-1].hi = s.iv[i].hi
		s.iv = append(s.iv[:i], s.iv[i+1:]...)
	case joinPrev:
		s.iv[i-1].hi = q
	case joinNext:
		s.iv[i].lo = q
	default:
		s.iv = append(s.iv, interval{})
		copy(s.iv[i+1:], s.iv[i:])
		s.iv[i] = interval{q, q}
	}
	return true
}
