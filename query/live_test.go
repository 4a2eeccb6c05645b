package query_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestLiveDeliversChanges follows one key through commits that change it
// and one that does not: each change is delivered with the since it
// reflects, and the commit the WHERE clause excludes is re-run but not
// delivered.
func TestLiveDeliversChanges(t *testing.T) {
	for _, opts := range []query.LiveOptions{{}, {NoWatch: true}} {
		t.Run("NoWatch="+strconv.FormatBool(opts.NoWatch), func(t *testing.T) {
			rl := newRunLog()
			dir := t.TempDir()
			f := kvFile(t, dir, "kv")
			put(t, f, 1, "a", "1")
			_, l := openLive(t, dir, rl.opts(opts))
			s, err := l.Subscribe(t.Context(), `SELECT v FROM kv_kv WHERE k = ?`, "a")
			if err != nil {
				t.Fatal(err)
			}
			r := next(t, s)
			if rowsOf(r) != "1" || since(t, r, "kv") != 1 || r.N != 1 {
				t.Fatalf("first result: rows %q since %d N %d, want 1, 1, 1", rowsOf(r), since(t, r, "kv"), r.N)
			}
			put(t, f, 2, "a", "2")
			r = next(t, s)
			if rowsOf(r) != "2" || since(t, r, "kv") != 2 || r.N != 2 {
				t.Fatalf("after seq 2: rows %q since %d N %d, want 2, 2, 2", rowsOf(r), since(t, r, "kv"), r.N)
			}
			put(t, f, 3, "b", "x") // not key a: same result
			if x := rl.waitRun(t, s, 3); x.delivered || x.rows != "2" {
				t.Fatalf("the run after seq 3 (key b) = %+v, want rows 2, not delivered", x)
			}
			put(t, f, 4, "a", "4")
			r = next(t, s)
			if rowsOf(r) != "4" || since(t, r, "kv") != 4 || r.N != 3 {
				t.Fatalf("after seq 4: rows %q since %d N %d, want 4, 4, 3 (nothing delivered for seq 3)", rowsOf(r), since(t, r, "kv"), r.N)
			}
			if !r.Shows("kv", 4) || r.Shows("kv", 5) || r.Shows("nope", 1) {
				t.Fatalf("Shows disagrees with since 4: %+v", r.Views)
			}
		})
	}
}

