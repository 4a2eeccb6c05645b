package query_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/query"
)

// TestOpenNames: a file that SQLite could not attach under its name (main,
// temp, or a name another file has in another case) is refused naming the
// file, instead of SQLite's "database main is already in use".
func TestOpenNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{"main.db"}, "cannot be named main"},
		{[]string{"a.db", "TEMP.db"}, "cannot be named TEMP"},
		{[]string{"kv.db", filepath.Join("other", "KV.db")}, `two files named "KV"`},
	} {
		var paths []string
		for _, f := range c.files {
			p := filepath.Join(dir, f)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		db, err := query.Open(paths, query.Options{})
		if err == nil {
			db.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%v) = %v, want %q", c.files, err, c.want)
		}
	}
}
