package sqlview

import (
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
	if def.hasTaskSections() {
		d := *def
		d.Schema = append(append([]Statement(nil), def.Schema...), taskSchema(def.Name)...)
		def = &d
	}
	if err := check(def); err != nil {
		return nil, err
	}
	return &View{def: def}, nil
}

// params are the named parameters apply statements may use.
var params = map[string]bool{":seq": true, ":origin": true, ":payload": true, ":time": true}

// taskParams are the named parameters the statements of the authority
// sections may use.
var taskParams = map[string]bool{":seq": true, ":origin": true, ":payload": true, ":time": true, ":entry": true,
	":scope": true, ":task": true, ":task_id": true, ":node": true, ":kind": true, ":queue": true, ":authority": true, ":reason": true, ":outcome": true}

// checkParams are the named parameters check statements may use.
var checkParams = map[string]bool{":task": true, ":task_id": true, ":kind": true, ":queue": true, ":payload": true, ":scope": true, ":node": true}

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
	for _, sec := range d.taskSections() {
		for _, st := range sec.stmts {
			if err := checkStmt(c, sb, d, sec.name+" "+st.Kind, st.Statement, taskParams, false); err != nil {
				return err
			}
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

// Fingerprint implements view.Fingerprinter: editing an apply statement,
// or one of an authority section, rebuilds the view (editing a check does
// not).
func (v *View) Fingerprint() string {
	fp := strings.Join(texts(v.def.Apply), "\n;\n")
	for _, sec := range v.def.taskSections() {
		for _, st := range sec.stmts {
			fp += "\n-- " + sec.name + " " + st.Kind + "\n" + st.SQL
		}
	}
	return fp
}

// Sandboxed implements view.Sandboxed: the statements of a SQL file may
// write only the view's own tables.
func (v *View) Sandboxed() bool { return true }

// AcceptsLocalAhead implements view.LocalAhead: the file's header decides.
func (v *View) AcceptsLocalAhead() bool { return v.def.LocalAhead }