// TestLiveSameSnapshot checks that each result's rows and the since it
// reports come from the same read transaction: a writer sets key a to the
// seq of each entry as fast as it can, so in every result v must equal
// since.
func TestLiveSameSnapshot(t *testing.T) {
	dir := t.TempDir()
	f := kvFile(t, dir, "kv")
	put(t, f, 1, "a", "1")
	_, l := openLive(t, dir, query.LiveOptions{NoWatch: true, Poll: 50 * time.Microsecond})
	s, err := l.Subscribe(t.Context(), `SELECT v FROM kv_kv WHERE k = 'a'`)
	if err != nil {
		t.Fatal(err)
	}
	const last = 400
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() { // the writer; it stops early if the test fails
		for seq := log.Seq(2); seq <= last; seq++ {
			b := &view.Batch{From: seq, To: seq, Entries: []log.Entry{{Seq: seq, Payload: viewtest.Payload("a", strconv.Itoa(int(seq)))}}}
			if err := f.Apply(context.Background(), b); err != nil {
				done <- err
				return
			}
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
		}
		done <- nil
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	n := 0
	for {
		r := next(t, s)
		n++
		if got := rowsOf(r); got != strconv.Itoa(int(since(t, r, "kv"))) {
			t.Fatalf("result %d: v = %s but since = %d", r.N, got, since(t, r, "kv"))
		}
		if since(t, r, "kv") == last {
			break
		}
	}
	t.Logf("%d results for %d commits", n, last)
}

// TestLiveCoalesces holds a re-run while 50 commits land: they cost one
// more run after it, not 50, and a later commit one run more.
func TestLiveCoalesces(t *testing.T) {
	rl := newRunLog()
	dir := t.TempDir()
	f := kvFile(t, dir, "kv")
	put(t, f, 1, "a", "1")
	_, l := openLive(t, dir, rl.opts(query.LiveOptions{}))
	s, err := l.Subscribe(t.Context(), `SELECT v FROM kv_kv WHERE k = 'a'`)
	if err != nil {
		t.Fatal(err)
	}
	next(t, s)
	held, release := make(chan struct{}), make(chan struct{})
	rl.mu.Lock()
	rl.block = func(x run) {
		if x.since == 2 {
			close(held)
			<-release
		}
	}
	rl.mu.Unlock()
	put(t, f, 2, "a", "2")
	<-held // the run reflecting seq 2 is in flight
	for seq := log.Seq(3); seq <= 52; seq++ {
		before := l.Stats().Changes
		put(t, f, seq, "a", strconv.Itoa(int(seq)))
		waitFor(t, func() bool { return l.Stats().Changes > before }, "the watcher to notice seq %d", seq)
	}
	close(release)
	r := next(t, s) // the held result, unless the one after it replaced it already
	if since(t, r, "kv") == 2 {
		r = next(t, s)
	}
	if rowsOf(r) != "52" || since(t, r, "kv") != 52 || r.N != 3 {
		t.Fatalf("the run after the burst: rows %q since %d N %d, want 52, 52, 3", rowsOf(r), since(t, r, "kv"), r.N)
	}
	put(t, f, 53, "b", "x")
	rl.waitRun(t, s, 53)
	var sinces []log.Seq
	for _, x := range rl.of(s) {
		sinces = append(sinces, x.since)
	}
	if want := []log.Seq{1, 2, 52, 53}; !equalSeqs(sinces, want) {
		t.Fatalf("runs reflected seqs %v, want %v: one run in flight, one after it", sinces, want)
	}
}

func equalSeqs(a, b []log.Seq) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitFor waits (10 s at most) until cond holds.
func waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+what, args...)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestLiveWatchesOnlyWhatItReads subscribes to a query over a.db while
// c.db changes: the watcher reads only a.db's data_version, and the query
// runs only for a.db's changes.
func TestLiveWatchesOnlyWhatItReads(t *testing.T) {
	rl := newRunLog()
	dir := t.TempDir()
	a, c := kvFile(t, dir, "a"), kvFile(t, dir, "c")
	put(t, a, 1, "k", "1")
	put(t, c, 1, "k", "1")
	_, l := openLive(t, dir, rl.opts(query.LiveOptions{NoWatch: true}))
	s, err := l.Subscribe(t.Context(), `SELECT count(*) FROM a_log`)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Reads(); len(got) != 1 || got[0] != (query.Read{File: "a", Table: "a_log", View: "a"}) {
		t.Fatalf("Reads = %+v, want a_log of a only", got)
	}
	next(t, s)
	for seq := log.Seq(2); seq <= 20; seq++ {
		put(t, c, seq, "k", "x")
	}
	before := l.Stats()
	waitFor(t, func() bool { return l.Stats().Checks >= before.Checks+3 }, "three more looks")
	if st := l.Stats(); st.Changes != before.Changes {
		t.Fatalf("changes noticed %d → %d while only c.db changed", before.Changes, st.Changes)
	}
	put(t, a, 2, "k", "2")
	r := next(t, s)
	if rowsOf(r) != "2" || since(t, r, "a") != 2 {
		t.Fatalf("after a's seq 2: rows %q since %d", rowsOf(r), since(t, r, "a"))
	}
	if runs := rl.of(s); len(runs) != 2 {
		t.Fatalf("%d runs, want 2 (the first, and a's change): %+v", len(runs), runs)
	}
	for _, v := range r.Views {
		if v.File != "a" {
			t.Fatalf("result reports views of %s: %+v", v.File, r.Views)
		}
	}
}

