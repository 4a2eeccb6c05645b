package index_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// TestLocalRightAfterRun: a local entry appended right after go ix.Run,
// over a backlog, goes ahead of it: the view shows it while the backlog is
// far from done.
func TestLocalRightAfterRun(t *testing.T) {
	const backlog = 60000
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	for i := 0; i < backlog/10000; i++ {
		appendKV(t, l, 10000, 101, log.Remote)
	}
	f := openView(t, filepath.Join(dir, "v.db"), kvView("a"))
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	seq := appendKV(t, l, 1, 101, log.Local)[0]
	if err := ix.WaitFor(ctx, seq, "a"); err != nil {
		t.Fatal(err)
	}
	if since := f.Status()[0].Since; since >= backlog/2 {
		t.Fatalf("the local entry showed only once the view had reached seq %d of a %d-entry backlog", since, backlog)
	}
	cancel()
	<-done
}
