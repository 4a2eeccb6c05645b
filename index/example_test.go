package index_test

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

// A Go app embedding sluice: append to a log, index a view, read your
// writes.
func Example() {
	dir, _ := os.MkdirTemp("", "sluice-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	f, err := view.OpenFile(filepath.Join(dir, "kv.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- ix.Run(runCtx) }()

	seqs, err := l.Append(ctx, log.Record{Origin: log.Local, Payload: viewtest.Payload("greeting", "hello")})
	if err != nil {
		panic(err)
	}
	if err := ix.WaitFor(ctx, seqs[0]); err != nil { // read your writes
		panic(err)
	}
	db, err := query.Open([]string{filepath.Join(dir, "kv.db")}, query.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var v string
	db.SQL().QueryRow(`SELECT v FROM kv_kv WHERE k = 'greeting'`).Scan(&v)
	fmt.Println(seqs[0], v)

	stop()
	<-done
	// Output: 1 hello
}
