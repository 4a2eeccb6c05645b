package log

import (
	"context"
	"errors"
	"testing"
)

// TestAppendNoSync: entries appended without a sync are visible at once
// but the durable mark does not cover them until an Append that syncs (or
// Close) does; a bad record appends nothing.
func TestAppendNoSync(t *testing.T) {
	ctx := context.Background()
	for _, d := range []Durability{SyncAlways, SyncGroup, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{Durability: d})
			appendN(t, l, 1, 2, Local)
			synced := Seq(2)
			if d == SyncNone {
				synced = 0
			}
			if m := l.Mark(); m != synced {
				t.Fatalf("mark after two Appends = %d, want %d", m, synced)
			}
			recs := []Record{{Origin: Remote, Payload: payloadFor(3)}, {Origin: Remote, Payload: payloadFor(4)}, {Origin: Remote, Payload: payloadFor(5)}}
			seqs, err := l.AppendNoSync(ctx, recs...)
			if err != nil {
				t.Fatal(err)
			}
			if len(seqs) != 3 || seqs[0] != 3 || seqs[2] != 5 {
				t.Fatalf("AppendNoSync seqs = %v, want [3 4 5]", seqs)
			}
			if last, _ := l.Last(); last != 5 {
				t.Fatalf("Last = %d, want 5", last)
			}
			if es := readAll(t, l, 1); len(es) != 5 || es[4].Origin != Remote {
				t.Fatalf("read %d entries after AppendNoSync, want 5 (the last remote)", len(es))
			}
			if m := l.Mark(); m != synced {
				t.Fatalf("mark after AppendNoSync = %d, want %d still: nothing synced them", m, synced)
			}
			if _, err := l.AppendNoSync(ctx, Record{Origin: Remote, Payload: payloadFor(6)}, Record{Origin: Remote}); !errors.Is(err, ErrEmpty) {
				t.Fatalf("AppendNoSync with an empty payload: err = %v, want ErrEmpty", err)
			}
			if last, _ := l.Last(); last != 5 {
				t.Fatalf("Last after a refused AppendNoSync = %d, want 5", last)
			}
			appendN(t, l, 6, 6, Local)
			if d != SyncNone {
				synced = 6
			}
			if m := l.Mark(); m != synced {
				t.Fatalf("mark after an Append that syncs = %d, want %d (its fsync covers the entries before it)", m, synced)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if m, err := ReadMark(dir); err != nil || m != 6 {
				t.Fatalf("HEAD mark after Close = %d, %v; want 6", m, err)
			}
			l2 := openT(t, dir, Options{Durability: d})
			if es := readAll(t, l2, 1); len(es) != 6 {
				t.Fatalf("reopened log holds %d entries, want 6", len(es))
			}
		})
	}
}
