package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestReaderSegmentGap: a segment that lost its last records (a power loss
// with SyncNone, say) while later segments survived leaves a gap in the
// seqs. A Reader must report it as corruption naming the missing seq, not
// end quietly while Last says more entries exist (a follower would poll
// forever).
func TestReaderSegmentGap(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 4096, Durability: SyncNone})
	appendN(t, l, 1, 300, Remote)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(dir)
	if err != nil || len(segs) < 4 {
		t.Fatalf("%d segments (%v); the test needs at least 4", len(segs), err)
	}
	// Cut the second segment's last frame, at a frame boundary.
	seg := segs[1]
	data, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for off := 0; off < len(data); {
		_, n, st := readFrame(data[off:])
		if st != frameOK {
			t.Fatalf("segment %s: frame at %d is not whole", seg.path, off)
		}
		last, off = off, off+n
	}
	if err := os.Truncate(seg.path, int64(last)); err != nil {
		t.Fatal(err)
	}
	missing := segs[2].first - 1

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it, err := r.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var n Seq
	for it.Next() {
		n++
		if n > 300 {
			t.Fatal("read more entries than were appended")
		}
	}
	var ce *CorruptError
	if !errors.As(it.Err(), &ce) || ce.Seq != missing {
		t.Fatalf("after %d entries: Err() = %v, want a CorruptError at seq %d", n, it.Err(), missing)
	}
	if n != missing-1 {
		t.Fatalf("read %d entries before the gap, want %d", n, missing-1)
	}
}

// TestReaderZeroPollInterval: a poll interval of zero or less means the
// default (time.NewTicker would panic on it).
func TestReaderZeroPollInterval(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	appendN(t, l, 1, 3, Remote)
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetWatch(false)
	for _, d := range []time.Duration{0, -time.Second} {
		r.SetPollInterval(d)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := r.Wait(ctx, 3)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("poll interval %v: Wait = %v, want the context's deadline", d, err)
		}
	}
}

// TestReaderEmptySegment: a Reader at an empty segment (a new log, or one
// that has just moved to a new segment) is at the end of the log: Last,
// Iter and Wait return, they do not reopen the segment forever.
func TestReaderEmptySegment(t *testing.T) {
	for _, rollover := range []bool{false, true} {
		dir := t.TempDir()
		l := openT(t, dir, Options{SegmentSize: 4096, Durability: SyncNone})
		var want Seq
		if rollover {
			// Append until a new segment exists; its last one is empty.
			reached := false
			for i := 1; i <= 10000 && !reached; i++ {
				appendN(t, l, i, i, Remote)
				want = Seq(i)
				segs, err := listSegments(dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(segs) > 1 {
					if fi, err := os.Stat(segs[len(segs)-1].path); err == nil && fi.Size() == 0 {
						reached = true
					}
				}
			}
			if !reached {
				t.Fatalf("no empty last segment after %d appends: the test proves nothing", want)
			}
		}
		done := make(chan error, 1)
		go func() {
			r, err := OpenReader(dir)
			if err != nil {
				done <- err
				return
			}
			defer r.Close()
			last, err := r.Last()
			if err == nil && last != want {
				err = fmt.Errorf("Last = %d, want %d", last, want)
			}
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				_, err = r.Wait(ctx, want)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					err = nil
				}
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("rollover %v: %v", rollover, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("rollover %v: the Reader did not return within 10s", rollover)
		}
		if got := readAll(t, l, 1); Seq(len(got)) != want {
			t.Fatalf("rollover %v: read %d entries, want %d", rollover, len(got), want)
		}
	}
}
