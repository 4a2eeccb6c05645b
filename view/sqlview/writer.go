package sqlview

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Open implements view.View.
func (v *View) Open(c *view.Conn) (view.Writer, error) {
	w := &writer{c: c, def: v.def, tasks: map[view.TaskOp]map[string][]prepared{}}
	prepare := func(section string, st Statement) (prepared, error) {
		s, err := c.Prepare(st.SQL)
		if err != nil {
			w.Close()
			return prepared{}, stmtError(v.def, section, st, err)
		}
		p := prepared{s: s, line: st.Line, params: make([]string, s.NumParams())}
		for i := range p.params {
			p.params[i] = s.ParamName(i)
		}
		w.all = append(w.all, s)
		return p, nil
	}
	for _, st := range v.def.Apply {
		p, err := prepare("apply", st)
		if err != nil {
			return nil, err
		}
		w.apply = append(w.apply, p)
	}
	for _, sec := range v.def.taskSections() {
		w.tasks[sec.op] = map[string][]prepared{}
		for _, st := range sec.stmts {
			p, err := prepare(sec.name+" "+st.Kind, st.Statement)
			if err != nil {
				return nil, err
			}
			w.tasks[sec.op][st.Kind] = append(w.tasks[sec.op][st.Kind], p)
			if sec.op == view.OpRollback {
				w.rollbackAll = append(w.rollbackAll, p)
			}
		}
	}
	// A kind with optimistic statements and no result section: its
	// results run the optimistic statements, with :authority 1.
	for kind, ps := range w.tasks[view.OpOptimistic] {
		if _, ok := w.tasks[view.OpResult][kind]; !ok {
			w.tasks[view.OpResult][kind] = ps
		}
	}
	if v.def.hasTaskSections() {
		if err := w.prepareTaskStmts(c); err != nil {
			w.Close()
			return nil, err
		}
	}
	for _, st := range v.def.Checks {
		p, err := prepare("check "+st.Kind, st.Statement)
		if err != nil {
			return nil, err
		}
		w.checks = append(w.checks, preparedCheck{prepared: p, kind: st.Kind})
	}
	return w, nil
}

type writer struct {
	c     *view.Conn
	def   *Def
	all   []*view.Stmt // every statement, to close
	apply []prepared
	// tasks holds the authority sections' statements by op and kind;
	// rollbackAll every rollback statement, for a cancel naming no kind.
	tasks       map[view.TaskOp]map[string][]prepared
	rollbackAll []prepared
	ts          taskStmts // the task tables' (see tasks.go)
	checks      []preparedCheck
}

// prepared is a prepared statement of the file, with its parameters' names
// and its line.
type prepared struct {
	s      *view.Stmt
	params []string
	line   int
}

// preparedCheck is a prepared -- sluice:check statement.
type preparedCheck struct {
	prepared
	kind string
}

var _ view.Checker = (*writer)(nil)

// Apply runs the apply statements for every item, and the authority
// sections' for task entries. It first tries the whole batch; if a
// statement fails on some entry, it undoes the batch and goes entry by
// entry, each in a savepoint, rejecting the entries that fail.
func (w *writer) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	if err := w.c.Exec("SAVEPOINT sqlview_batch"); err != nil {
		return err
	}
	var failed error
	for _, it := range items {
		if failed = w.applyOne(it); failed != nil {
			break
		}
	}
	if failed == nil {
		return w.c.Exec("RELEASE sqlview_batch")
	}
	if !perEntry(failed) {
		w.c.Exec("ROLLBACK TO sqlview_batch; RELEASE sqlview_batch")
		return failed
	}
	if err := w.c.Exec("ROLLBACK TO sqlview_batch"); err != nil {
		return err
	}
	for _, it := range items {
		if err := w.c.Exec("SAVEPOINT sqlview_entry"); err != nil {
			return err
		}
		if err := w.applyOne(it); err != nil {
			if !perEntry(err) {
				return err
			}
			if err := w.c.Exec("ROLLBACK TO sqlview_entry"); err != nil {
				return err
			}
			tx.Reject(it.Seq, err)
		}
		if err := w.c.Exec("RELEASE sqlview_entry"); err != nil {
			return err
		}
	}
	return w.c.Exec("RELEASE sqlview_batch")
}

