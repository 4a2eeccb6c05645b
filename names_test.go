package sluice_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

// sqlView writes and loads a SQL view named name keeping each entry's seq
// in t_NAME.
func sqlView(t *testing.T, name string) *sqlview.View {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".sql")
	text := "-- sluice:view name=" + name + " version=1\n-- sluice:schema\nCREATE TABLE t_" + name + "(seq INTEGER PRIMARY KEY);\n-- sluice:apply\nINSERT INTO t_" + name + " VALUES(:seq);\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := sqlview.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOpenRefusesNamesThatClash: Open refuses views that could not be told
// apart — a Go view and a SQL view of one name, names that differ only in
// case, a SQL view named like the Go views' file in any case — and a view
// file beside one whose name differs only in case (which made every
// sluice query on the directory fail). The error names both, and nothing
// is created. (Before: a Go and a SQL view "notes" were accepted, and
// Rebuild("notes") rebuilt only the SQL one; app.db was created beside
// APP.db.)
func TestOpenRefusesNamesThatClash(t *testing.T) {
	for _, c := range []struct {
		name  string
		views []view.View
		file  string // a file already in DIR/views
		want  []string
	}{
		{"go and sql", []view.View{kv("notes"), sqlView(t, "notes")}, "", []string{`Go view "notes"`, `SQL view "notes" (declared in `}},
		{"case", []view.View{sqlView(t, "Notes"), kv("notes")}, "", []string{`SQL view "Notes"`, `Go view "notes"`, "more than case"}},
		{"two go", []view.View{kv("a"), kv("A")}, "", []string{`Go view "a"`, `Go view "A"`}},
		{"sql app", []view.View{sqlView(t, "APP")}, "", []string{`SQL view "APP"`, "app.db"}},
		{"APP.db", []view.View{kv("notes")}, "APP.db", []string{"APP.db", "app.db only in case"}},
		{"Other.db", []view.View{sqlView(t, "other")}, "Other.db", []string{"Other.db", "other.db only in case"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.file != "" {
				os.MkdirAll(filepath.Join(dir, "views"), 0o755)
				if err := os.WriteFile(filepath.Join(dir, "views", c.file), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			db, err := sluice.Open(dir, sluice.Options{Views: c.views})
			if err == nil {
				db.Close()
				t.Fatalf("Open accepted %s", c.name)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open: %v; want it to say %q", err, w)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "views", "*.db"))
			if want := min(len(c.file), 1); len(files) != want {
				t.Errorf("a refused Open left view files: %v", files)
			}
		})
	}
}
