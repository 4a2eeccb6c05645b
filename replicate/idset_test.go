package replicate

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestIDSet adds random IDs (runs in order, holes, repeats, out of order)
// and checks membership against a plain map, and that intervals stay
// sorted, disjoint and non-adjacent.
func TestIDSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	nodes := []log.NodeID{{1}, {2}, {3}}
	for round := 0; round < 20; round++ {
		s := newIDSet()
		want := map[log.ID]bool{}
		for i := 0; i < 2000; i++ {
			n := nodes[rng.IntN(len(nodes))]
			var q log.Seq
			switch rng.IntN(4) {
			case 0: // the next after the node's last interval
				if ss := s.nodes[n]; ss != nil && len(ss.iv) > 0 {
					q = ss.iv[len(ss.iv)-1].hi + 1
				} else {
					q = 1
				}
			default:
				q = log.Seq(1 + rng.IntN(300))
			}
			id := log.ID{Node: n, Seq: q}
			if added := s.add(id); added == want[id] {
				t.Fatalf("round %d: add(%v) reported new=%v, want %v", round, id, added, !want[id])
			}
			want[id] = true
		}
		for _, n := range nodes {
			for q := log.Seq(1); q <= 400; q++ {
				id := log.ID{Node: n, Seq: q}
				if s.has(id) != want[id] {
					t.Fatalf("round %d: has(%v) = %v, want %v", round, id, s.has(id), want[id])
				}
			}
			if ss := s.nodes[n]; ss != nil {
				for i := 1; i < len(ss.iv); i++ {
					if ss.iv[i-1].hi+1 >= ss.iv[i].lo || ss.iv[i].lo > ss.iv[i].hi {
						t.Fatalf("round %d: intervals %v not sorted, disjoint and apart", round, ss.iv)
					}
				}
			}
		}
	}
}
