package view_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/view/viewtest"
)

// TestBrokenCopiesBounded: a view file damaged again and again is moved
// aside each time, but only the newest three copies are kept; older ones
// are removed with a notice.
func TestBrokenCopiesBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.db")
	var n notices
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(path, []byte(strings.Repeat("garbage ", 100)), 0o644); err != nil {
			t.Fatal(err)
		}
		f := openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 1})
		f.Close()
	}
	copies, _ := filepath.Glob(path + ".broken-*")
	if len(copies) != 3 {
		t.Fatalf("%d copies moved aside are kept, want 3: %q", len(copies), copies)
	}
	for _, c := range copies {
		if b, err := os.ReadFile(c); err != nil || !strings.HasPrefix(string(b), "garbage") {
			t.Fatalf("%s is not a moved-aside copy: %v", c, err)
		}
	}
	n.has(t, "removed "+path+".broken-")
}
