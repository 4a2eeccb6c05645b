package sqlview_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
)

const good = `-- sluice:view name=notes version=3 local-ahead=yes
-- A comment line.
-- sluice:schema
CREATE TABLE notes(seq INTEGER PRIMARY KEY, origin TEXT, body TEXT, t INTEGER);
CREATE TRIGGER notes_upper AFTER INSERT ON notes BEGIN
  UPDATE notes SET body = upper(body) WHERE seq = new.seq;
END;
-- sluice:indexes
CREATE INDEX notes_body ON notes(body);
-- sluice:apply
INSERT INTO notes VALUES (:seq, :origin, json_extract(:payload, '$.body'), :time);
`

func TestParse(t *testing.T) {
	d, err := sqlview.Parse("good.sql", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "notes" || d.Version != 3 || !d.LocalAhead || len(d.Schema) != 2 || len(d.Indexes) != 1 || len(d.Apply) != 1 {
		t.Fatalf("parsed %+v", d)
	}
	if !strings.HasSuffix(d.Schema[1].SQL, "END;") || d.Schema[1].Line != 5 || d.Apply[0].Line != 11 {
		t.Fatalf("trigger %q at line %d, apply at line %d", d.Schema[1].SQL, d.Schema[1].Line, d.Apply[0].Line)
	}
}

func TestBrokenFiles(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"no header", "-- sluice:schema\nCREATE TABLE a(x);\n", []string{"bad.sql:1", "sluice:view"}},
		{"no name", "-- sluice:view version=1\n", []string{"bad.sql:1", "name="}},
		{"bad version", "-- sluice:view name=a version=x\n", []string{"bad.sql:1", "version"}},
		{"unknown field", "-- sluice:view name=a version=1 colour=red\n", []string{"colour"}},
		{"unknown section", "-- sluice:view name=a version=1\n-- sluice:schemas\n", []string{"bad.sql:2", "schemas"}},
		{"no apply", "-- sluice:view name=a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n", []string{"apply"}},
		{"bad name", "-- sluice:view name=9a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n-- sluice:apply\nINSERT INTO a VALUES (:seq);\n", []string{"bad.sql", "9a"}},
		{"schema syntax", "-- sluice:view name=a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n\nCREATE TABEL b(y);\n-- sluice:apply\nINSERT INTO a VALUES (:seq);\n",
			[]string{"bad.sql:5", "schema statement", "CREATE TABEL b(y)", "syntax error"}},
		{"apply no table", "-- sluice:view name=a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n-- sluice:apply\nINSERT INTO zz VALUES (:seq);\n",
			[]string{"bad.sql:5", "apply statement", "no such table: zz"}},
		{"unknown param", "-- sluice:view name=a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n-- sluice:apply\nINSERT INTO a VALUES (:sequence);\n",
			[]string{"bad.sql:5", ":sequence"}},
		{"index on missing column", "-- sluice:view name=a version=1\n-- sluice:schema\nCREATE TABLE a(x);\n-- sluice:indexes\nCREATE INDEX ai ON a(nope);\n-- sluice:apply\nINSERT INTO a VALUES (:seq);\n",
			[]string{"bad.sql:5", "indexes statement", "nope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { loadFails(t, c.text, c.want...) })
	}
}

// loadFails loads text as bad.sql and checks that Load refuses it with an
// error mentioning each of want.
func loadFails(t *testing.T, text string, want ...string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.sql")
	os.WriteFile(path, []byte(text), 0o644)
	_, err := sqlview.Load(path)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not mention %q", err, w)
		}
	}
}

