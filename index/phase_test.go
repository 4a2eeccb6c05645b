package index_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// TestProgressFiles: Progress reports each view file's since and phase:
// idle before a run, caught up after SynchronizeUpTo built the indexes.
func TestProgressFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 300, 7, log.Remote)
	fa := openView(t, filepath.Join(dir, "a.db"), kvView("a"))
	fb := openView(t, filepath.Join(dir, "b.db"), kvView("b"))
	ix, err := index.New(l, []*view.File{fa, fb}, index.Options{BatchSize: 50, BulkLag: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := ix.Progress()
	if len(p.Files) != 2 || p.Files[0].Path != fa.Path() || p.Files[1].Path != fb.Path() {
		t.Fatalf("Files = %+v, want a.db and b.db in order", p.Files)
	}
	for _, f := range p.Files {
		if f.Phase != index.PhaseIdle || f.Since != 0 || f.Phase.String() != "idle" {
			t.Fatalf("before a run: %+v (%s)", f, f.Phase)
		}
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range ix.Progress().Files {
		if f.Phase != index.PhaseCaughtUp || f.Since != 300 || f.Index != 0 || f.Phase.String() != "caught-up" {
			t.Fatalf("after SynchronizeUpTo: %+v (%s)", f, f.Phase)
		}
	}
	for p, want := range map[index.Phase]string{index.PhaseBacklog: "backlog", index.PhaseIndexes: "indexes", index.Phase(9): "Phase(9)"} {
		if p.String() != want {
			t.Errorf("Phase(%d).String() = %q, want %q", int(p), p.String(), want)
		}
	}
}
