package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

func Example() {
	dir, _ := os.MkdirTemp("", "sluice-query")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	// A view file with two entries applied (normally the indexer does this).
	f, _ := view.OpenFile(filepath.Join(dir, "kv.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	f.Apply(ctx, &view.Batch{From: 1, To: 2, Entries: []log.Entry{
		{Seq: 1, Payload: viewtest.Payload("a", "x")},
		{Seq: 2, Payload: viewtest.Payload("b", "y")},
	}})
	f.Close()

	db, err := query.OpenDir(dir, query.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.WaitFor(ctx, 2); err != nil { // the views show seq 2
		panic(err)
	}
	rows, _ := db.Query(ctx, `SELECT k, v FROM kv.kv_kv ORDER BY k`)
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		fmt.Println(k, v)
	}
	rows.Close()
	_, err = db.Query(ctx, `DELETE FROM kv_kv`)
	fmt.Println(err)
	// Output:
	// a x
	// b y
	// queries are read-only: this statement would write (DELETE); views change only through the log
}
