package log

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
)

// TestCrashKill9 kills a child process that appends (in each durability
// mode, with one or several appenders) at a random moment, several times
// over the same log, and checks after each kill that every acknowledged
// append is there with its payload, in order, and nothing is duplicated.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	cases := []struct {
		d       Durability
		workers int
	}{
		{SyncAlways, 1}, {SyncAlways, 4}, {SyncGroup, 8}, {SyncNone, 1}, {SyncNone, 3},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.d, c.workers), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(c.workers), uint64(c.d)))
			type ack struct {
				round, w, i int
				seq         Seq
			}
			var acked []ack
			for round := 0; round < 4; round++ {
				cmd, _, out := startChild(t, fmt.Sprintf("append:%s:%d:%d", c.d, c.workers, round), dir)
				n := 20 + rng.IntN(400)
				for k := 0; k < n; k++ {
					var a ack
					a.round = round
					line := expectLine(t, out)
					if _, err := fmt.Sscanf(line, "ack %d %d %d", &a.w, &a.i, &a.seq); err != nil {
						t.Fatalf("child said %q: %v", line, err)
					}
					acked = append(acked, a)
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				cmd.Wait()

				l, err := Open(dir, Options{})
				if err != nil {
					t.Fatalf("reopen after kill in round %d: %v", round, err)
				}
				for _, r := range l.Repairs() {
					t.Logf("round %d: repair: %s", round, r)
				}
				// Every acknowledged append is there, with its payload.
				for _, a := range acked {
					e, err := l.Get(a.seq)
					if err != nil {
						t.Fatalf("acked seq %d (round %d worker %d #%d) lost: %v", a.seq, a.round, a.w, a.i, err)
					}
					if string(e.Payload) != string(childPayload(a.round, a.w, a.i)) || e.Origin != Origin(a.i%2) {
						t.Fatalf("seq %d holds %q (%s), want round %d worker %d #%d", a.seq, e.Payload, e.Origin, a.round, a.w, a.i)
					}
				}
				// The whole log: dense seqs, and per (round, worker) the
				// appends 1, 2, 3, ... each exactly once, in order.
				it, _ := l.Iter(1)
				next := map[[2]int]int{}
				var count Seq
				for it.Next() {
					e := it.Entry()
					count++
					if e.Seq != count {
						t.Fatalf("seq %d after %d entries", e.Seq, count-1)
					}
					var p struct{ R, W, I int }
					if err := json.Unmarshal(e.Payload, &p); err != nil {
						t.Fatalf("seq %d: %v", e.Seq, err)
					}
					key := [2]int{p.R, p.W}
					if p.I != next[key]+1 {
						t.Fatalf("seq %d: round %d worker %d append #%d follows #%d (duplicate or gap)", e.Seq, p.R, p.W, p.I, next[key])
					}
					next[key] = p.I
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
				it.Close()
				if last, _ := l.Last(); last != count {
					t.Fatalf("Last = %d, iterated %d", last, count)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
