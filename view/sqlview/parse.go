package sqlview

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/view"
)

// Statement is one SQL statement of a view file and where it starts.
type Statement struct {
	SQL  string
	Line int
}

// KindStatement is a statement of a section for one kind of task
// (-- sluice:check KIND and the authority sections).
type KindStatement struct {
	Kind string
	Statement
}

// Def is a parsed view file.
type Def struct {
	Path       string
	Name       string
	Version    int
	LocalAhead bool
	Schema     []Statement
	Indexes    []Statement
	Apply      []Statement
	// Checks are the -- sluice:check KIND statements: queries that reject
	// a task of that kind with the text of their first row.
	Checks []KindStatement
	// Optimistic, Result and Rollback are the authority sections: run for
	// a task of their kind this device appended, for the server's result
	// of one, and for one that failed or was cancelled (see
	// view.ParseTask).
	Optimistic, Result, Rollback []KindStatement
}

// kindSections are the sections that name a kind of task.
var kindSections = map[string]bool{"check": true, "optimistic": true, "result": true, "rollback": true}

// hasTaskSections reports whether the file has authority sections.
func (d *Def) hasTaskSections() bool {
	return len(d.Optimistic)+len(d.Result)+len(d.Rollback) > 0
}

// Parse parses the view file text; path is only used in errors.
func Parse(path string, text []byte) (*Def, error) {
	d := &Def{Path: path}
	section, kind := "", ""
	var cur strings.Builder
	curLine := 0
	headerSeen := false
	flush := func() error {
		sql := strings.TrimSpace(cur.String())
		line := curLine
		cur.Reset()
		curLine = 0
		if sql == "" || onlyComments(sql) {
			return nil
		}
		st := Statement{SQL: sql, Line: line}
		switch section {
		case "schema":
			d.Schema = append(d.Schema, st)
		case "indexes":
			d.Indexes = append(d.Indexes, st)
		case "apply":
			d.Apply = append(d.Apply, st)
		case "check":
			d.Checks = append(d.Checks, KindStatement{Kind: kind, Statement: st})
		case "optimistic":
			d.Optimistic = append(d.Optimistic, KindStatement{Kind: kind, Statement: st})
		case "result":
			d.Result = append(d.Result, KindStatement{Kind: kind, Statement: st})
		case "rollback":
			d.Rollback = append(d.Rollback, KindStatement{Kind: kind, Statement: st})
		default:
			return fmt.Errorf("%s:%d: SQL before the first section (-- sluice:schema, -- sluice:indexes or -- sluice:apply)", path, line)
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trimmed, "-- sluice:"); ok && onlyComments(cur.String()) {
			cur.Reset()
			curLine = 0
			word, args, _ := strings.Cut(rest, " ")
			switch word {
			case "view":
				if headerSeen {
					return nil, fmt.Errorf("%s:%d: a second -- sluice:view line", path, n)
				}
				headerSeen = true
				if err := d.parseHeader(args); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, n, err)
				}
			case "schema", "indexes", "apply", "check", "optimistic", "result", "rollback":
				if !headerSeen {
					return nil, fmt.Errorf("%s:%d: the file must start with a -- sluice:view name=NAME version=N line", path, n)
				}
				k, err := sectionKind(word, args)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, n, err)
				}
				section, kind = word, k
			default:
				return nil, fmt.Errorf("%s:%d: unknown directive -- sluice:%s (want view, schema, indexes, apply, check, optimistic, result or rollback)", path, n, word)
			}
			continue
		}
		if curLine == 0 && trimmed != "" && !strings.HasPrefix(trimmed, "--") {
			curLine = n
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.Contains(line, ";") && sqlite.Complete(cur.String()) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if strings.TrimSpace(cur.String()) != "" && !onlyComments(cur.String()) {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	switch {
	case !headerSeen:
		return nil, fmt.Errorf("%s: no -- sluice:view name=NAME version=N line", path)
	case len(d.Schema) == 0:
		return nil, fmt.Errorf("%s: no statements in a -- sluice:schema section", path)
	case len(d.Apply) == 0 && !d.hasTaskSections():
		return nil, fmt.Errorf("%s: no statements in a -- sluice:apply section (or -- sluice:optimistic, result, rollback)", path)
	}
	return d, nil
}

// sectionKind returns the kind a section line names: one word for the
// sections of a kind of task, none for the others.
func sectionKind(section, args string) (string, error) {
	fields := strings.Fields(args)
	if !kindSections[section] {
		if len(fields) > 0 {
			return "", fmt.Errorf("-- sluice:%s takes nothing after it, not %q", section, args)
		}
		return "", nil
	}
	if len(fields) != 1 {
		return "", fmt.Errorf("-- sluice:%s needs the kind of task it is for, one word (-- sluice:%s timer.start)", section, section)
	}
	return fields[0], nil
}

func (d *Def) parseHeader(args string) error {
	seen := map[string]bool{}
	for _, f := range strings.Fields(args) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("header field %q: want key=value", f)
		}
		if seen[k] {
			return fmt.Errorf("header field %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "name":
			d.Name = v
		case "version":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("version %q: want a whole number", v)
			}
			d.Version = n
		case "local-ahead":
			switch strings.ToLower(v) {
			case "yes", "true", "1":
				d.LocalAhead = true
			case "no", "false", "0":
			default:
				return fmt.Errorf("local-ahead %q: want yes or no", v)
			}
		default:
			return fmt.Errorf("unknown header field %q (want name, version, local-ahead)", k)
		}
	}
	if d.Name == "" {
		return fmt.Errorf("the header needs name=NAME")
	}
	if !seen["version"] {
		return fmt.Errorf("the header needs version=N")
	}
	return nil
}

// onlyComments reports whether s holds nothing but whitespace and -- comments.
func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "--") {
			return false
		}
	}
	return true
}

// ParseFile reads and parses the view file at path.
func ParseFile(path string) (*Def, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("view file: %w", err)
	}
	return Parse(path, b)
}

// taskSection is an authority section's statements.
type taskSection struct {
	name  string
	op    view.TaskOp
	stmts []KindStatement
}

// taskSections returns the authority sections, in a fixed order.
func (d *Def) taskSections() []taskSection {
	return []taskSection{
		{"optimistic", view.OpOptimistic, d.Optimistic},
		{"result", view.OpResult, d.Result},
		{"rollback", view.OpRollback, d.Rollback},
	}
}
