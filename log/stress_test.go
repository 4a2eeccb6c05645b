package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The follower stress test (issue 10, item 1): a writer process appends 1
// to 12 payloads of 0.2 to 1.1 MB per call with durability none into small
// segments, while followers in this process read the log as it grows. A
// follower must see every entry, in order, and never call the log corrupt.

// stressCalls returns the sizes of the payloads of each call of the
// stress writer with seed seed: the writer and the followers agree on them.
func stressCalls(seed uint64, calls int) [][]int {
	rng := rand.New(rand.NewPCG(seed, 10))
	out := make([][]int, calls)
	for c := range out {
		out[c] = make([]int, 1+rng.IntN(12))
		for i := range out[c] {
			out[c][i] = 200_000 + rng.IntN(900_000)
		}
	}
	return out
}

// stressPayload is the payload of seq n, size bytes: its seq, then a
// pattern that depends on it (built with copy, which the race detector
// does not slow down byte by byte).
func stressPayload(n Seq, size int) []byte {
	b := make([]byte, size)
	k := copy(b, fmt.Sprintf("%012d|%x", n, uint64(n)*0x9e3779b97f4a7c15))
	for k < size {
		k += copy(b[k:], b[:k])
	}
	return b
}

// runStressWriter is the writer child: stress:SEG:CALLS:SEED.
func runStressWriter(dir string, seg, calls int, seed uint64) int {
	l, err := Open(dir, Options{Durability: SyncNone, SegmentSize: seg})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress writer:", err)
		return 1
	}
	n := Seq(0)
	for _, sizes := range stressCalls(seed, calls) {
		recs := make([]Record, len(sizes))
		for i, size := range sizes {
			n++
			recs[i] = Record{Payload: stressPayload(n, size)}
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			fmt.Fprintln(os.Stderr, "stress writer:", err)
			return 1
		}
	}
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stress writer:", err)
		return 1
	}
	return 0
}

// TestFollowerStress runs the stress writer in a child process and follows
// it with two iterators of a Reader (as sluice index --follow and cat -f
// do) and two loops of Reader.Last (as the indexer's tail watcher does).
// SLUICE_STRESS_CALLS and SLUICE_STRESS_SEEDS make it longer (make stress).
// On the code before the fix (d16cccb), under -race, the false "frame runs
// past the end of the segment" stopped this short version in about 2 runs
// of 3, and the long one (make stress) in every run.
func TestFollowerStress(t *testing.T) {
	calls := 16
	if testing.Short() {
		calls = 4
	}
	seeds := 3
	if s := os.Getenv("SLUICE_STRESS_CALLS"); s != "" {
		calls, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("SLUICE_STRESS_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			dir := faultDir(t)
			sizes := stressCalls(seed, calls)
			var total Seq
			for _, c := range sizes {
				total += Seq(len(c))
			}
			// The log exists before the followers start.
			l, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			cmd := startStress(t, dir, 1<<20, calls, seed)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			r := openReaderT(t, dir)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 2 {
				wg.Add(2)
				go func() { // a tail watcher: Last, again and again
					defer wg.Done()
					errs <- lastLoop(ctx, r, total)
				}()
				go func() { // a follower
					defer wg.Done()
					errs <- follow(ctx, r, total)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("writer: %v", err)
			}
		})
	}
}

// lastLoop calls r.Last until it says total, checking it never fails nor
// goes back.
func lastLoop(ctx context.Context, r *Reader, total Seq) error {
	for prev := Seq(0); prev < total; {
		last, err := r.Last()
		if err != nil {
			return fmt.Errorf("Last after %d: %w", prev, err)
		}
		if last < prev {
			return fmt.Errorf("Last went back from %d to %d", prev, last)
		}
		prev = last
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// follow iterates r from the start, waiting at its end, until it has seen
// total entries, checking each one's seq and payload.
func follow(ctx context.Context, r *Reader, total Seq) error {
	it, err := r.Iter(1)
	if err != nil {
		return err
	}
	defer it.Close()
	var seen Seq
	for seen < total {
		for it.Next() {
			e := it.Entry()
			if e.Seq != seen+1 {
				return fmt.Errorf("follower got seq %d after %d", e.Seq, seen)
			}
			if !bytes.Equal(e.Payload, stressPayload(e.Seq, len(e.Payload))) {
				return fmt.Errorf("seq %d: wrong payload", e.Seq)
			}
			seen++
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("follower after seq %d: %w", seen, err)
		}
		if seen < total {
			if _, err := r.Wait(ctx, seen); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("follower waiting after seq %d: %w", seen, err)
			}
		}
	}
	return nil
}

// startStress starts the stress writer child.
func startStress(t *testing.T, dir string, seg, calls int, seed uint64) interface{ Wait() error } {
	t.Helper()
	cmd, _, _ := startChild(t, fmt.Sprintf("stress:%d:%d:%d", seg, calls, seed), dir)
	return cmd
}
