package replicate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/tasks"
)

// TestTaskServerChecks: with an Indexer, the SQL checks of the views see
// every task before them — of the same batch, and of another device's batch
// at the same moment: of identical reactions, exactly one is accepted, the
// others fail with the check's reason.
func TestTaskServerChecks(t *testing.T) {
	l := openLog(t)
	dir := t.TempDir()
	rv, err := sqlview.Load("../testdata/views/reactions.sql")
	if err != nil {
		t.Fatal(err)
	}
	var files []*view.File
	for _, v := range []view.View{rv, tasks.Handled{}} {
		f, err := view.OpenFile(filepath.Join(dir, v.Name()+".db"), []view.View{v}, view.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	ix, err := index.New(l, files, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTasks(t, l, TaskServerOptions{Indexer: ix})
	react := func(id string) WireTask {
		return WireTask{ID: id, Kind: "reaction.add", Scope: "user:1", Payload: json.RawMessage(`{"message":"m1","emoji":"+1"}`)}
	}
	// Same batch: the second sees the first.
	st, _, body := postTasks(t, url, "", TaskRequest{Node: deviceNode, Queue: "r", Tasks: []WireTask{react("a1"), react("a2")}})
	var a TaskResponse
	json.Unmarshal(body, &a)
	if st != 200 || a.Answers[0].Outcome != "succeeded" || a.Answers[1].Outcome != "failed" || a.Answers[1].Reason != "you already reacted +1 to this message" {
		t.Fatalf("one batch: %d %s", st, body)
	}
	// Eight devices at once, each reacting to m2: one wins.
	var wg sync.WaitGroup
	outcomes := make([]string, 8)
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("%032x", i+1)
			tk := react(fmt.Sprintf("d%d", i))
			tk.Payload = json.RawMessage(`{"message":"m2","emoji":"+1"}`)
			_, _, body := postTasks(t, url, "", TaskRequest{Node: node, Queue: "r", Tasks: []WireTask{tk}})
			var a TaskResponse
			json.Unmarshal(body, &a)
			if len(a.Answers) == 1 {
				outcomes[i] = a.Answers[0].Outcome
			}
		}()
	}
	wg.Wait()
	won := 0
	for _, o := range outcomes {
		switch o {
		case "succeeded":
			won++
		case "failed":
		default:
			t.Fatalf("outcomes %v", outcomes)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 identical reactions accepted, want 1: %v", won, outcomes)
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "reactions.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, auth int
	if err := db.QueryRow(`SELECT count(*), sum(authority) FROM reactions`).Scan(&n, &auth); err != nil || n != 2 || auth != 2 {
		t.Fatalf("reactions: %d rows, authority sum %d (%v); want 2 authoritative rows", n, auth, err)
	}
}
