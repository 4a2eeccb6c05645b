package view_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestSplit: the parts of a decoded backlog batch cover its range without
// gaps (seqs the source skipped included), keep its entries in order, and
// staged one by one leave the view as the whole batch does.
func TestSplit(t *testing.T) {
	var es []log.Entry
	for _, e := range entries(1, 12, nil) {
		if e.Seq%4 != 0 { // a source may skip seqs, e.g. deleted records
			es = append(es, e)
		}
	}
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	whole := openFile(t, filepath.Join(t.TempDir(), "whole.db"), nil, kv)
	parted := openFile(t, filepath.Join(t.TempDir(), "parted.db"), nil, kv)
	apply(t, whole, &view.Batch{Entries: es, From: 1, To: 13})

	b := &view.Batch{Entries: es, From: 1, To: 13}
	parted.Decode(b)
	for _, n := range []int{0, len(es), len(es) + 1} {
		if parts := b.Split(n); len(parts) != 1 || parts[0] != b {
			t.Fatalf("Split(%d) of %d entries: %d parts, want the batch itself", n, len(es), len(parts))
		}
	}
	parts := b.Split(2)
	if want := (len(es) + 1) / 2; len(parts) != want {
		t.Fatalf("Split(2) of %d entries: %d parts, want %d", len(es), len(parts), want)
	}
	next, i := log.Seq(1), 0
	for _, p := range parts {
		if p.From != next || p.To < p.From || len(p.Entries) == 0 || len(p.Entries) > 2 {
			t.Fatalf("part %d..%d with %d entries after seq %d", p.From, p.To, len(p.Entries), next-1)
		}
		for _, e := range p.Entries {
			if e.Seq != es[i].Seq || e.Seq < p.From || e.Seq > p.To {
				t.Fatalf("part %d..%d holds seq %d, want %d", p.From, p.To, e.Seq, es[i].Seq)
			}
			i++
		}
		next = p.To + 1
		if err := parted.Stage(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if next != 14 || i != len(es) {
		t.Fatalf("parts end at %d with %d entries, want 13 and %d", next-1, i, len(es))
	}
	if err := parted.Commit(); err != nil {
		t.Fatal(err)
	}
	if a, b := since(t, whole, "a"), since(t, parted, "a"); a != 13 || b != 13 {
		t.Fatalf("since: whole %d, parts %d; want 13", a, b)
	}
	for _, q := range []string{`SELECT count(*) FROM a_log`, `SELECT sum(seq) FROM a_log`, `SELECT sum(seq) FROM a_kv`} {
		if w, p := queryInt(t, readDB(t, whole.Path()), q), queryInt(t, readDB(t, parted.Path()), q); w != p {
			t.Fatalf("%s: whole batch %d, parts %d", q, w, p)
		}
	}
	ahead := &view.Batch{Entries: es, Ahead: true}
	if parts := ahead.Split(2); len(parts) != 1 || parts[0] != ahead {
		t.Fatalf("Split of an Ahead batch: %d parts, want the batch itself", len(parts))
	}
}
