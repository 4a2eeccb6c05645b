package viewtest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// RebuildEqualsLive checks a property every view must have: indexing a log
// one entry per batch, as an indexer following the log does, gives the same
// tables as indexing it in big batches, as a rebuild does. newViews returns
// a fresh set of the views under test (the same definitions each call);
// entries are a log's entries in seq order. The live file has its secondary
// indexes from the start (a view that has caught up); the rebuilt one gets
// them at the end. The two files' full dumps (see Dump) and rejected
// entries must be equal; batch is the size of the rebuild's batches (0: all
// entries in one).
//
// A writer that reorders entries within a batch — say, one that executes
// its statements one after the other at the end of Apply, had the rows not
// run in the order they were appended — fails this test.
func RebuildEqualsLive(t testing.TB, newViews func() []view.View, entries []log.Entry, batch int) {
	t.Helper()
	if batch <= 0 {
		batch = max(len(entries), 1)
	}
	dir := t.TempDir()
	ctx := context.Background()
	build := func(name string, size int, indexesFirst bool) string {
		t.Helper()
		path := filepath.Join(dir, name+".db")
		f, err := view.OpenFile(path, newViews(), view.Options{Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if indexesFirst {
			if err := f.BuildIndexes(); err != nil {
				t.Fatal(err)
			}
		}
		prev := log.Seq(0)
		for i := 0; i < len(entries); i += size {
			es := entries[i:min(i+size, len(entries))]
			b := &view.Batch{Entries: es, From: prev + 1, To: es[len(es)-1].Seq}
			if err := f.Apply(ctx, b); err != nil {
				t.Fatalf("%s: apply seqs %d-%d: %v", name, b.From, b.To, err)
			}
			prev = b.To
		}
		if err := f.BuildIndexes(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	live := build("live", 1, true)
	rebuilt := build("rebuilt", batch, false)
	a, err := Dump(live)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Dump(rebuilt)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("indexed one entry per batch (-) and in batches of %d (+), the views differ:\n%s", batch, Diff(a, b))
	}
	ra, rb := rejects(t, live), rejects(t, rebuilt)
	if ra != rb {
		t.Fatalf("indexed one entry per batch and in batches of %d, the views rejected different entries:\n%s", batch, Diff(ra, rb))
	}
}

// rejects lists the (view, seq) of a file's rejected entries.
func rejects(t testing.TB, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT view, seq FROM sluice_rejects ORDER BY view, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", name, seq)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
