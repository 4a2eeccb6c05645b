package sluice

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicedb/sluice/view"
)

// checkNames refuses views that could not be told apart: two views whose
// names differ at most in case (whatever they are written in: WaitFor and
// Rebuild name views, and SQLite compares the schema names files are
// attached under without case), and a view declared in SQL named like the
// Go views' file, app, in any case.
func checkNames(views []view.View) error {
	seen := map[string]view.View{}
	for _, v := range views {
		key := strings.ToLower(v.Name())
		if isSQL(v) && key == AppFile {
			return fmt.Errorf("%s may not be the name of a view declared in SQL: its file would be the Go views' %s.db", describe(v), AppFile)
		}
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("%s and %s: view names must differ, also in more than case", describe(prev), describe(v))
		}
		seen[key] = v
	}
	return nil
}

// checkFileNames refuses to open the view file name in viewsDir beside a
// file whose name differs from it only in case (left by the sluice command
// or an older version): sluice query attaches every file of the directory
// under its name, and could attach neither.
func checkFileNames(viewsDir, name string) error {
	ents, err := os.ReadDir(viewsDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		other, ok := strings.CutSuffix(e.Name(), ".db")
		if ok && other != name && strings.EqualFold(other, name) {
			return fmt.Errorf("%s holds %s, whose name differs from the view file %s.db only in case: sluice query could attach neither; rename or move it away",
				viewsDir, e.Name(), name)
		}
	}
	return nil
}

// isSQL reports whether v is declared in SQL (its file is its own).
func isSQL(v view.View) bool {
	s, ok := v.(view.Sandboxed)
	return ok && s.Sandboxed()
}

// describe names a view for an error: its name, what it is written in, and
// its file.
func describe(v view.View) string {
	if !isSQL(v) {
		return fmt.Sprintf("the Go view %q (in views/%s.db)", v.Name(), AppFile)
	}
	if p, ok := v.(interface{ Path() string }); ok && p.Path() != "" {
		return fmt.Sprintf("the SQL view %q (declared in %s)", v.Name(), filepath.Clean(p.Path()))
	}
	return fmt.Sprintf("the SQL view %q", v.Name())
}
