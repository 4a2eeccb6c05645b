package sqlview

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
		sb.Denied = ""
		s, err := c.Prepare(st.SQL)
		if err != nil {
			return stmtError(d, "apply", st, denied(err, sb))
		}
		for i := 0; i < s.NumParams(); i++ {
			if name := s.ParamName(i); !params[name] {
				if name == "" {
					name = "a positional parameter (?)"
				}
				return stmtError(d, "apply", st, fmt.Errorf("unknown parameter %s (use :seq, :origin, :payload, :time)", name))
			}
		}
		s.Close()
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
	return w, nil
}

type writer struct {
	c      *view.Conn
	def    *Def
	stmts  []*view.Stmt
	params [][]string
}

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

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range w.stmts {
		s.Close()
	}
	w.stmts = nil
	return nil
}
