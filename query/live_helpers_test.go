package query_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// kvFile creates dir/name.db holding a KV view of the same name, open for
// writing: the test plays the indexer.
func kvFile(t *testing.T, dir, name string) *view.File {
	t.Helper()
	f, err := view.OpenFile(filepath.Join(dir, name+".db"), []view.View{&viewtest.KV{ViewName: name, ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// put applies the entry at seq, setting k to v, in a transaction of its own.
func put(t *testing.T, f *view.File, seq log.Seq, k, v string) {
	t.Helper()
	b := &view.Batch{From: seq, To: seq, Entries: []log.Entry{{Seq: seq, Origin: log.Remote, Payload: viewtest.Payload(k, v)}}}
	if err := f.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// openLive opens the view files of dir and a Live over them, closed at the
// end of the test.
func openLive(t *testing.T, dir string, opts query.LiveOptions) (*query.DB, *query.Live) {
	t.Helper()
	db, err := query.OpenDir(dir, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := query.NewLive(db, opts)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		db.Close()
	})
	return db, l
}

// next returns the subscription's next result, failing the test after 30 s.
func next(t *testing.T, s *query.Subscription) *query.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return r
}

// rowsOf renders a result's rows as "a,b;c,d" for comparisons with
// hand-written expectations.
func rowsOf(r *query.Result) string {
	var rows []string
	for _, row := range r.Rows {
		var cells []string
		for _, v := range row {
			cells = append(cells, fmt.Sprint(v))
		}
		rows = append(rows, strings.Join(cells, ","))
	}
	return strings.Join(rows, ";")
}

// since returns the since the result reports for view, failing the test if
// it reports none.
func since(t *testing.T, r *query.Result, view string) log.Seq {
	t.Helper()
	for _, v := range r.Views {
		if v.View == view {
			return v.Since
		}
	}
	t.Fatalf("result %d reports no view %q: %+v", r.N, view, r.Views)
	return 0
}

// run is one run of a live query, as the run hook saw it.
type run struct {
	sub       *query.Subscription
	rows      string
	since     log.Seq // of the first view the result reports
	delivered bool
}

// runLog records every run of the live queries of a Live
// (LiveOptions.OnRun) and lets a test wait for one.
type runLog struct {
	mu      sync.Mutex
	runs    []run
	changed chan struct{} // closed and replaced on every run
	block   func(run)     // called (outside mu) after a run is recorded
}

// newRunLog returns a runLog; pass its options (rl.opts) to NewLive.
func newRunLog() *runLog { return &runLog{changed: make(chan struct{})} }

// opts returns o with rl recording every run (LiveOptions.OnRun).
func (rl *runLog) opts(o query.LiveOptions) query.LiveOptions {
	o.OnRun = rl.record
	return o
}

func (rl *runLog) record(s *query.Subscription, r *query.Result, delivered bool) {
	x := run{sub: s, rows: rowsOf(r), delivered: delivered}
	if len(r.Views) > 0 {
		x.since = r.Views[0].Since
	}
	rl.mu.Lock()
	rl.runs = append(rl.runs, x)
	close(rl.changed)
	rl.changed = make(chan struct{})
	block := rl.block
	rl.mu.Unlock()
	if block != nil {
		block(x)
	}
}

// of returns the runs of s so far.
func (rl *runLog) of(s *query.Subscription) []run {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var out []run
	for _, r := range rl.runs {
		if r.sub == s {
			out = append(out, r)
		}
	}
	return out
}

// waitRun waits (30 s at most) for a run of s whose result reflects seq
// (since >= seq) and returns it.
func (rl *runLog) waitRun(t *testing.T, s *query.Subscription, seq log.Seq) run {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		rl.mu.Lock()
		ch := rl.changed
		for _, r := range rl.runs {
			if r.sub == s && r.since >= seq {
				rl.mu.Unlock()
				return r
			}
		}
		rl.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no run of %q reflecting seq %d within 30 s; runs: %+v", s.Query(), seq, rl.of(s))
		}
	}
}

// waitGoroutines waits until no more than n goroutines run (bounded: 10 s),
// and fails the test with their stacks otherwise.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
