package view_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

func TestMarkRebuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	a, b := &viewtest.KV{ViewName: "a", ViewVersion: 1}, &viewtest.KV{ViewName: "b", ViewVersion: 1}
	f := openFile(t, path, nil, a, b)
	apply(t, f, backlog(1, 30))
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := view.MarkRebuild(path, "a", "asked by a test"); err != nil {
		t.Fatal(err)
	}
	db := readDB(t, path)
	if n := queryInt(t, db, `SELECT count(*) FROM sqlite_master WHERE name LIKE 'a\_%' ESCAPE '\'`); n != 0 {
		t.Fatalf("%d objects of a left", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM b_log`); n != 30 {
		t.Fatalf("b lost rows: %d", n)
	}
	var n notices
	f = openFile(t, path, &n, a, b)
	n.has(t, "asked by a test")
	if since(t, f, "a") != 0 || since(t, f, "b") != 30 {
		t.Fatalf("since a=%d b=%d", since(t, f, "a"), since(t, f, "b"))
	}
	if err := view.MarkRebuild(path, "zz", "x"); err == nil {
		t.Fatal("marked a view the file does not hold")
	}
}
