package sluice_test

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

// README begin: the README's "In a Go program" shows from here to "README end".

// todos is a view written in Go: the todo list. Its entries are JSON:
// {"op": "add", "id": "1", "title": "buy milk"} or {"op": "done", "id": "1"}.
type todos struct{}

func (todos) Name() string { return "todos" }
func (todos) Version() int { return 1 } // a new version rebuilds the table from the log
func (todos) Schema() []string {
	return []string{`CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)`}
}
func (todos) Indexes() []string { return []string{`CREATE INDEX todos_done ON todos(done)`} }

func (todos) Open(c *view.Conn) (view.Writer, error) {
	add, err := c.Prepare(`INSERT OR REPLACE INTO todos(id, title) VALUES (?, ?)`)
	if err != nil {
		return nil, err
	}
	done, err := c.Prepare(`UPDATE todos SET done = 1 WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	return &todoWriter{add: add, done: done}, nil
}

type todoWriter struct{ add, done *view.Stmt }

// Apply runs inside the transaction that also records the view's progress.
func (w *todoWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		var e struct{ Op, ID, Title string }
		if err := json.Unmarshal(it.Payload, &e); err != nil {
			tx.Reject(it.Seq, err) // recorded in sluice_rejects; indexing goes on
			continue
		}
		switch e.Op {
		case "add":
			w.add.Text(e.ID)
			w.add.Text(e.Title)
		case "done":
			w.done.Text(e.ID)
		}
	}
	// Rows of both statements run in the order they were appended.
	if err := w.add.Exec(); err != nil {
		return err
	}
	return w.done.Exec()
}

func (w *todoWriter) Close() error {
	w.add.Close()
	w.done.Close()
	return nil
}

// A view declared in SQL, embedded in the program.
//
//go:embed testdata/views/activity.sql
var viewFiles embed.FS

// A todo app: a Go view and a SQL view, kept up to date from the log.
func Example() {
	dir, _ := os.MkdirTemp("", "todo-app")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	activity, err := sqlview.LoadFS(viewFiles, "testdata/views/activity.sql")
	if err != nil {
		panic(err)
	}
	opts := sluice.Options{Views: []view.View{todos{}, activity}}
	db, err := sluice.Open(dir, opts) // dir/log, dir/views/app.db, dir/views/activity.db
	if err != nil {
		panic(err)
	}
	for _, e := range []string{
		`{"op":"add","id":"1","title":"buy milk"}`,
		`{"op":"add","id":"2","title":"call mum"}`,
		`{"op":"done","id":"1"}`,
	} {
		// A user's own action: a local entry, shown by the views once
		// AppendAndWait returns.
		if _, err := db.AppendAndWait(ctx, log.Record{Origin: log.Local, Payload: []byte(e)}); err != nil {
			panic(err)
		}
	}
	rows, err := db.Query(ctx, `SELECT title, done FROM todos ORDER BY id`)
	if err != nil {
		panic(err)
	}
	for rows.Next() {
		var title string
		var done bool
		rows.Scan(&title, &done)
		fmt.Println(title, done)
	}
	rows.Close()
	var adds int
	db.QueryRow(ctx, `SELECT n FROM activity WHERE op = 'add'`).Scan(&adds)
	fmt.Println("added:", adds)
	if err := db.Close(); err != nil {
		panic(err)
	}

	// Reopen: the views are where they were, nothing is indexed twice.
	db, err = sluice.Open(dir, opts)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var open int
	db.QueryRow(ctx, `SELECT count(*) FROM app.todos WHERE done = 0`).Scan(&open)
	fmt.Println("open todos:", open)
	// Output:
	// buy milk true
	// call mum false
	// added: 2
	// open todos: 1
}

// README end