func load(t *testing.T, text string) *sqlview.View {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.sql")
	os.WriteFile(path, []byte(text), 0o644)
	v, err := sqlview.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestApplyRejectsAndRebuild(t *testing.T) {
	v := load(t, good)
	dbPath := filepath.Join(t.TempDir(), "v.db")
	f, err := view.OpenFile(dbPath, []view.View{v}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	es := []log.Entry{
		{Seq: 1, Origin: log.Local, Payload: []byte(`{"body":"hello"}`)},
		{Seq: 2, Payload: []byte(`not json`)},
		{Seq: 3, Payload: []byte(`{"body":"world"}`)},
	}
	if err := f.Apply(context.Background(), &view.Batch{Entries: es, From: 1, To: 3}); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	defer db.Close()
	var n int
	var bodies, origins string
	db.QueryRow(`SELECT count(*), group_concat(body), group_concat(origin) FROM (SELECT * FROM notes ORDER BY seq)`).Scan(&n, &bodies, &origins)
	if n != 2 || bodies != "HELLO,WORLD" || origins != "local,remote" {
		t.Fatalf("notes: %d %q %q", n, bodies, origins)
	}
	var rejSeq int
	var rejErr string
	if err := db.QueryRow(`SELECT seq, error FROM sluice_rejects`).Scan(&rejSeq, &rejErr); err != nil || rejSeq != 2 || !strings.Contains(rejErr, "JSON") {
		t.Fatalf("reject %d %q %v", rejSeq, rejErr, err)
	}
	f.Close()

	// Editing an apply statement rebuilds the view; an unchanged file
	// does not.
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, format) }
	f, _ = view.OpenFile(dbPath, []view.View{load(t, good)}, view.Options{Logf: logf})
	if f.Status()[0].Since != 3 || len(notes) != 0 {
		t.Fatalf("unchanged file: since %d notes %v", f.Status()[0].Since, notes)
	}
	f.Close()
	edited := strings.Replace(good, "json_extract(:payload, '$.body')", "json_extract(:payload, '$.text')", 1)
	f, _ = view.OpenFile(dbPath, []view.View{load(t, edited)}, view.Options{Logf: logf})
	defer f.Close()
	if f.Status()[0].Since != 0 || len(notes) == 0 {
		t.Fatalf("edited file: since %d notes %v", f.Status()[0].Since, notes)
	}
}

// TestExamples indexes the SSB fixture with the example views in
// testdata/views and checks them against counts computed from the raw log.
func TestExamples(t *testing.T) {
	payloads := ssbtest.OffsetPayloads(t, "../../testdata/ssb/flume/log.offset")
	var posts, voteRows int
	latest := map[[2]string]float64{}
	for _, p := range payloads {
		var m struct {
			Value struct {
				Author  string
				Content json.RawMessage
			}
		}
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatal(err)
		}
		var c struct {
			Type string
			Vote struct {
				Link  any
				Value float64
			}
		}
		if json.Unmarshal(m.Value.Content, &c) != nil {
			continue // private: content is a string
		}
		switch c.Type {
		case "post":
			posts++
		case "vote":
			if link, ok := c.Vote.Link.(string); ok {
				latest[[2]string{m.Value.Author, link}] = c.Vote.Value
			}
		}
	}
	likes := map[string]int{}
	for k, v := range latest {
		voteRows++
		if v > 0 {
			likes[k[1]]++
		}
	}
	vs := exampleViews(t)
	dbPath := filepath.Join(t.TempDir(), "v.db")
	f, err := view.OpenFile(dbPath, vs, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var es []log.Entry
	for i, p := range payloads {
		es = append(es, log.Entry{Seq: log.Seq(i + 1), Payload: p})
	}
	for i := 0; i < len(es); i += 500 {
		j := min(i+500, len(es))
		if err := f.Apply(context.Background(), &view.Batch{Entries: es[i:j], From: es[i].Seq, To: es[j-1].Seq}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	defer db.Close()
	var gotPosts, gotVotes, targets int
	db.QueryRow(`SELECT count(*) FROM posts`).Scan(&gotPosts)
	db.QueryRow(`SELECT count(*) FROM votes`).Scan(&gotVotes)
	db.QueryRow(`SELECT count(*) FROM vote_counts`).Scan(&targets)
	if gotPosts != posts || gotVotes != voteRows || targets != len(likes) || posts == 0 || voteRows == 0 {
		t.Fatalf("posts %d/%d votes %d/%d liked targets %d/%d", gotPosts, posts, gotVotes, voteRows, targets, len(likes))
	}
	rows, _ := db.Query(`SELECT target, likes FROM vote_counts`)
	defer rows.Close()
	for rows.Next() {
		var target string
		var n int
		rows.Scan(&target, &n)
		if likes[target] != n {
			t.Fatalf("likes of %s: %d, want %d", target, n, likes[target])
		}
	}
}
