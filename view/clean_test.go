package view_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestCheckOnlyAfterUncleanClose: OpenFile runs PRAGMA quick_check on a
// file that was not closed cleanly (a crash: the mark Close leaves is
// missing), or when asked to, and skips it after a clean Close.
func TestCheckOnlyAfterUncleanClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	mark := func() string {
		t.Helper()
		db := readDB(t, path)
		defer db.Close()
		var v string
		if err := db.QueryRow(`SELECT value FROM sluice_file WHERE key = 'closed_cleanly'`).Scan(&v); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return v
	}
	checks := func(opts view.Options) int64 {
		t.Helper()
		before := view.QuickChecks()
		f, err := view.OpenFile(path, []view.View{kv}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if mark() != "" {
			t.Fatal("the clean-close mark is still there while the file is open")
		}
		apply(t, f, backlog(since(t, f, "a")+1, since(t, f, "a")+10))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if mark() == "" {
			t.Fatal("Close left no clean-close mark")
		}
		return view.QuickChecks() - before
	}
	if n := checks(view.Options{}); n != 0 {
		t.Fatalf("a new file was checked %d times", n)
	}
	if n := checks(view.Options{}); n != 0 {
		t.Fatalf("a file closed cleanly was checked %d times", n)
	}
	if n := checks(view.Options{AlwaysCheck: true}); n != 1 {
		t.Fatalf("with AlwaysCheck: %d checks, want 1", n)
	}
	// A crash: the file was open (no mark) when the process died.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM sluice_file WHERE key = 'closed_cleanly'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n := checks(view.Options{}); n != 1 {
		t.Fatalf("a file not closed cleanly was checked %d times, want 1", n)
	}
	if n := checks(view.Options{SkipCheck: true, AlwaysCheck: true}); n != 0 {
		t.Fatalf("with SkipCheck: %d checks", n)
	}
}