// TestLiveRefusesWrites: a statement that would write is refused before
// anything starts: no goroutine, nothing changed.
func TestLiveRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	f := kvFile(t, dir, "kv")
	put(t, f, 1, "a", "1")
	db, l := openLive(t, dir, query.LiveOptions{})
	base := runtime.NumGoroutine()
	for _, q := range []string{
		`DELETE FROM kv_kv`,
		`INSERT INTO kv_kv(k, v, seq) VALUES ('z', 'z', 9)`,
		`UPDATE kv_kv SET v = 'x' RETURNING v`,
		`DROP TABLE kv_log`,
		`ATTACH DATABASE 'other.db' AS other`,
		`CREATE TEMP TABLE t AS SELECT * FROM kv_kv`,
	} {
		s, err := l.Subscribe(t.Context(), q)
		if !errors.Is(err, query.ErrWrite) || s != nil {
			t.Errorf("Subscribe(%s) = %v, %v; want ErrWrite", q, s, err)
		}
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after refused subscriptions, %d before", n, base)
	}
	var n int
	var v string
	if err := db.SQL().QueryRow(`SELECT count(*), max(v) FROM kv_kv`).Scan(&n, &v); err != nil || n != 1 || v != "1" {
		t.Fatalf("kv_kv after the refused writes: %d rows, v %q, %v", n, v, err)
	}
	if l.Stats() != (query.LiveStats{}) {
		t.Fatalf("stats after refused subscriptions: %+v", l.Stats())
	}
	if _, err := l.Subscribe(t.Context(), `SELECT nope FROM kv_kv`); err == nil {
		t.Errorf("a statement that does not compile: no error")
	}
	if _, err := l.Subscribe(t.Context(), `SELECT v FROM kv_kv WHERE k = ?`); err == nil {
		t.Errorf("a parameter without its argument: no error")
	}
}

// TestLiveNoLeak ends subscriptions every way there is (their context, Close,
// Live.Close) and checks that no goroutine is left once Next has returned.
func TestLiveNoLeak(t *testing.T) {
	dir := t.TempDir()
	f := kvFile(t, dir, "kv")
	put(t, f, 1, "a", "1")
	_, l := openLive(t, dir, query.LiveOptions{Notifier: nil})
	base := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(t.Context())
	var subs []*query.Subscription
	for i := range 3 {
		s, err := l.Subscribe(ctx, `SELECT v FROM kv_kv WHERE k = ?`, "a")
		if err != nil {
			t.Fatal(err)
		}
		next(t, s)
		subs = append(subs, s)
		put(t, f, log.Seq(2+i), "a", strconv.Itoa(2+i))
	}
	if runtime.NumGoroutine() <= base {
		t.Fatalf("no goroutine runs while subscriptions are open")
	}
	cancel()
	for _, s := range subs {
		for {
			_, err := s.Next(context.Background())
			if errors.Is(err, context.Canceled) {
				break
			}
			if err != nil {
				t.Fatalf("Next after cancel: %v", err)
			}
		}
	}
	waitGoroutines(t, base)

	// Close, twice, then Live.Close, twice.
	for _, end := range []func(*query.Subscription){func(s *query.Subscription) { s.Close(); s.Close() }, func(*query.Subscription) { l.Close(); l.Close() }} {
		s, err := l.Subscribe(t.Context(), `SELECT count(*) FROM kv_log`)
		if err != nil {
			t.Fatal(err)
		}
		next(t, s)
		end(s)
		if _, err := s.Next(t.Context()); !errors.Is(err, query.ErrClosed) {
			t.Fatalf("Next after the end = %v, want ErrClosed", err)
		}
		waitGoroutines(t, base)
	}
	if _, err := l.Subscribe(t.Context(), `SELECT 1`); !errors.Is(err, query.ErrClosed) {
		t.Fatalf("Subscribe after Live.Close = %v, want ErrClosed", err)
	}
}
