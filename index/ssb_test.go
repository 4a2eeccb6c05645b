package index_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
	"github.com/sluicedb/sluice/view/viewtest"
)

func appendPayloads(t testing.TB, l *log.Log, payloads [][]byte, origin log.Origin) {
	t.Helper()
	for len(payloads) > 0 {
		n := min(len(payloads), 1000)
		recs := make([]log.Record, n)
		for i := range recs {
			recs[i] = log.Record{Origin: origin, Payload: payloads[i]}
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
		payloads = payloads[n:]
	}
}

// TestBulkAndIncrementalAgree indexes one log two ways: from scratch in one
// catch-up (bulk mode: no fsync, big transactions, indexes built at the
// end, copies of messages removed then), and entry group by entry group
// into views that caught up first (indexes kept up row by row, copies
// refused by the unique index). The two databases are identical.
func TestBulkAndIncrementalAgree(t *testing.T) {
	payloads := ssbtest.Generate(ssbtest.Options{Seed: 11, Messages: 20000, Authors: 12, Copies: 0.02, Indented: 0.05})
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendPayloads(t, l, payloads, log.Remote)
	ctx := context.Background()

	bulkPath := filepath.Join(dir, "bulk.db")
	fb := openView(t, bulkPath, ssb.View{})
	ix, _ := index.New(l, []*view.File{fb}, index.Options{BulkLag: 100})
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	fb.Close()

	incPath := filepath.Join(dir, "inc.db")
	l2 := openLog(t, filepath.Join(dir, "log2"))
	fi := openView(t, incPath, ssb.View{})
	ix2, _ := index.New(l2, []*view.File{fi}, index.Options{BulkLag: -1})
	if err := ix2.SynchronizeUpTo(ctx, 0); err != nil { // empty: caught up, indexes built
		t.Fatal(err)
	}
	if !fi.Status()[0].IndexesBuilt {
		t.Fatal("indexes not built on an empty, caught-up view")
	}
	for i := 0; i < len(payloads); {
		n := min(1+i%97, len(payloads)-i)
		appendPayloads(t, l2, payloads[i:i+n], log.Remote)
		if err := ix2.SynchronizeUpTo(ctx, 0); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	fi.Close()

	a, err := ssbtest.Dump(bulkPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ssbtest.Dump(incPath)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("bulk and incremental databases differ:\n%s", ssbtest.Diff(a, b))
	}
}

// TestLocalFloodDoesNotStarveBacklog appends local entries as fast as it
// can while a backlog is indexed: local entries go first, yet the backlog
// keeps its share of the writer's time and finishes.
func TestLocalFloodDoesNotStarveBacklog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 40000, 101, log.Remote)
	path := filepath.Join(dir, "v.db")
	f := openView(t, path, kvView("a"))
	ix, _ := index.New(l, []*view.File{f}, index.Options{BatchSize: 200, BacklogShare: 0.5})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	var wg sync.WaitGroup
	flood, stopFlood := context.WithCancel(ctx)
	floodErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for flood.Err() == nil {
			if _, err := l.Append(context.Background(), kvRecords(5, 101, log.Local)...); err != nil {
				floodErr <- err
				return
			}
		}
	}()
	err := ix.WaitFor(ctx, 40000)
	stopFlood()
	wg.Wait()
	select {
	case ferr := <-floodErr:
		t.Fatalf("appending local entries: %v", ferr)
	default:
	}
	if err != nil {
		t.Fatalf("the backlog did not finish while local entries flooded in: %v", err)
	}
	last, _ := l.Last()
	if err := ix.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	stop()
	<-done
	if p := ix.Progress(); p.AheadApplied == 0 {
		t.Fatal("no local entry was applied ahead of the backlog")
	}
	checkKV(t, path, "a", l)
}

// followAfterBulk starts a follower (Run) that catches up with a 3000-entry
// log in bulk mode, waits until it has, and checks that the catch-up left
// the view file unsettled. Cleanup stops the follower.
func followAfterBulk(t *testing.T, opts index.Options) (context.Context, *log.Log, *view.File, *index.Indexer) {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 3000, 17, log.Remote)
	f := openView(t, filepath.Join(dir, "v.db"), kvView("a"))
	opts.BulkLag = 100
	ix, _ := index.New(l, []*view.File{f}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if err := ix.WaitFor(ctx, 3000); err != nil {
		t.Fatal(err)
	}
	if !f.Unsettled() {
		t.Fatal("a bulk catch-up left nothing to settle: the test proves nothing")
	}
	return ctx, l, f, ix
}

// TestFollowSettles: a follower that caught up in bulk mode syncs the view
// file once idle, and removes its dirty mark.
func TestFollowSettles(t *testing.T) {
	ctx, _, f, _ := followAfterBulk(t, index.Options{})
	for f.Unsettled() {
		if ctx.Err() != nil {
			t.Fatal("the follower never settled the view file")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBusyFollowerSettles: a follower kept busy by a steady stream of local
// entries (never idle for the 2 s that settles a file) still settles the
// view file once SettleWithin has passed since its bulk catch-up.
func TestBusyFollowerSettles(t *testing.T) {
	ctx, l, f, ix := followAfterBulk(t, index.Options{SettleWithin: 200 * time.Millisecond})
	// Append and wait for one local entry at a time, so the writer is
	// never idle for long, until the file is settled: it must be well
	// before the 2 s an idle follower waits.
	start := time.Now()
	for i := 0; f.Unsettled(); i++ {
		if i == 1_000_000 || time.Since(start) > 1500*time.Millisecond {
			t.Fatalf("still unsettled after %d local entries in %v, SettleWithin 200ms", i, time.Since(start))
		}
		seqs, err := l.Append(ctx, log.Record{Origin: log.Local, Payload: viewtest.Payload(fmt.Sprintf("local%d", i), "x")})
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.WaitFor(ctx, seqs[0]); err != nil {
			t.Fatal(err)
		}
	}
}
