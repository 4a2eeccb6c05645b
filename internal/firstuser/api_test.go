//go:build firstuser

package firstuser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

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
