package sluice_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestReadmeGoSection: the README's "In a Go program" code is the part of
// example_test.go between its README markers, so every line of it is
// compiled and run (Example checks its output).
func TestReadmeGoSection(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### In a Go program\n")
	if !ok {
		t.Fatal(`README.md has no "### In a Go program" section`)
	}
	_, block, ok := strings.Cut(section, "\n```go\n")
	if ok {
		block, _, ok = strings.Cut(block, "\n```\n")
	}
	if !ok {
		t.Fatal(`the "In a Go program" section of README.md has no go code block`)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, region, ok := strings.Cut(string(src), "// README begin")
	if ok {
		_, region, ok = strings.Cut(region, "\n")
	}
	if ok {
		region, _, ok = strings.Cut(region, "// README end")
	}
	if !ok {
		t.Fatal("example_test.go has no README begin/end markers")
	}
	want := strings.TrimSpace(region)
	if got := strings.TrimSpace(block); got != want {
		t.Fatalf("README.md's Go code differs from example_test.go's (copy the region between the README markers):\n%s", viewtest.Diff(got, want))
	}
}

// exampleViews are the views of the README's example app.
func exampleViews(t *testing.T) []view.View {
	t.Helper()
	activity, err := sqlview.LoadFS(viewFiles, "testdata/views/activity.sql")
	if err != nil {
		t.Fatal(err)
	}
	return []view.View{todos{}, activity}
}

// TestExampleViewsRebuildEqualsLive: the example app's views, indexed one
// entry per batch and in one batch, give the same tables.
func TestExampleViewsRebuildEqualsLive(t *testing.T) {
	var entries []log.Entry
	for i := 1; i <= 300; i++ {
		id := fmt.Sprint(i % 23)
		p := fmt.Sprintf(`{"op":"add","id":%q,"title":"todo %d"}`, id, i)
		switch i % 5 {
		case 1, 3:
			p = fmt.Sprintf(`{"op":"done","id":%q}`, id)
		case 4:
			if i%20 == 4 {
				p = `not json`
			}
		}
		entries = append(entries, log.Entry{Seq: log.Seq(i), Origin: log.Origin(i % 2), Payload: []byte(p)})
	}
	viewtest.RebuildEqualsLive(t, func() []view.View { return exampleViews(t) }, entries, 0)
}

func open(t *testing.T, dir string, opts sluice.Options) *sluice.DB {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, nil))
	}
	db, err := sluice.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testWriter sends log output to t.Log.
type testWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func kv(name string) view.View { return &viewtest.KV{ViewName: name, ViewVersion: 1} }

func local(k, v string) log.Record {
	return log.Record{Origin: log.Local, Payload: viewtest.Payload(k, v)}
}

// brittle is viewtest.KV whose writer fails on an entry setting "boom".
type brittle struct{ *viewtest.KV }

func (b brittle) Open(c *view.Conn) (view.Writer, error) {
	w, err := b.KV.Open(c)
	return brittleWriter{w}, err
}

type brittleWriter struct{ view.Writer }

func (w brittleWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		if it.Value.(viewtest.Pair).K == "boom" {
			return errors.New("cannot apply boom")
		}
	}
	return w.Writer.Apply(ctx, tx, items)
}

