package index_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

func openLog(t *testing.T, dir string) *log.Log {
	t.Helper()
	l, err := log.Open(dir, log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendKV appends n entries setting key k<i%keys> to v<i>, with the given
// origin, and returns their seqs.
func appendKV(t *testing.T, l *log.Log, n, keys int, origin log.Origin) []log.Seq {
	t.Helper()
	seqs, err := l.Append(context.Background(), kvRecords(n, keys, origin)...)
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// kvRecords returns the records appendKV appends; for goroutines other
// than the test's, which must not call t.Fatal.
func kvRecords(n, keys int, origin log.Origin) []log.Record {
	recs := make([]log.Record, n)
	for i := range recs {
		recs[i] = log.Record{Origin: origin, Payload: viewtest.Payload(fmt.Sprintf("k%d", i%keys), fmt.Sprintf("v%d-%d", i, time.Now().UnixNano()))}
	}
	return recs
}

func openView(t *testing.T, path string, views ...view.View) *view.File {
	t.Helper()
	return openViewLogf(t, path, nil, views...)
}

// openViewLogf opens a view file whose notices go to logf.
func openViewLogf(t *testing.T, path string, logf func(string, ...any), views ...view.View) *view.File {
	t.Helper()
	f, err := view.OpenFile(path, views, view.Options{Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// expectKV computes, from the log alone, what the KV view must hold: the
// latest value of each key and the number of entries.
func expectKV(t *testing.T, src log.Source) (map[string]string, int) {
	t.Helper()
	it, err := src.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	latest := map[string]string{}
	n := 0
	kv := &viewtest.KV{}
	for it.Next() {
		v, err := kv.Decode(it.Entry())
		if err != nil {
			t.Fatal(err)
		}
		p := v.(viewtest.Pair)
		latest[p.K] = p.V
		n++
	}
	return latest, n
}

func checkKV(t *testing.T, path, name string, src log.Source) {
	t.Helper()
	want, n := expectKV(t, src)
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int
	db.QueryRow(fmt.Sprintf(`SELECT count(*), count(DISTINCT seq) FROM %s_log`, name)).Scan(&rows, &distinct)
	if rows != n || distinct != n {
		t.Fatalf("%s_log: %d rows, %d distinct seqs; the log holds %d entries", name, rows, distinct, n)
	}
	r, err := db.Query(fmt.Sprintf(`SELECT k, v FROM %s_kv`, name))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[string]string{}
	for r.Next() {
		var k, v string
		r.Scan(&k, &v)
		got[k] = v
	}
	if len(got) != len(want) {
		t.Fatalf("%s_kv has %d keys, want %d", name, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s_kv[%s] = %q, want %q", name, k, got[k], v)
		}
	}
}

func TestSynchronizeUpTo(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 5000, 37, log.Remote)
	path := filepath.Join(dir, "v.db")
	f := openView(t, path, &viewtest.KV{ViewName: "a", ViewVersion: 1}, &viewtest.KV{ViewName: "b", ViewVersion: 1, NoLocalAhead: true})
	ix, err := index.New(l, []*view.File{f}, index.Options{BatchSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ix.SynchronizeUpTo(ctx, 1234); err != nil {
		t.Fatal(err)
	}
	for _, st := range f.Status() {
		if st.Since < 1234 || st.IndexesBuilt {
			t.Fatalf("after SynchronizeUpTo(1234): %+v", st)
		}
	}
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, st := range f.Status() {
		if st.Since != 5000 || !st.IndexesBuilt {
			t.Fatalf("after SynchronizeUpTo(0): %+v", st)
		}
	}
	checkKV(t, path, "a", l)
	checkKV(t, path, "b", l)
	if p := ix.Progress(); p.Lag() != 0 || p.Last != 5000 {
		t.Fatalf("progress %+v", p)
	}
}

func TestRunFollowsAndWaitFor(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 100, 7, log.Remote)
	path := filepath.Join(dir, "v.db")
	f := openView(t, path, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- ix.Run(runCtx) }()
	for round := 0; round < 20; round++ {
		seqs := appendKV(t, l, 1+round, 7, log.Origin(round%2))
		if err := ix.WaitFor(ctx, seqs[len(seqs)-1]); err != nil {
			t.Fatal(err)
		}
		if !f.Applied("a", seqs[len(seqs)-1]) {
			t.Fatal("WaitFor returned before the view showed the entry")
		}
	}
	stop()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
	checkKV(t, path, "a", l)
	if err := ix.WaitFor(ctx, 1, "nope"); err == nil {
		t.Fatal("WaitFor on an unknown view succeeded")
	}
	// An unknown name among known ones is an error too, also for an entry
	// the known view does not show yet (not a wait until ctx ends).
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if err := ix.WaitFor(short, 1_000_000, "a", "nope"); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor on a known and an unknown view, for an entry not there yet: %v", err)
	}
}

func TestResumeAndReplacedLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 3000, 11, log.Remote)
	path := filepath.Join(dir, "v.db")
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	f := openView(t, path, kv)
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	ctx := context.Background()
	if err := ix.SynchronizeUpTo(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Resume: only the rest is read.
	f = openView(t, path, kv)
	before := f.Status()[0].Since
	if before < 1000 {
		t.Fatalf("since after SynchronizeUpTo(1000) = %d", before)
	}
	ix, _ = index.New(l, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if p := ix.Progress(); p.Entries != int64(3000-before) {
		t.Fatalf("resume from %d read %d entries, want %d", before, p.Entries, 3000-before)
	}
	checkKV(t, path, "a", l)
	f.Close()

	// A shorter log: the view's since is ahead of it, so it is rebuilt.
	short := openLog(t, filepath.Join(dir, "short"))
	appendKV(t, short, 500, 11, log.Remote)
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	f = openViewLogf(t, path, logf, kv)
	ix, _ = index.New(short, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	checkKV(t, path, "a", short)
	if len(notes) != 1 {
		t.Fatalf("notices of the rebuild: %q, want one", notes)
	}
	f.Close()

	// Another log of the same length: the entry at since differs.
	other := openLog(t, filepath.Join(dir, "other"))
	appendKV(t, other, 500, 11, log.Remote)
	notes = nil
	f = openViewLogf(t, path, logf, kv)
	ix, _ = index.New(other, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	checkKV(t, path, "a", other)
	if len(notes) == 0 {
		t.Fatal("a view built from another log was trusted")
	}
	if len(notes) != 1 {
		t.Fatalf("notices of the rebuild: %q, want one", notes)
	}
}

func kvView(name string) view.View { return &viewtest.KV{ViewName: name, ViewVersion: 1} }
