//go:build firstuser

package firstuser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

// bin is the sluice command, built once by TestMain from cmd/sluice.
var bin string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "firstuser-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(tmp, "sluice")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/sluice")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// result is what one sluice process printed and its exit code.
type result struct {
	out, err string
	code     int
}

// run runs sluice --dir dir args... with stdin in, for at most a minute.
func run(t *testing.T, dir string, in []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--dir", dir}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errOut.String(), code}
}

// ok runs sluice and fails the test unless it exits 0.
func ok(t *testing.T, dir string, in []byte, args ...string) string {
	t.Helper()
	r := run(t, dir, in, args...)
	if r.code != 0 {
		t.Fatalf("sluice %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// logEntries reads every entry of the native log in dir/log with a
// log.Reader (no lock, nothing written): the test's independent view of
// what the log holds.
func logEntries(t *testing.T, dir string) []log.Entry {
	t.Helper()
	r, err := log.OpenReader(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	defer r.Close()
	it, err := r.Iter(1)
	if err != nil {
		t.Fatalf("iter: %v", err)
	}
	defer it.Close()
	var es []log.Entry
	for it.Next() {
		es = append(es, it.Entry())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("read log: %v", err)
	}
	return es
}

// notes is a Go view of a notes app: {"op":"add","id":"1","text":"…"}
// adds or replaces a note.
type notes struct{}

func (notes) Name() string { return "notes" }
func (notes) Version() int { return 1 }
func (notes) Schema() []string {
	return []string{`CREATE TABLE notes(id TEXT PRIMARY KEY, text TEXT NOT NULL)`}
}
func (notes) Indexes() []string { return nil }
func (notes) Open(c *view.Conn) (view.Writer, error) {
	add, err := c.Prepare(`INSERT OR REPLACE INTO notes(id, text) VALUES (?, ?)`)
	if err != nil {
		return nil, err
	}
	return &notesWriter{add: add}, nil
}

type notesWriter struct{ add *view.Stmt }

func (w *notesWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		var e struct{ Op, ID, Text string }
		if err := json.Unmarshal(it.Payload, &e); err != nil || e.Op != "add" {
			continue
		}
		w.add.Text(e.ID)
		w.add.Text(e.Text)
	}
	return w.add.Exec()
}

func (w *notesWriter) Close() error { w.add.Close(); return nil }

// note is the payload that adds note id.
func note(id string) log.Record {
	return log.Record{Origin: log.Local, Payload: []byte(fmt.Sprintf(`{"op":"add","id":%q,"text":"t"}`, id))}
}

// openDB opens a sluice.DB on dir, closed when the test ends.
func openDB(t *testing.T, dir string, views ...view.View) *sluice.DB {
	t.Helper()
	db, err := sluice.Open(dir, sluice.Options{Views: views})
	if err != nil {
		t.Fatalf("sluice.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sqlView writes a SQL view file named name with one table t_NAME holding
// every entry's seq, and loads it.
func sqlView(t *testing.T, dir, name string) (*sqlview.View, string) {
	t.Helper()
	p := filepath.Join(dir, name+".sql")
	text := fmt.Sprintf("-- sluice:view name=%s version=1\n-- sluice:schema\nCREATE TABLE t_%s(seq INTEGER PRIMARY KEY);\n-- sluice:apply\nINSERT INTO t_%s VALUES(:seq);\n", name, name, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := sqlview.Load(p)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	return v, p
}

// timeout is a context for one test step.
func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
