//go:build firstuser

package firstuser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// TestGoAndSQLViewSameName: sluice.Open accepts a Go view and a SQL view
// with the same name (in app.db and NAME.db). Rebuild(name) then rebuilds
// one of them (the SQL view) and says nothing about the other; WaitFor
// with the name is as ambiguous. Two Go views with one name are refused,
// and the CLI refuses two SQL files defining one name.
//
// Expected: Open refuses two views of one name, whatever they are written in.
func TestGoAndSQLViewSameName(t *testing.T) {
	dir := t.TempDir()
	v, _ := sqlView(t, t.TempDir(), "notes")
	db, err := sluice.Open(dir, sluice.Options{Views: []view.View{notes{}, v}})
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	defer db.Close()
	ctx := timeout(t, 20*time.Second)
	if _, err := db.AppendAndWait(ctx, note("a")); err != nil {
		t.Fatal(err)
	}
	if err := db.Rebuild(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	var rebuilt []string
	for _, f := range db.Files() {
		for _, s := range f.Status() {
			if s.Name == "notes" && strings.Contains(s.RebuildReason, "requested") {
				rebuilt = append(rebuilt, filepath.Base(f.Path()))
			}
		}
	}
	t.Errorf("sluice.Open accepted a Go view and a SQL view both named \"notes\"; Rebuild(\"notes\") rebuilt only %v", rebuilt)
}

// TestAppFileCaseClash: the CLI accepts a SQL view named "APP" (file
// views/APP.db); sluice.Open refuses a SQL view named "app" but, given Go
// views, creates views/app.db beside APP.db without a word. From then on
// every sluice query and sluice views on the directory fails: "two files
// named "app" (names that differ only in case are the same to SQLite)".
//
// Expected: the CLI refuses the name APP as it refuses app (or Open
// refuses a directory holding APP.db), so the directory stays queryable.
func TestAppFileCaseClash(t *testing.T) {
	dir := t.TempDir()
	_, path := sqlView(t, t.TempDir(), "APP")
	ok(t, dir, nil, "append", "--json", `{"op":"add","id":"x","text":"t"}`)
	if r := run(t, dir, nil, "index", "--view", path); r.code != 0 {
		t.Logf("the CLI refused a view named APP: %s", r.err)
		return // fixed on the CLI's side
	}
	ok(t, dir, nil, "query", "SELECT count(*) FROM t_APP")
	db, err := sluice.Open(dir, sluice.Options{Views: []view.View{notes{}}})
	if err != nil {
		t.Logf("sluice.Open refused: %v", err)
		return // fixed on the Go side
	}
	db.Close()
	for _, args := range [][]string{{"query", "SELECT count(*) FROM t_APP"}, {"views"}} {
		if r := run(t, dir, nil, args...); r.code != 0 {
			t.Errorf("sluice %s after a Go program opened the directory: exit %d: %s", args[0], r.code, r.err)
		}
	}
}

// TestQueryAfterCloseIsErrClosed: the doc says "ErrClosed is returned by
// the methods of a closed DB"; Append, WaitFor and Rebuild do return it,
// but Query and QueryRow return "query: closed", which errors.Is does not
// match with sluice.ErrClosed.
func TestQueryAfterCloseIsErrClosed(t *testing.T) {
	db, err := sluice.Open(t.TempDir(), sluice.Options{Views: []view.View{notes{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 10*time.Second)
	if _, err := db.Query(ctx, `SELECT 1`); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Query after Close: %v, want sluice.ErrClosed", err)
	}
	if err := db.QueryRow(ctx, `SELECT 1`).Scan(new(int)); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("QueryRow after Close: %v, want sluice.ErrClosed", err)
	}
}

// panicky is a Go view whose Apply panics (a bug in the application's code).
type panicky struct{}

func (panicky) Name() string      { return "panicky" }
func (panicky) Version() int      { return 1 }
func (panicky) Schema() []string  { return []string{`CREATE TABLE panicky(x)`} }
func (panicky) Indexes() []string { return nil }
func (panicky) Open(c *view.Conn) (view.Writer, error) {
	return panickyWriter{}, nil
}

type panickyWriter struct{}

func (panickyWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	var m map[string]int
	m["boom"]++ // nil map: panics
	return nil
}
func (panickyWriter) Close() error { return nil }

// childPanicApply appends to a DB whose view panics and prints what
// AppendAndWait returned; it exits 0 if the process survives.
func childPanicApply() {
	dir := os.Getenv("FIRSTUSER_DIR")
	db, err := sluice.Open(dir, sluice.Options{Views: []view.View{panicky{}}})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = db.AppendAndWait(ctx, log.Record{Origin: log.Local, Payload: []byte(`{}`)})
	fmt.Println("AppendAndWait:", err)
	db.Close()
}

// TestPanicInApplyKillsProgram: a Go view's Apply that panics runs on the
// DB's own goroutine, so the panic takes the whole program down; the
// application cannot recover it. (Decode runs on another goroutine of
// sluice's too.)
//
// Expected: the panic is recovered and stops indexing like an Apply error
// (a *view.ApplyError naming the view and entry, with the panic value and
// stack), so AppendAndWait returns an error and the program lives.
func TestPanicInApplyKillsProgram(t *testing.T) {
	ctx := timeout(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIRSTUSER_CHILD=panic-apply", "FIRSTUSER_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		first, _, _ := strings.Cut(string(out), "\n\n")
		t.Errorf("the program died of a panic in a view's Apply: %v\n%s", err, first)
		return
	}
	if !strings.Contains(string(out), "AppendAndWait: ") || strings.Contains(string(out), "AppendAndWait: <nil>") {
		t.Errorf("AppendAndWait did not report the panic: %s", out)
	}
}
