package sqlview

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/view"
)

// View is a view declared in a SQL file.
type View struct {
	def *Def
}

var (
	_ view.View          = (*View)(nil)
	_ view.LocalAhead    = (*View)(nil)
	_ view.Fingerprinter = (*View)(nil)
	_ view.Sandboxed     = (*View)(nil)
)

// Load parses the view file at path and checks every statement against an
// empty in-memory database, so that a broken file is reported — naming the
// file, the line, the statement and SQLite's message — before any view file
// is touched. A statement the sandbox refuses (see view.Sandboxed: ATTACH,
// writing a table the file does not create, a PRAGMA, a transaction,
// load_extension, a temporary object) is reported the same way.
func Load(path string) (*View, error) {
	def, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	return New(def)
}

// LoadFS is Load for a file of fsys, such as an embed.FS holding the
// program's view files (go:embed); name is the file's path in fsys, which
// errors name.
func LoadFS(fsys fs.FS, name string) (*View, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("view file: %w", err)
	}
	def, err := Parse(name, b)
	if err != nil {
		return nil, err
	}
	return New(def)
}

// New checks a parsed view file (see Load) and returns its view.
func New(def *Def) (*View, error) {
	if err := check(def); err != nil {
		return nil, err
	}
	return &View{def: def}, nil
}

// params are the named parameters apply statements may use.
var params = map[string]bool{":seq": true, ":origin": true, ":payload": true, ":time": true}

// checkParams are the named parameters check statements may use.
var checkParams = map[string]bool{":task_id": true, ":kind": true, ":queue": true, ":payload": true, ":scope": true, ":node": true}

// paramList lists a set of parameters for an error message.
func paramList(ps map[string]bool) string {
	names := make([]string, 0, len(ps))
	for p := range ps {
		names = append(names, p)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func check(d *Def) error {
	if err := view.CheckName(d.Name); err != nil {
		return fmt.Errorf("%s: %w", d.Path, err)
	}
	c, err := sqlite.Open(":memory:", sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return err
	}
	defer c.Close()
	// In a transaction, rolled back at the end: statements that cannot
	// run in one (VACUUM INTO a file) fail here too.
	if err := c.Exec("BEGIN"); err != nil {
		return err
	}
	sb := &sqlite.Sandbox{Reserved: []string{"sluice_"}}
	c.SetAuthorizer(sb.Authorize)
	for _, sec := range []struct {
		name  string
		stmts []Statement
	}{{"schema", d.Schema}, {"indexes", d.Indexes}} {
		sb.Create = sec.name == "schema"
		for _, st := range sec.stmts {
			sb.Denied = ""
			if err := c.Exec(st.SQL); err != nil {
				return stmtError(d, sec.name, st, denied(err, sb))
			}
		}
	}
	sb.Create = false
	for _, st := range d.Apply {
		if err := checkStmt(c, sb, d, "apply", st, params, false); err != nil {
			return err
		}
	}
	for _, st := range d.Checks {
		if err := checkStmt(c, sb, d, "check "+st.Kind, st.Statement, checkParams, true); err != nil {
			return err
		}
	}
	return nil
}

// checkStmt compiles one statement of section in the sandbox and checks
// its parameters against allowed, and that it only reads if readOnly.
func checkStmt(c *sqlite.Conn, sb *sqlite.Sandbox, d *Def, section string, st Statement, allowed map[string]bool, readOnly bool) error {
	sb.Denied = ""
	s, err := c.Prepare(st.SQL)
	if err != nil {
		return stmtError(d, section, st, denied(err, sb))
	}
	defer s.Close()
	for i := 0; i < s.NumParams(); i++ {
		if name := s.ParamName(i); !allowed[name] {
			if name == "" {
				name = "a positional parameter (?)"
			}
			return stmtError(d, section, st, fmt.Errorf("unknown parameter %s (use %s)", name, paramList(allowed)))
		}
	}
	if readOnly && !s.ReadOnly() {
		return stmtError(d, section, st, errors.New("a check must only read (a SELECT whose first row, if any, says why the task is rejected)"))
	}
	return nil
}

// denied adds to a statement refused by the sandbox what it tried.
func denied(err error, sb *sqlite.Sandbox) error {
	var se *sqlite.Error
	if sb.Denied != "" && errors.As(err, &se) {
		return fmt.Errorf("%s: %s", se.Msg, sb.Denied)
	}
	return err
}

func stmtError(d *Def, section string, st Statement, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		err = errors.New(se.Msg)
	}
	return fmt.Errorf("%s:%d: %s statement %q: %w", d.Path, st.Line, section, abbrev(st.SQL), err)
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func texts(sts []Statement) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.SQL
	}
	return out
}

