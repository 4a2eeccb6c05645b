package index_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// failing is viewtest.KV whose writer fails on an entry setting the key
// "boom". If release is set, Apply of that entry first signals entered and
// waits for release to be closed.
type failing struct {
	viewtest.KV
	entered   chan struct{}
	enterOnce sync.Once
	release   chan struct{}
	opens     atomic.Int32
}

func (v *failing) Open(c *view.Conn) (view.Writer, error) {
	w, err := v.KV.Open(c)
	if err != nil {
		return nil, err
	}
	v.opens.Add(1)
	return &failWriter{Writer: w, v: v}, nil
}

type failWriter struct {
	view.Writer
	v *failing
}

func (w *failWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		if it.Value.(viewtest.Pair).K == "boom" {
			if w.v.release != nil {
				w.v.enterOnce.Do(func() { close(w.v.entered) })
				<-w.v.release
			}
			return errors.New("boom: this view cannot apply it")
		}
	}
	return w.Writer.Apply(ctx, tx, items)
}

func appendBoom(t *testing.T, l *log.Log) log.Seq {
	t.Helper()
	seqs, err := l.Append(context.Background(), log.Record{Origin: log.Remote, Payload: viewtest.Payload("boom", "x")})
	if err != nil {
		t.Fatal(err)
	}
	return seqs[0]
}

// logWithBoom makes a log of 100 KV entries in dir/log; the one at the
// returned seq, 37, sets the key "boom".
func logWithBoom(t *testing.T, dir string) (*log.Log, log.Seq) {
	t.Helper()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 36, 5, log.Remote)
	boom := appendBoom(t, l)
	appendKV(t, l, 63, 5, log.Remote)
	return l, boom
}

// checkApplyError checks that err names the failing view and entry.
func checkApplyError(t *testing.T, err error, view string, seq log.Seq) {
	t.Helper()
	var ae *viewApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a *view.ApplyError", err, err)
	}
	if ae.View != view || ae.Seq != seq || ae.Storage || !strings.Contains(err.Error(), "boom: this view cannot apply it") {
		t.Fatalf("ApplyError %+v (%v), want view %q, seq %d and the writer's error", *ae, err, view, seq)
	}
}

type viewApplyError = view.ApplyError

// TestFailingApplyStopsEveryWaiter: goroutines blocked in WaitFor when a
// view's Apply fails all return its error at once (not when their context
// ends), naming the view and the seq; Err reports it; a restart over the
// same entry fails again at once instead of hanging.
func TestFailingApplyStopsEveryWaiter(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 50, 7, log.Remote)
	path := filepath.Join(dir, "v.db")
	fv := &failing{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}, entered: make(chan struct{}), release: make(chan struct{})}
	f := openView(t, path, fv, kvView("b"))
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- ix.Run(ctx) }()
	if err := ix.WaitFor(ctx, 50); err != nil {
		t.Fatal(err)
	}

	boom := appendBoom(t, l)
	appendKV(t, l, 1, 7, log.Local)
	select {
	case <-fv.entered:
	case <-ctx.Done():
		t.Fatal("Apply of the failing entry never started")
	}
	waiting := make(chan struct{}, 100)
	defer index.SetWaitingHook(func() { waiting <- struct{}{} })()
	waits := []struct {
		seq   log.Seq
		views []string
	}{{boom, nil}, {boom + 1, nil}, {boom, []string{"b"}}, {boom + 1, []string{"a"}}}
	errs := make(chan error, len(waits))
	for _, w := range waits {
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			errs <- ix.WaitFor(wctx, w.seq, w.views...)
		}()
	}
	for range waits { // every waiter is blocked before the failure
		<-waiting
	}
	close(fv.release)
	for range waits {
		err := <-errs
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a waiter waited until its context ended: %v", err)
		}
		checkApplyError(t, err, "a", boom)
	}
	err := <-runErr
	checkApplyError(t, err, "a", boom)
	checkApplyError(t, ix.Err(), "a", boom)
	// StopOnError rolled the transaction back: b did not move either.
	for _, st := range f.Status() {
		if st.Since != 50 {
			t.Fatalf("view %s since %d after the failure, want 50", st.Name, st.Since)
		}
	}
	f.Close()

	// A restart stops at the same entry, and a waiter gets the error.
	fv2 := &failing{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}}
	f2 := openView(t, path, fv2, kvView("b"))
	ix2, _ := index.New(l, []*view.File{f2}, index.Options{})
	go func() { runErr <- ix2.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	checkApplyError(t, ix2.WaitFor(wctx, boom+1), "a", boom)
	checkApplyError(t, <-runErr, "a", boom)
}

// TestApplyErrorNamesTheEntry: in a batch of 100 entries, the error names
// the one Apply failed on, and nothing of the batch is kept.
func TestApplyErrorNamesTheEntry(t *testing.T) {
	dir := t.TempDir()
	l, boom := logWithBoom(t, dir)
	f := openView(t, filepath.Join(dir, "v.db"), kvView("b"), &failing{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}})
	ix, _ := index.New(l, []*view.File{f}, index.Options{BatchSize: 1000})
	err := ix.SynchronizeUpTo(context.Background(), 0)
	checkApplyError(t, err, "a", boom)
	for _, st := range f.Status() {
		if st.Since != 0 {
			t.Fatalf("view %s since %d after a failed batch, want 0", st.Name, st.Since)
		}
	}
	if !errors.Is(f.Err(), view.ErrFailed) {
		t.Fatalf("file error %v, want ErrFailed", f.Err())
	}
}

// TestRejectOnError: with view.RejectOnError, the failing entry is rejected
// for that view (with a new writer, so the failed attempt leaves no state)
// and indexing goes on.
func TestRejectOnError(t *testing.T) {
	dir := t.TempDir()
	l, boom := logWithBoom(t, dir)
	path := filepath.Join(dir, "v.db")
	fv := &failing{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}}
	f, err := view.OpenFile(path, []view.View{fv, kvView("b")}, view.Options{OnError: view.RejectOnError})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq int64
	var msg string
	if err := db.QueryRow(`SELECT seq, error FROM sluice_rejects WHERE view = 'a'`).Scan(&seq, &msg); err != nil || log.Seq(seq) != boom || !strings.Contains(msg, "boom") {
		t.Fatalf("reject of a: seq %d %q %v, want seq %d", seq, msg, err, boom)
	}
	var a, b int
	db.QueryRow(`SELECT (SELECT count(*) FROM a_log), (SELECT count(*) FROM b_log)`).Scan(&a, &b)
	if a != 99 || b != 100 {
		t.Fatalf("a_log %d rows, b_log %d: want 99 and 100", a, b)
	}
	if n := fv.opens.Load(); n < 2 {
		t.Fatalf("the writer was opened %d times: not renewed after the failure", n)
	}
}
