package viewtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestKVRebuildEqualsLive: the KV view, with malformed payloads that are
// rejected.
func TestKVRebuildEqualsLive(t *testing.T) {
	var entries []log.Entry
	for i := 1; i <= 400; i++ {
		p := viewtest.Payload(fmt.Sprintf("k%d", i%13), fmt.Sprintf("v%d", i))
		if i%37 == 0 {
			p = []byte(`{"k":`)
		}
		entries = append(entries, log.Entry{Seq: log.Seq(i), Origin: log.Origin(i % 2), Payload: p})
	}
	views := func() []view.View {
		return []view.View{&viewtest.KV{ViewName: "a", ViewVersion: 1}, &viewtest.KV{ViewName: "b", ViewVersion: 1, NoLocalAhead: true}}
	}
	viewtest.RebuildEqualsLive(t, views, entries, 0)
}

// todos is a view written the natural way: its writer switches on the
// entry's op, appends a row to the statement for it, and executes the
// statements one after the other at the end of the batch.
type todos struct{}

func (todos) Name() string      { return "todos" }
func (todos) Version() int      { return 1 }
func (todos) Indexes() []string { return nil }
func (todos) Schema() []string {
	return []string{`CREATE TABLE todos(id TEXT PRIMARY KEY, done INTEGER NOT NULL)`}
}

func (todos) Open(c *view.Conn) (view.Writer, error) {
	w := &todoWriter{}
	var err error
	if w.add, err = c.Prepare(`INSERT OR REPLACE INTO todos(id, done) VALUES (?, 0)`); err != nil {
		return nil, err
	}
	if w.done, err = c.Prepare(`UPDATE todos SET done = 1 WHERE id = ?`); err != nil {
		return nil, err
	}
	if w.del, err = c.Prepare(`DELETE FROM todos WHERE id = ?`); err != nil {
		return nil, err
	}
	return w, nil
}

type todoWriter struct{ add, done, del *view.Stmt }

func (w *todoWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		var e struct{ Op, ID string }
		if err := json.Unmarshal(it.Payload, &e); err != nil {
			tx.Reject(it.Seq, err)
			continue
		}
		switch e.Op {
		case "add":
			w.add.Text(e.ID)
		case "done":
			w.done.Text(e.ID)
		case "remove":
			w.del.Text(e.ID)
		}
	}
	for _, s := range []*view.Stmt{w.add, w.done, w.del} {
		if err := s.Exec(); err != nil {
			return err
		}
	}
	return nil
}

func (w *todoWriter) Close() error {
	w.add.Close()
	w.done.Close()
	w.del.Close()
	return nil
}

// TestNaturalWriterKeepsOrder: the todos writer, whose statements run one
// after the other at the end of a batch, still applies its entries in
// order: "add, remove, add" leaves the todo, "done, add" leaves it not done.
func TestNaturalWriterKeepsOrder(t *testing.T) {
	ops := []string{"add a", "remove a", "add a", "done b", "add b", "add c", "done c", "remove c", "add d", "done d"}
	var entries []log.Entry
	for i, op := range ops {
		o, id, _ := strings.Cut(op, " ")
		entries = append(entries, log.Entry{Seq: log.Seq(i + 1), Payload: fmt.Appendf(nil, `{"op":%q,"id":%q}`, o, id)})
	}
	viewtest.RebuildEqualsLive(t, func() []view.View { return []view.View{todos{}} }, entries, 0)
}