// TestFailingViewStopsTheDB: a view whose Apply fails stops indexing: Done
// closes, Err names the view and the entry, waits return the error; after
// a restart too. With RejectOnError the entry is rejected instead.
func TestFailingViewStopsTheDB(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	views := []view.View{brittle{&viewtest.KV{ViewName: "b", ViewVersion: 1}}, kv("ok")}
	db := open(t, dir, sluice.Options{Views: views})
	if _, err := db.AppendAndWait(ctx, local("a", "1")); err != nil {
		t.Fatal(err)
	}
	seqs, err := db.AppendAndWait(ctx, local("boom", "x"))
	var ae *view.ApplyError
	if !errors.As(err, &ae) || ae.View != "b" || ae.Seq != seqs[0] {
		t.Fatalf("AppendAndWait of the failing entry: %v", err)
	}
	select {
	case <-db.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
	if !errors.As(db.Err(), &ae) {
		t.Fatalf("Err = %v", db.Err())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, dir, sluice.Options{Views: views})
	if err := db.WaitFor(ctx, seqs[0]); !errors.As(err, &ae) || ae.Seq != seqs[0] {
		t.Fatalf("WaitFor after a restart: %v", err)
	}
	db.Close()

	db = open(t, dir, sluice.Options{Views: views, OnApplyError: view.RejectOnError})
	if _, err := db.AppendAndWait(ctx, local("c", "3")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM sluice_rejects WHERE view = 'b' AND seq = ?`, int64(seqs[0])).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rejects of b at seq %d: %d %v", seqs[0], n, err)
	}
}

// TestRebuildWhileRunning rebuilds a view while entries are appended: the
// view ends with every entry once, and the others are untouched.
func TestRebuildWhileRunning(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := open(t, dir, sluice.Options{Views: []view.View{kv("a"), kv("b")}, Log: log.Options{Durability: log.SyncNone}})
	var recs []log.Record
	for i := 0; i < 2000; i++ {
		recs = append(recs, log.Record{Origin: log.Remote, Payload: viewtest.Payload(fmt.Sprintf("k%d", i%31), fmt.Sprint(i))})
	}
	if _, err := db.AppendAndWait(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	errs := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if _, err := db.Append(ctx, local(fmt.Sprintf("k%d", i%31), fmt.Sprintf("l%d", i))); err != nil {
				errs <- err
				return
			}
		}
	}()
	before := time.Now()
	if err := db.Rebuild(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	// A remote entry shows only once every entry before it does (a local
	// one may show ahead of the rebuild's backlog).
	if _, err := db.AppendAndWait(ctx, log.Record{Origin: log.Remote, Payload: viewtest.Payload("end", "1")}); err != nil {
		t.Fatal(err)
	}
	var rebuiltAt time.Time
	for _, f := range db.Files() {
		for _, st := range f.Status() {
			if st.Name == "a" {
				rebuiltAt = st.RebuiltAt
			}
		}
	}
	if rebuiltAt.Before(before.Add(-time.Second)) {
		t.Fatalf("view a rebuilt at %v, before Rebuild was called (%v)", rebuiltAt, before)
	}
	db.Close()
	// Both views hold every entry once, and the latest value per key,
	// computed from the log read independently.
	want := map[string]string{}
	l, err := log.OpenReader(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	it, _ := l.Iter(1)
	n := 0
	for it.Next() {
		var p viewtest.Pair
		if v, err := (&viewtest.KV{}).Decode(it.Entry()); err == nil {
			p = v.(viewtest.Pair)
		}
		want[p.K] = p.V
		n++
	}
	it.Close()
	sdb, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "views", "app.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	for _, name := range []string{"a", "b"} {
		var rows, distinct int
		sdb.QueryRow(fmt.Sprintf(`SELECT count(*), count(DISTINCT seq) FROM %s_log`, name)).Scan(&rows, &distinct)
		if rows != n || distinct != n {
			t.Fatalf("%s_log: %d rows, %d seqs, want %d", name, rows, distinct, n)
		}
		for k, v := range want {
			var got string
			sdb.QueryRow(fmt.Sprintf(`SELECT v FROM %s_kv WHERE k = ?`, name), k).Scan(&got)
			if got != v {
				t.Fatalf("%s_kv[%s] = %q, want %q", name, k, got, v)
			}
		}
	}
}

// TestCloseEndsWaits: Close ends a WaitFor in flight with ErrClosed; a
// closed DB refuses appends; Close is idempotent; a second DB on the same
// directory is refused while the first is open.
func TestCloseEndsWaits(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, sluice.Options{Views: []view.View{kv("a")}})
	if _, err := sluice.Open(dir, sluice.Options{Views: []view.View{kv("a")}}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("a second Open of the same directory: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- db.WaitFor(ctx, 1000) }()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; !errors.Is(err, sluice.ErrClosed) {
		t.Fatalf("WaitFor across Close: %v", err)
	}
	if _, err := db.Append(ctx, local("a", "b")); !errors.Is(err, sluice.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNoticesGoToTheLogger: a rebuild notice (a new version) goes to
// Options.Logger.
func TestNoticesGoToTheLogger(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, sluice.Options{Views: []view.View{kv("a")}})
	db.Close()
	var buf bytes.Buffer
	db = open(t, dir, sluice.Options{Views: []view.View{&viewtest.KV{ViewName: "a", ViewVersion: 2}}, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	db.Close()
	if !strings.Contains(buf.String(), "version changed from 1 to 2") {
		t.Fatalf("log: %q", buf.String())
	}
}
