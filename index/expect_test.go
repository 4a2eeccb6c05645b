package index_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestExpect: while entries are expected (a pull appending a backlog), a
// Run that reaches the end of the log keeps the view in bulk mode: its
// secondary index is not there (checked from another connection); once
// Expect(0) says the pull is over, the index is built and every entry is
// applied. Without Expect the view starts with its index (the log is empty
// when Run starts), which the first check catches.
func TestExpect(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	path := filepath.Join(dir, "kv.db")
	f := openView(t, path, &viewtest.KV{ViewName: "kv"})
	const chunk, chunks = 4000, 3
	ix, err := index.New(l, []*view.File{f}, index.Options{BulkLag: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ix.Expect(chunk * chunks)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()

	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hasIndex := func() bool {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'kv_kv_v'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for c := 0; c < chunks-1; c++ {
		seqs := appendKV(t, l, chunk, 50, log.Remote)
		// The indexer reaches the end of the log as it is now.
		if err := ix.WaitFor(ctx, seqs[len(seqs)-1]); err != nil {
			t.Fatal(err)
		}
		if hasIndex() {
			t.Fatalf("after chunk %d (the indexer at the log's end, more expected): the secondary index was built", c+1)
		}
	}
	// The pull delivers less than it announced, then ends.
	last := appendKV(t, l, chunk/2, 50, log.Remote)
	ix.Expect(0)
	if err := ix.WaitFor(ctx, last[len(last)-1]); err != nil {
		t.Fatal(err)
	}
	for !hasIndex() {
		if ctx.Err() != nil {
			t.Fatal("the secondary index was not built within a minute of Expect(0)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	done <- nil
	checkKV(t, path, "kv", l)
}
