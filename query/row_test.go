package query_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

func TestQueryRow(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	f, err := view.OpenFile(filepath.Join(dir, "views", "app.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(ctx, &view.Batch{From: 1, To: 1, Entries: []log.Entry{{Seq: 1, Payload: viewtest.Payload("a", "x")}}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := query.OpenDir(filepath.Join(dir, "views"), query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	// Attached under the file's name, app.
	if err := db.QueryRow(ctx, `SELECT v FROM app.kv_kv WHERE k = ?`, "a").Scan(&v); err != nil || v != "x" {
		t.Fatalf("QueryRow: %q %v", v, err)
	}
	if err := db.QueryRow(ctx, `SELECT v FROM kv_kv WHERE k = 'nope'`).Scan(&v); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("no row: %v", err)
	}
	if err := db.QueryRow(ctx, `DELETE FROM kv_kv RETURNING v`).Scan(&v); !errors.Is(err, query.ErrWrite) {
		t.Fatalf("a write through QueryRow: %v", err)
	}
}
