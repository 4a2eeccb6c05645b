package sqlview

import (
	"fmt"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// A view with authority sections keeps two tables of its own besides the
// author's, so that its tables come out the same whatever order entries
// are applied in (local entries go ahead of the backlog, and not always in
// seq order among themselves):
//
//	NAME__pending  the tasks of this device whose optimistic statements ran
//	               and that are not settled yet, with what those
//	               statements need to run again
//	NAME__settled  the tasks settled (answered or cancelled)
//
// An optimistic entry for a settled task (its cancel was applied first)
// writes nothing. Settling a task runs the rollback statements and then
// runs the optimistic statements of every task still pending again, in seq
// order: a row that the settled task's optimistic write had replaced comes
// back. That is why optimistic statements must be idempotent upserts that
// follow the authority rule (see view.Overrides), as in
// testdata/views/reactions.sql.

// taskSchema returns the statements that create a view's task tables.
func taskSchema(name string) []Statement {
	return []Statement{
		{SQL: fmt.Sprintf(`CREATE TABLE "%s__pending"(seq INTEGER PRIMARY KEY, task TEXT NOT NULL UNIQUE, node TEXT NOT NULL,
  id TEXT NOT NULL, kind TEXT NOT NULL, queue TEXT NOT NULL, scope TEXT NOT NULL, origin INTEGER NOT NULL, time INTEGER,
  payload TEXT, entry TEXT NOT NULL)`, name)},
		{SQL: fmt.Sprintf(`CREATE TABLE "%s__settled"(task TEXT PRIMARY KEY)`, name)},
	}
}

// taskStmts are the statements a writer keeps its task tables with.
type taskStmts struct {
	isSettled, addPending, settle, delPending, pending *view.Stmt
}

func (w *writer) prepareTaskStmts(c *view.Conn) error {
	n := w.def.Name
	for _, p := range []struct {
		s   **view.Stmt
		sql string
	}{
		{&w.ts.isSettled, `SELECT 1 FROM "` + n + `__settled" WHERE task = ?`},
		{&w.ts.addPending, `INSERT OR IGNORE INTO "` + n + `__pending"(seq, task, node, id, kind, queue, scope, origin, time, payload, entry) VALUES (?,?,?,?,?,?,?,?,?,?,?)`},
		{&w.ts.settle, `INSERT OR IGNORE INTO "` + n + `__settled"(task) VALUES (?)`},
		{&w.ts.delPending, `DELETE FROM "` + n + `__pending" WHERE task = ?`},
		{&w.ts.pending, `SELECT seq, task, node, id, kind, queue, scope, origin, time, payload, entry FROM "` + n + `__pending" ORDER BY seq`},
	} {
		s, err := c.Prepare(p.sql)
		if err != nil {
			return fmt.Errorf("%s: view %q: %w", w.def.Path, n, err)
		}
		*p.s = s
		w.all = append(w.all, s)
	}
	return nil
}

// applyTask runs the authority sections for a task entry.
func (w *writer) applyTask(it view.Item, ef view.TaskEffect) error {
	switch ef.Op {
	case view.OpOptimistic:
		w.ts.isSettled.Text(ef.Task)
		settled, err := firstText(w.ts.isSettled)
		if err != nil || settled != nil {
			return err
		}
		if err := w.runAll(w.tasks[view.OpOptimistic][ef.Kind], it, ef); err != nil {
			return err
		}
		s := w.ts.addPending
		s.Int(int64(it.Seq))
		s.Text(ef.Task)
		s.Text(ef.Node)
		s.Text(ef.ID)
		s.Text(ef.Kind)
		s.Text(ef.Queue)
		s.Text(it.Scope)
		s.Int(int64(it.Origin))
		if it.Time.IsZero() {
			s.Null()
		} else {
			s.Int(it.Time.UnixNano())
		}
		if ef.Payload == nil {
			s.Null()
		} else {
			s.TextBytes(ef.Payload)
		}
		s.TextBytes(it.Payload)
		return s.Exec()
	case view.OpResult:
		return w.runAll(w.tasks[view.OpResult][ef.Kind], it, ef)
	case view.OpRollback:
		w.ts.settle.Text(ef.Task)
		if err := w.ts.settle.Exec(); err != nil {
			return err
		}
		w.ts.delPending.Text(ef.Task)
		if err := w.ts.delPending.Exec(); err != nil {
			return err
		}
		stmts := w.tasks[view.OpRollback][ef.Kind]
		if ef.Kind == "" {
			stmts = w.rollbackAll
		}
		if err := w.runAll(stmts, it, ef); err != nil {
			return err
		}
		return w.reapplyPending()
	}
	return nil
}

// runAll runs statements for a task entry.
func (w *writer) runAll(stmts []prepared, it view.Item, ef view.TaskEffect) error {
	for _, p := range stmts {
		if err := w.run(p, it, &ef); err != nil {
			return err
		}
	}
	return nil
}

// reapplyPending runs the optimistic statements of every pending task
// again, in seq order.
func (w *writer) reapplyPending() error {
	type pend struct {
		it view.Item
		ef view.TaskEffect
	}
	var ps []pend
	rows, err := w.ts.pending.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var p pend
		p.it.Seq = log.Seq(rows.Int(0))
		p.ef = view.TaskEffect{Op: view.OpOptimistic, Task: rows.Text(1), Node: rows.Text(2), ID: rows.Text(3),
			Kind: rows.Text(4), Queue: rows.Text(5), Authority: view.Optimistic}
		p.it.Scope = rows.Text(6)
		p.it.Origin = log.Origin(rows.Int(7))
		if !rows.IsNull(8) {
			p.it.Time = time.Unix(0, rows.Int(8))
		}
		if !rows.IsNull(9) {
			p.ef.Payload = []byte(rows.Text(9))
		}
		p.it.Payload = []byte(rows.Text(10))
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range ps {
		if err := w.runAll(w.tasks[view.OpOptimistic][p.ef.Kind], p.it, p.ef); err != nil {
			return err
		}
	}
	return nil
}
