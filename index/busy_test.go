package index_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// TestBusyViewFileIsWaitedOut: another connection (the sqlite3 shell, a
// backup tool) holds a view file's write lock for longer than SQLite's busy
// timeout. Run says so, naming the file, and goes on waiting instead of
// failing; once the lock is released the views catch up with nothing lost.
// Before the fix Run returned "index: apply: sqlite: database is locked"
// and stopped for good. Also for SynchronizeUpTo.
func TestBusyViewFileIsWaitedOut(t *testing.T) {
	for _, follow := range []bool{true, false} {
		name := "SynchronizeUpTo"
		if follow {
			name = "Run"
		}
		t.Run(name, func(t *testing.T) {
			l := openLog(t, filepath.Join(t.TempDir(), "log"))
			appendKV(t, l, 20, 7, log.Remote)
			path := filepath.Join(t.TempDir(), "v.db")
			f := openView(t, path, kvView("a"))
			notices := make(chan string, 100)
			ix, err := index.New(l, []*view.File{f}, index.Options{Logger: slog.New(noticeHandler{notices})})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := ix.SynchronizeUpTo(ctx, 20); err != nil {
				t.Fatal(err)
			}

			other, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			conn, err := other.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			seqs := appendKV(t, l, 30, 7, log.Remote)
			last := seqs[len(seqs)-1]
			done := make(chan error, 1)
			go func() {
				if follow {
					done <- ix.Run(ctx)
				} else {
					done <- ix.SynchronizeUpTo(ctx, last)
				}
			}()
			// The notice comes once the lock has outlasted the busy
			// timeout, and Run has decided to try again.
			select {
			case msg := <-notices:
				if !strings.Contains(msg, "locked by another connection") {
					t.Fatalf("notice %q", msg)
				}
			case err := <-done:
				t.Fatalf("%s returned while a view file was locked: %v", name, err)
			case <-ctx.Done():
				t.Fatal("no notice of the locked view file")
			}
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			if err := ix.WaitFor(ctx, last); err != nil {
				t.Fatalf("after the lock was released: %v", err)
			}
			if follow {
				cancel()
			}
			if err := <-done; err != nil && !(follow && errors.Is(err, context.Canceled)) {
				t.Fatalf("%s: %v", name, err)
			}
			checkKV(t, path, "a", l)
		})
	}
}
