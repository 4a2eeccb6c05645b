package log

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

func TestAppendRejects(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{MaxRecordSize: 1000})
	appendN(t, l, 1, 3, Local)
	segs, _ := listSegments(dir)
	before, _ := os.ReadFile(segs[len(segs)-1].path)
	ctx := context.Background()
	cases := []struct {
		name string
		recs []Record
		want error
	}{
		{"no records", nil, ErrEmpty},
		{"empty payload", []Record{{Payload: nil}}, ErrEmpty},
		{"empty second", []Record{{Payload: []byte("a")}, {Payload: []byte{}}}, ErrEmpty},
		{"oversize", []Record{{Payload: make([]byte, 1001)}}, ErrTooLarge},
		{"oversize last", []Record{{Payload: []byte("a")}, {Payload: make([]byte, 5000)}}, ErrTooLarge},
		{"bad origin", []Record{{Origin: 7, Payload: []byte("a")}}, nil},
	}
	for _, c := range cases {
		seqs, err := l.Append(ctx, c.recs...)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || seqs != nil {
			t.Errorf("%s: Append = %v, %v; want %v", c.name, seqs, err, c.want)
		}
	}
	if _, err := l.Append(ctx, Record{Payload: make([]byte, 1000)}); err != nil {
		t.Fatalf("record at the limit: %v", err)
	}
	after, _ := os.ReadFile(segs[len(segs)-1].path)
	if last, _ := l.Last(); last != 4 || !bytes.HasPrefix(after, before) || len(after) <= len(before) {
		t.Fatalf("rejected appends changed the log: last %d", last)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cctx, Record{Payload: []byte("x")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a done ctx: %v", err)
	}
	l.Close()
	if _, err := l.Append(ctx, Record{Payload: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestSegmentMirror checks the wrapper's mirror of tidwall/wal's segment
// cycling, which decides when the directory must be fsynced: after every
// append, the tracked tail size equals the real size of the last segment.
func TestSegmentMirror(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 3000})
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		recs := make([]Record, 1+rng.IntN(6))
		for j := range recs {
			recs[j] = Record{Payload: bytes.Repeat([]byte{'a'}, 1+rng.IntN(900))}
		}
		if _, err := l.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		segs, _ := listSegments(dir)
		fi, _ := os.Stat(segs[len(segs)-1].path)
		if int(fi.Size()) != l.tailSize {
			t.Fatalf("append %d: tail segment is %d bytes, mirror says %d", i, fi.Size(), l.tailSize)
		}
	}
	if segs, _ := listSegments(dir); len(segs) < 20 {
		t.Fatalf("only %d segments", len(segs))
	}
}

// TestEmptySegmentAfterTornOne: a crash left a torn segment followed by an
// empty new one. Open removes the empty one and cuts the torn tail.
func TestEmptySegmentAfterTornOne(t *testing.T) {
	dir := t.TempDir()
	buildLog(t, dir, 100, Options{SegmentSize: 2000})
	segs, _ := listSegments(dir)
	last := segs[len(segs)-1]
	prev := segs[len(segs)-2]
	os.Remove(last.path)
	data, _ := os.ReadFile(prev.path)
	offs := frameOffsets(t, data)
	os.Truncate(prev.path, int64(offs[len(offs)-1]+5))
	os.WriteFile(last.path, nil, 0o644)
	want := int(prev.first) + len(offs) - 2
	setMark(t, dir, Seq(want))
	l := checkReopen(t, dir, want)
	reps := l.Repairs()
	if len(reps) != 2 || !reps[0].Removed || reps[1].LastSeq != Seq(want) {
		t.Fatalf("repairs = %+v", reps)
	}
}

// TestConcurrentAppendRead runs appenders, iterators, Get and Wait callers
// at once (run it with -race).
func TestConcurrentAppendRead(t *testing.T) {
	for _, d := range []Durability{SyncGroup, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{Durability: d, SegmentSize: 16 << 10})
			const writers, each = 6, 150
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						p := []byte{byte('a' + w), byte(i), byte(i >> 8), 'x'}
						seqs, err := l.Append(ctx, Record{Origin: Origin(w % 2), Payload: p}, Record{Payload: p})
						if err != nil {
							errs <- err
							return
						}
						e, err := l.Get(seqs[1])
						if err != nil || !bytes.Equal(e.Payload, p) || seqs[1] != seqs[0]+1 {
							errs <- errors.New("Get after Append mismatch")
							return
						}
					}
				}()
			}
			total := Seq(writers * each * 2)
			// Followers: iterate, wait, iterate again, until they saw all.
			r, err := OpenReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, src := range []Source{l, l, r, r} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					it, _ := src.Iter(1)
					defer it.Close()
					var seen Seq
					for seen < total {
						for it.Next() {
							if it.Entry().Seq != seen+1 {
								errs <- errors.New("follower saw a gap")
								return
							}
							seen++
						}
						if it.Err() != nil {
							errs <- it.Err()
							return
						}
						if seen < total {
							if _, err := src.Wait(ctx, seen); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Per writer, its payloads appear in the order it appended them.
			it, _ := l.Iter(1)
			next := map[byte]int{}
			for it.Next() {
				p := it.Entry().Payload
				i := int(p[1]) | int(p[2])<<8
				if i != next[p[0]]/2 {
					t.Fatalf("writer %c: append %d out of order", p[0], i)
				}
				next[p[0]]++
			}
			it.Close()
		})
	}
}

// TestWaitCancel: a Wait that is waiting ends when its context is
// cancelled, and another one when an append arrives. The hook proves each
// Wait was waiting before the cancel or the append.
func TestWaitCancel(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	waiting := make(chan struct{}, 10)
	l.waiting = func() { waiting <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := l.Wait(ctx, 0)
		done <- err
	}()
	<-waiting
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
	go func() {
		last, err := l.Wait(context.Background(), 0)
		if err == nil && last != 1 {
			err = errors.New("wrong last")
		}
		done <- err
	}()
	<-waiting
	appendN(t, l, 1, 1, Local)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSeekIndex checks that iterators starting anywhere — before and after
// earlier iterators left seek marks — read exactly the right entries, from
// a Log and from a Reader.
func TestSeekIndex(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 1 << 20, Durability: SyncNone})
	appendN(t, l, 1, 5000, Remote)
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, src := range []Source{l, r} {
		readAll(t, src, 1) // leaves marks every seekEvery records
		for _, from := range []Seq{1, seekEvery - 1, seekEvery, seekEvery + 1, 2*seekEvery + 7, 4999, 5000, 5001} {
			got := readAll(t, src, from)
			if want := max(0, 5000-int(from)+1); len(got) != want {
				t.Fatalf("Iter(%d): %d entries, want %d", from, len(got), want)
			}
		}
	}
	if len(l.seek.marks) < 4 {
		t.Fatalf("only %d seek marks", len(l.seek.marks))
	}
}
