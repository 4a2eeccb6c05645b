package index_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

// A server accepting tasks: each is checked against the views as they are
// after every task before it, the batch's records are appended at once.
func ExampleIndexer_Transact() {
	dir, _ := os.MkdirTemp("", "sluice-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	timers, err := sqlview.Load("testdata/timers.sql") // -- sluice:check timer.start
	if err != nil {
		panic(err)
	}
	f, err := view.OpenFile(filepath.Join(dir, "timers.db"), []view.View{timers}, view.Options{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	ix, _ := index.New(l, []*view.File{f}, index.Options{})

	first, err := ix.Transact(ctx, func(tx *index.Tx) error {
		for _, device := range []string{"phone", "laptop"} {
			task := view.CheckTask{ID: "t1", Kind: "timer.start", Queue: "timers", Scope: "user:7"}
			reason, err := tx.Check(ctx, task)
			if err != nil {
				return err
			}
			if reason != "" {
				fmt.Printf("%s: rejected: %s\n", device, reason)
				continue
			}
			fmt.Printf("%s: started at seq %d\n", device, tx.Next())
			payload := fmt.Sprintf(`{"op":"start","owner":"user:7","device":%q}`, device)
			if err := tx.Stage(log.Record{Origin: log.Local, Scope: "user:7", Payload: []byte(payload)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	last, _ := l.Last()
	fmt.Println("appended", first, "to", last)
	// Output:
	// phone: started at seq 1
	// laptop: rejected: a timer is already running on phone
	// appended 1 to 1
}
