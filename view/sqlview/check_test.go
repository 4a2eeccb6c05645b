package sqlview_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

const timersHead = "-- sluice:view name=timers version=1\n-- sluice:schema\nCREATE TABLE timers(owner TEXT PRIMARY KEY, running INTEGER);\n"

func TestBrokenTaskSections(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"check without kind", timersHead + "-- sluice:check\nSELECT 'x';\n", []string{"bad.sql:4", "kind"}},
		{"check with two kinds", timersHead + "-- sluice:check a b\nSELECT 'x';\n", []string{"bad.sql:4", "kind"}},
		{"schema with a kind", "-- sluice:view name=a version=1\n-- sluice:schema x\n", []string{"bad.sql:2", "takes nothing"}},
		{"check writes", timersHead + "-- sluice:apply\nDELETE FROM timers WHERE :seq = 0;\n-- sluice:check timer.start\nDELETE FROM timers;\n", []string{"bad.sql:7", "check timer.start statement", "only read"}},
		{"check param", timersHead + "-- sluice:apply\nDELETE FROM timers WHERE :seq = 0;\n-- sluice:check timer.start\nSELECT 'x' WHERE :seq > 0;\n", []string{"bad.sql:7", "unknown parameter :seq", ":task_id"}},
		{"optimistic param", timersHead + "-- sluice:optimistic timer.start\nINSERT INTO timers VALUES (:owner, 1);\n", []string{"bad.sql:5", "optimistic timer.start", ":owner"}},
		{"rollback writes another table", timersHead + "-- sluice:rollback timer.start\nDELETE FROM sluice_views;\n", []string{"bad.sql:5", "rollback timer.start"}},
		{"no apply nor authority", timersHead + "-- sluice:check timer.start\nSELECT 'x';\n", []string{"sluice:apply"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { loadFails(t, c.text, c.want...) })
	}
}

// TestFingerprintSections: checks do not change a view's fingerprint (no
// rebuild for editing one); authority sections do; a file without them
// keeps the fingerprint it had (its apply statements).
func TestFingerprintSections(t *testing.T) {
	load := func(text string) *sqlview.View {
		t.Helper()
		d, err := sqlview.Parse("x.sql", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		v, err := sqlview.New(d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	apply := "-- sluice:apply\nINSERT INTO timers VALUES (json_extract(:payload, '$.o'), 1);\n"
	plain := load(timersHead + apply)
	if plain.Fingerprint() != "INSERT INTO timers VALUES (json_extract(:payload, '$.o'), 1);" {
		t.Fatalf("fingerprint of a plain view changed: %q", plain.Fingerprint())
	}
	checked := load(timersHead + apply + "-- sluice:check timer.start\nSELECT 'running' FROM timers WHERE owner = :scope;\n")
	if checked.Fingerprint() != plain.Fingerprint() {
		t.Fatal("a check changed the fingerprint")
	}
	opt := load(timersHead + apply + "-- sluice:optimistic timer.start\nINSERT OR IGNORE INTO timers VALUES (:scope, 0);\n")
	if opt.Fingerprint() == plain.Fingerprint() {
		t.Fatal("an optimistic section left the fingerprint as it was")
	}
	if len(opt.Schema()) != len(plain.Schema())+2 {
		t.Fatalf("a view with authority sections has %d schema statements, want the file's and its two task tables", len(opt.Schema()))
	}
}

// TestCheckReason: the first row's first column is the reason; a NULL or
// empty one gives a reason naming the check; checks of other kinds do not
// run; a check sees what is staged, not yet committed.
func TestCheckReason(t *testing.T) {
	text := timersHead + "-- sluice:apply\nINSERT OR REPLACE INTO timers VALUES (json_extract(:payload, '$.o'), json_extract(:payload, '$.r'));\n" +
		"-- sluice:check timer.start\nSELECT 'running since ' || owner FROM timers WHERE owner = :scope AND running = 1;\n" +
		"-- sluice:check timer.null\nSELECT NULL FROM timers WHERE owner = :scope;\n"
	path := filepath.Join(t.TempDir(), "timers.sql")
	writeFile(t, path, text)
	v, err := sqlview.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := view.OpenFile(filepath.Join(t.TempDir(), "t.db"), []view.View{v}, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	check := func(kind, scope, want string) {
		t.Helper()
		got, err := f.Check(ctx, view.CheckTask{ID: "1", Kind: kind, Scope: scope})
		if err != nil || !strings.Contains(got, want) || (want == "" && got != "") {
			t.Fatalf("Check(%s, %s) = %q, %v; want %q", kind, scope, got, err, want)
		}
	}
	check("timer.start", "u1", "")
	b := &view.Batch{Entries: []log.Entry{{Seq: 1, Payload: []byte(`{"o":"u1","r":1}`)}}, From: 1, To: 1}
	if err := f.Stage(ctx, b); err != nil {
		t.Fatal(err)
	}
	check("timer.start", "u1", "running since u1")
	check("timer.start", "u2", "")
	check("timer.null", "u1", path+":9")
	check("timer.other", "u1", "")
	if err := f.Rollback(); err != nil {
		t.Fatal(err)
	}
	check("timer.start", "u1", "")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