// Path returns the file the view was loaded from.
func (v *View) Path() string { return v.def.Path }

// Name implements view.View.
func (v *View) Name() string { return v.def.Name }

// Version implements view.View.
func (v *View) Version() int { return v.def.Version }

// Schema implements view.View.
func (v *View) Schema() []string { return texts(v.def.Schema) }

// Indexes implements view.View.
func (v *View) Indexes() []string { return texts(v.def.Indexes) }

// Fingerprint implements view.Fingerprinter: editing an apply statement
// rebuilds the view.
func (v *View) Fingerprint() string { return strings.Join(texts(v.def.Apply), "\n;\n") }

// Sandboxed implements view.Sandboxed: the statements of a SQL file may
// write only the view's own tables.
func (v *View) Sandboxed() bool { return true }

// AcceptsLocalAhead implements view.LocalAhead: the file's header decides.
func (v *View) AcceptsLocalAhead() bool { return v.def.LocalAhead }

// Open implements view.View.
func (v *View) Open(c *view.Conn) (view.Writer, error) {
	w := &writer{c: c, def: v.def}
	for _, st := range v.def.Apply {
		s, err := c.Prepare(st.SQL)
		if err != nil {
			w.Close()
			return nil, stmtError(v.def, "apply", st, err)
		}
		ps := make([]string, s.NumParams())
		for i := range ps {
			ps[i] = s.ParamName(i)
		}
		w.stmts = append(w.stmts, s)
		w.params = append(w.params, ps)
	}
	for _, st := range v.def.Checks {
		s, err := c.Prepare(st.SQL)
		if err != nil {
			w.Close()
			return nil, stmtError(v.def, "check "+st.Kind, st.Statement, err)
		}
		w.checks = append(w.checks, preparedCheck{KindStatement: st, s: s})
	}
	return w, nil
}

type writer struct {
	c      *view.Conn
	def    *Def
	stmts  []*view.Stmt
	params [][]string
	checks []preparedCheck
}

// preparedCheck is a prepared -- sluice:check statement.
type preparedCheck struct {
	KindStatement
	s *view.Stmt
}

var _ view.Checker = (*writer)(nil)

// Apply runs the apply statements for every item. It first tries the whole
// batch; if a statement fails on some entry, it undoes the batch and goes
// entry by entry, each in a savepoint, rejecting the entries that fail.
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
	for i, s := range w.stmts {
		for _, p := range w.params[i] {
			switch p {
			case ":seq":
				s.Int(int64(it.Seq))
			case ":origin":
				s.Text(it.Origin.String())
			case ":payload":
				s.TextBytes(it.Payload)
			case ":time":
				if it.Time.IsZero() {
					s.Null()
				} else {
					s.Int(it.Time.UnixMilli())
				}
			}
		}
		if err := s.Exec(); err != nil {
			return fmt.Errorf("%s:%d: %w", w.def.Path, w.def.Apply[i].Line, err)
		}
	}
	return nil
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

// Check implements view.Checker: it runs the file's check statements for
// t's kind, in order; the first that returns a row rejects the task, with
// the text of the row's first column (or, if that is NULL or empty, a
// reason naming the statement).
func (w *writer) Check(ctx context.Context, t view.CheckTask) (string, error) {
	for _, c := range w.checks {
		if c.Kind != t.Kind {
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		for i := 0; i < c.s.NumParams(); i++ {
			switch c.s.ParamName(i) {
			case ":task_id":
				c.s.Text(t.ID)
			case ":kind":
				c.s.Text(t.Kind)
			case ":queue":
				c.s.Text(t.Queue)
			case ":payload":
				c.s.TextBytes(t.Payload)
			case ":scope":
				c.s.Text(t.Scope)
			case ":node":
				c.s.Text(t.Node.String())
			}
		}
		reason, err := firstText(c.s)
		if err != nil {
			return "", fmt.Errorf("%s:%d: %w", w.def.Path, c.Line, err)
		}
		if reason != nil {
			if *reason == "" {
				return fmt.Sprintf("rejected by the check at %s:%d", w.def.Path, c.Line), nil
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

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range w.stmts {
		s.Close()
	}
	for _, c := range w.checks {
		c.s.Close()
	}
	w.stmts, w.checks = nil, nil
	return nil
}
