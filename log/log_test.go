package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// payloadFor is the payload the tests append as seq n: distinct per seq and
// of varying length, so a test can tell entries apart without the log.
func payloadFor(n int) []byte {
	return []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, bytes.Repeat([]byte{'x'}, n%97)))
}

func openT(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, from, to int, origin Origin) {
	t.Helper()
	ctx := context.Background()
	for i := from; i <= to; i++ {
		seqs, err := l.Append(ctx, Record{Origin: origin, Payload: payloadFor(i)})
		if err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
		if seqs[0] != Seq(i) {
			t.Fatalf("Append #%d got seq %d", i, seqs[0])
		}
	}
}

// readAll reads every entry of src from seq from and checks that they are
// from, from+1, ... with the payloads payloadFor gives.
func readAll(t *testing.T, src Source, from Seq) []Entry {
	t.Helper()
	it, err := src.Iter(from)
	if err != nil {
		t.Fatalf("Iter(%d): %v", from, err)
	}
	defer it.Close()
	var out []Entry
	want := from
	if want == 0 {
		want = 1
	}
	for it.Next() {
		e := it.Entry()
		if e.Seq != want {
			t.Fatalf("Iter(%d): got seq %d, want %d", from, e.Seq, want)
		}
		if !bytes.Equal(e.Payload, payloadFor(int(want))) {
			t.Fatalf("seq %d: payload %q, want %q", want, e.Payload, payloadFor(int(want)))
		}
		out = append(out, e)
		want++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Iter(%d): %v", from, err)
	}
	return out
}

func TestAppendIterGet(t *testing.T) {
	for _, d := range []Durability{SyncAlways, SyncGroup, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			// A small segment size makes the log span many segments.
			l := openT(t, dir, Options{Durability: d, SegmentSize: 4096})
			appendN(t, l, 1, 500, Remote)
			if last, _ := l.Last(); last != 500 {
				t.Fatalf("Last = %d, want 500", last)
			}
			for _, from := range []Seq{0, 1, 2, 77, 250, 499, 500, 501} {
				got := readAll(t, l, from)
				wantN := 500 - int(max(from, 1)) + 1
				if len(got) != max(wantN, 0) {
					t.Fatalf("Iter(%d) yielded %d entries, want %d", from, len(got), wantN)
				}
			}
			for _, s := range []Seq{1, 2, 100, 499, 500} {
				e, err := l.Get(s)
				if err != nil || e.Seq != s || !bytes.Equal(e.Payload, payloadFor(int(s))) || e.Origin != Remote {
					t.Fatalf("Get(%d) = %+v, %v", s, e, err)
				}
			}
			for _, s := range []Seq{0, 501} {
				if _, err := l.Get(s); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get(%d) err = %v, want ErrNotFound", s, err)
				}
			}
			segs, _ := listSegments(dir)
			if len(segs) < 5 {
				t.Fatalf("expected many segments, got %d", len(segs))
			}
			// Reopen and read it all again, also through a Reader.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openT(t, dir, Options{Durability: d, SegmentSize: 4096})
			if len(l2.Repairs()) != 0 {
				t.Fatalf("clean reopen repaired: %v", l2.Repairs())
			}
			appendN(t, l2, 501, 520, Local)
			r, err := OpenReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if last, err := r.Last(); err != nil || last != 520 {
				t.Fatalf("Reader.Last = %d, %v", last, err)
			}
			all := readAll(t, r, 1)
			if len(all) != 520 || all[519].Origin != Local || all[499].Origin != Remote {
				t.Fatalf("reader got %d entries", len(all))
			}
			_ = filepath.Join
			_ = os.Remove
		})
	}
}