func (w *writer) applyOne(it view.Item) error {
	for _, p := range w.apply {
		if err := w.run(p, it, nil); err != nil {
			return err
		}
	}
	if w.ts.pending == nil {
		return nil
	}
	ef, ok := view.ParseTask(it.Entry)
	if !ok {
		return nil
	}
	return w.applyTask(it, ef)
}

// run binds p's parameters for the entry it (and the task effect ef, for
// an authority section) and runs it.
func (w *writer) run(p prepared, it view.Item, ef *view.TaskEffect) error {
	bind(p, it, ef)
	if err := p.s.Exec(); err != nil {
		return fmt.Errorf("%s:%d: %w", w.def.Path, p.line, err)
	}
	return nil
}

// bind appends p's parameters for the entry it and the task effect ef
// (nil for an apply statement).
func bind(p prepared, it view.Item, ef *view.TaskEffect) {
	s := p.s
	for _, name := range p.params {
		switch name {
		case ":seq":
			s.Int(int64(it.Seq))
		case ":origin":
			s.Text(it.Origin.String())
		case ":time":
			if it.Time.IsZero() {
				s.Null()
			} else {
				s.Int(it.Time.UnixMilli())
			}
		case ":payload":
			switch {
			case ef == nil:
				s.TextBytes(it.Payload)
			case ef.Payload == nil:
				s.Null()
			default:
				s.TextBytes(ef.Payload)
			}
		case ":entry":
			s.TextBytes(it.Payload)
		case ":scope":
			s.Text(it.Scope)
		case ":task":
			s.Text(ef.Task)
		case ":task_id":
			s.Text(ef.ID)
		case ":node":
			s.Text(ef.Node)
		case ":kind":
			s.Text(ef.Kind)
		case ":queue":
			s.Text(ef.Queue)
		case ":authority":
			s.Int(int64(ef.Authority))
		case ":reason":
			s.Text(ef.Reason)
		case ":outcome":
			s.Text(ef.Outcome)
		}
	}
}

// Check implements view.Checker: it runs the file's check statements for
// t's kind, in order; the first that returns a row rejects the task, with
// the text of the row's first column (or, if that is NULL or empty, a
// reason naming the statement).
func (w *writer) Check(ctx context.Context, t view.CheckTask) (string, error) {
	for _, c := range w.checks {
		if c.kind != t.Kind {
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		node := t.Node.String()
		bind(c.prepared, view.Item{Entry: log.Entry{Scope: t.Scope}},
			&view.TaskEffect{Task: node + "/" + t.ID, Node: node, ID: t.ID, Kind: t.Kind, Queue: t.Queue, Payload: t.Payload})
		reason, err := firstText(c.s)
		if err != nil {
			return "", fmt.Errorf("%s:%d: %w", w.def.Path, c.line, err)
		}
		if reason != nil {
			if *reason == "" {
				return fmt.Sprintf("rejected by the check at %s:%d", w.def.Path, c.line), nil
			}
			return *reason, nil
		}
	}
	return "", nil
}

// firstText runs a query and returns its first row's first column, nil if
// it returns no row.
func firstText(s *view.Stmt) (*string, error) {
	rows, err := s.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	text := ""
	if !rows.IsNull(0) {
		text = rows.Text(0)
	}
	return &text, nil
}

// perEntry reports whether err is about the entry (bad JSON, a constraint)
// rather than the database (I/O, full disk), which must stop indexing.
func perEntry(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code & 0xff {
	case 1, 18, 19, 20, 25: // ERROR, TOOBIG, CONSTRAINT, MISMATCH, RANGE
		return true
	}
	return false
}

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range w.all {
		s.Close()
	}
	w.all, w.apply, w.tasks, w.rollbackAll, w.checks = nil, nil, nil, nil, nil
	return nil
}
