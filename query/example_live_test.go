package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// A live query: its result again each time the view changes it, saying
// which entries it reflects.
func ExampleLive() {
	dir, _ := os.MkdirTemp("", "sluice-live")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// A log and an indexer feeding a view file (another process could do this).
	l, _ := log.Open(filepath.Join(dir, "log"), log.Options{})
	defer l.Close()
	os.Mkdir(filepath.Join(dir, "views"), 0o755)
	f, _ := view.OpenFile(filepath.Join(dir, "views", "kv.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	defer f.Close()
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- ix.Run(runCtx) }()
	defer func() { stop(); <-done }()

	db, err := query.OpenDir(filepath.Join(dir, "views"), query.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	live, err := query.NewLive(db, query.LiveOptions{Notifier: ix}) // ix: hear of its commits at once
	if err != nil {
		panic(err)
	}
	defer live.Close()
	sub, err := live.Subscribe(ctx, `SELECT count(*), group_concat(v) FROM kv_kv WHERE k LIKE 'todo:%'`)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	r, _ := sub.Next(ctx) // the first result comes at once
	fmt.Println(r.Columns, r.Rows)

	add := func(k, v string) log.Seq {
		seqs, _ := l.Append(ctx, log.Record{Origin: log.Local, Payload: viewtest.Payload(k, v)})
		return seqs[0]
	}
	await := func(seq log.Seq) { // results come as the view changes them
		for !r.Shows("kv", seq) {
			if r, err = sub.Next(ctx); err != nil {
				panic(err)
			}
		}
		fmt.Printf("up to seq %d: %v (result %d)\n", seq, r.Rows, r.N)
	}
	await(add("todo:1", "milk"))
	add("note", "not a todo") // changes the view, not the result: no result for it
	await(add("todo:2", "eggs"))
	// Output:
	// [count(*) group_concat(v)] [[0 <nil>]]
	// up to seq 1: [[1 milk]] (result 2)
	// up to seq 3: [[2 milk,eggs]] (result 3)
}
