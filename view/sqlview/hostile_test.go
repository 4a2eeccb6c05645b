package sqlview_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

// hostile makes a view file with the given schema and apply sections.
func hostile(schema, apply string) string {
	return "-- sluice:view name=evil version=1\n-- sluice:schema\nCREATE TABLE evil(x);\n" + schema + "\n-- sluice:apply\n" + apply + "\n"
}

// TestHostileFilesRefusedAtLoad: a SQL view file that would reach beyond
// its own tables (another file, another view's tables, the file's
// settings, the transaction, an extension) is refused by Load, with the
// file, the line, the statement and what it tried, and touches nothing.
func TestHostileFilesRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "ssb.db")
	elsewhere := filepath.Join(dir, "created-by-attach.db")
	vacuumed := filepath.Join(dir, "vacuumed.db")
	cases := []struct {
		name, text string
		want       []string
	}{
		{"attach", hostile(fmt.Sprintf("ATTACH DATABASE '%s' AS other;", target), "DELETE FROM other.messages;"),
			[]string{"bad.sql:4", "schema statement", "ATTACH DATABASE", "ATTACH is not allowed"}},
		{"attach creating a file", hostile("", fmt.Sprintf("ATTACH DATABASE '%s' AS e;", elsewhere)),
			[]string{"bad.sql:6", "apply statement", "ATTACH is not allowed"}},
		{"another view's table", hostile("", "DELETE FROM messages WHERE seq = :seq;"),
			[]string{"bad.sql:6", "apply statement", "no such table: messages"}},
		{"trigger on another table", hostile("CREATE TRIGGER t AFTER INSERT ON messages BEGIN SELECT 1; END;", "INSERT INTO evil VALUES (:seq);"),
			[]string{"bad.sql:4", "no such table"}},
		{"pragma", hostile("PRAGMA journal_mode=DELETE;", "INSERT INTO evil VALUES (:seq);"),
			[]string{"bad.sql:4", "PRAGMA journal_mode is not allowed"}},
		{"temp trigger", hostile("CREATE TEMP TRIGGER t AFTER INSERT ON evil BEGIN SELECT 1; END;", "INSERT INTO evil VALUES (:seq);"),
			[]string{"bad.sql:4", "temporary objects are not allowed"}},
		{"commit", hostile("", "COMMIT;"), []string{"bad.sql:6", "COMMIT is not allowed"}},
		{"load_extension", hostile("", "SELECT load_extension('/tmp/x.so');"), []string{"bad.sql:6", "load_extension is not allowed"}},
		{"vacuum into", hostile(fmt.Sprintf("VACUUM INTO '%s';", vacuumed), "INSERT INTO evil VALUES (:seq);"), []string{"bad.sql:4", "VACUUM"}},
		{"reserved name", hostile("CREATE TABLE sluice_views2(x);", "INSERT INTO evil VALUES (:seq);"), []string{"bad.sql:4", "reserved"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { loadFails(t, c.text, c.want...) })
	}
	for _, p := range []string{target, elsewhere, vacuumed} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("loading hostile view files created %s", p)
		}
	}
}

// TestHostileSchemaRefusedAtOpen: a statement that passes the check at load
// because what it names does not exist there (DROP TABLE IF EXISTS another
// view's table) is refused when the view file runs it, and the other views
// of the file are untouched.
func TestHostileSchemaRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	kv := &viewtest.KV{ViewName: "kv", ViewVersion: 1}
	f, err := view.OpenFile(path, []view.View{kv}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(context.Background(), &view.Batch{From: 1, To: 1, Entries: []log.Entry{{Seq: 1, Payload: viewtest.Payload("a", "b")}}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fsys := fstest.MapFS{"evil.sql": {Data: []byte(hostile("DROP TABLE IF EXISTS kv_kv;", "INSERT INTO evil VALUES (:seq);"))}}
	v, err := sqlview.LoadFS(fsys, "evil.sql")
	if err != nil {
		t.Fatalf("LoadFS: %v", err)
	}
	_, err = view.OpenFile(path, []view.View{kv, v}, view.Options{})
	if err == nil || !strings.Contains(err.Error(), `view "evil"`) || !strings.Contains(err.Error(), "DROP TABLE IF EXISTS kv_kv") || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("OpenFile with a view dropping another's table: %v", err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kv_kv`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("kv_kv after the refused view: %d rows, %v", n, err)
	}
}
