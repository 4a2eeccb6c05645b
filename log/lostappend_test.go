package log

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// TestAcceptLossKeepsAcknowledgedRecords (the first user's report): 20
// records appended in one call and acknowledged (the durable mark says 20),
// then damage to the call's last record. Open names only what is missing
// (a LostError for the damaged seqs, changing nothing), and AcceptLoss keeps
// every intact record of the call: only the damaged seqs become lost
// placeholders, and readers yield the rest. (Before: the atomic-append rule
// cut the whole acknowledged call, and Open reported seqs 1..20 lost.) An
// Append that was not acknowledged is still cut whole.
func TestAcceptLossKeepsAcknowledgedRecords(t *testing.T) {
	cases := []struct {
		name    string
		segSize int
		damage  func(t *testing.T, dir string)
		// lostFrom is the first seq the damage takes; 0: the tail
		// segment's first seq (or, with mark 0, nothing is lost: the
		// call was not acknowledged and is cut whole).
		lostFrom Seq
		mark     Seq // the durable mark after the call
	}{
		{"last record torn", 0, truncateTail(3), 20, 20},
		{"last record flipped", 0, flipTail(3), 20, 20},
		{"call across segments, last record torn", 700, truncateTail(3), 20, 20},
		{"call across segments, tail segment's first record torn", 700, truncateTailSegmentTo(2), 0, 20},
		{"not acknowledged: cut whole", 0, truncateTail(3), 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{SegmentSize: c.segSize})
			var recs []Record
			for i := 1; i <= 20; i++ {
				recs = append(recs, Record{Origin: Remote, Payload: payloadFor(i)})
			}
			if _, err := l.Append(context.Background(), recs...); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			setMark(t, dir, c.mark)
			segs, _ := listSegments(dir)
			c.damage(t, dir)
			lostFrom := c.lostFrom
			if lostFrom == 0 && c.mark != 0 {
				// The tail segment's first seq is where the damage starts.
				lostFrom = segs[len(segs)-1].first
			}
			keep := int(lostFrom) - 1
			if c.mark == 0 {
				keep = 0
			}

			files := snapshot(t, dir)
			l, err := Open(dir, Options{})
			var le *LostError
			switch {
			case c.mark == 0:
				if err != nil {
					t.Fatalf("Open of a log whose unacknowledged call was damaged: %v", err)
				}
				l.Close()
			case !errors.As(err, &le) || le.From != lostFrom || le.To != 20:
				t.Fatalf("Open = %v; want a LostError for seqs %d..20", err, lostFrom)
			default:
				if now := snapshot(t, dir); now != files {
					t.Fatal("a failed Open changed the log's files")
				}
			}

			l, err = Open(dir, Options{AcceptLoss: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if lost := l.Lost(); c.mark != 0 && (lost == nil || lost.From != lostFrom || lost.To != 20) {
				t.Fatalf("Lost = %+v, want seqs %d..20", lost, lostFrom)
			}
			for i := 1; i <= 20; i++ {
				e, err := l.Get(Seq(i))
				switch {
				case i <= keep && (err != nil || !bytes.Equal(e.Payload, payloadFor(i))):
					t.Errorf("Get(%d) of an intact acknowledged record = %q, %v", i, e.Payload, err)
				case i > keep && !errors.Is(err, ErrNotFound):
					t.Errorf("Get(%d) of a lost or cut seq = %q, %v; want ErrNotFound", i, e.Payload, err)
				}
			}
			next := Seq(21)
			if c.mark == 0 {
				next = 1
			}
			if seqs, err := l.Append(context.Background(), Record{Payload: payloadFor(99)}); err != nil || seqs[0] != next {
				t.Fatalf("Append after the repair = %v, %v; want seq %d", seqs, err, next)
			}
			l.Close()
			// Readers yield the kept records and the new one, in order.
			for _, src := range []Source{openReaderT(t, dir), openT(t, dir, Options{})} {
				var got []Seq
				it, _ := src.Iter(1)
				for it.Next() {
					got = append(got, it.Entry().Seq)
				}
				if it.Err() != nil || len(got) != keep+1 || (keep > 0 && got[keep-1] != Seq(keep)) || got[keep] != next {
					t.Fatalf("%T read %v, %v; want seqs 1..%d then %d", src, got, it.Err(), keep, next)
				}
				it.Close()
			}
		})
	}
}

// truncateTail cuts n bytes off the last segment.
func truncateTail(n int64) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := tailPath(t, dir)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, fi.Size()-n); err != nil {
			t.Fatal(err)
		}
	}
}

// truncateTailSegmentTo cuts the last segment to n bytes.
func truncateTailSegmentTo(n int64) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		segs, _ := listSegments(dir)
		if len(segs) < 2 {
			t.Fatalf("want a call across segments, got %d segment(s)", len(segs))
		}
		if err := os.Truncate(segs[len(segs)-1].path, n); err != nil {
			t.Fatal(err)
		}
	}
}

// flipTail flips a bit in the byte n from the end of the last segment.
func flipTail(n int) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := tailPath(t, dir)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-n] ^= 0x20
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tailPath returns the path of the log's last segment.
func tailPath(t *testing.T, dir string) string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments of %s: %v, %v", dir, segs, err)
	}
	return segs[len(segs)-1].path
}
