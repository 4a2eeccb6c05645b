package lattice_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// shellSession is a command of the sqlite3 shell shown in the package doc
// and the output the doc shows for it.
type shellSession struct{ sql, out string }

// docSessions reads the "sqlite> " commands of doc.go and the lines shown
// after each.
func docSessions(t *testing.T) []shellSession {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var ss []shellSession
	open := false // inside a session's indented block
	for _, line := range strings.Split(string(src), "\n") {
		text, indented := strings.CutPrefix(line, "//\t")
		switch {
		case strings.HasPrefix(text, "sqlite> "):
			ss = append(ss, shellSession{sql: strings.TrimPrefix(text, "sqlite> ")})
			open = true
		case !indented:
			open = false
		case open:
			ss[len(ss)-1].out += text + "\n"
		}
	}
	return ss
}

// TestShellExamples runs the package doc's sqlite3 shell session, with the
// sqlite3 shell, on a view file holding the seed's chat example, and
// compares the output with the doc's. It also proves that the SQL VIEWs
// parse in the shell's SQLite, which may be older than the one compiled
// into sluice.
func TestShellExamples(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("the sqlite3 shell is not installed (apt-get install sqlite3; CI installs it): the doc's shell examples are not checked")
	}
	sessions := docSessions(t)
	if len(sessions) < 4 {
		t.Fatalf("found %d sqlite> commands in doc.go", len(sessions))
	}
	f, path := newFile(t, "")
	var entries []log.Entry
	for i, p := range seedDeltas {
		entries = append(entries, log.Entry{Seq: log.Seq(i + 1), Payload: []byte(p)})
	}
	if err := f.Apply(context.Background(), &view.Batch{Entries: entries, From: 1, To: log.Seq(len(entries))}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		out, err := exec.Command(shell, "-readonly", path, s.sql).CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 %q: %v\n%s", s.sql, err, out)
		}
		if string(out) != s.out {
			t.Errorf("sqlite3 %q prints\n%s\ndoc.go shows\n%s", s.sql, out, s.out)
		}
	}
}
