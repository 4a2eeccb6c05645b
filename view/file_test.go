package view_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// notices collects what a File reports through Options.Logf.
type notices struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notices) logf(format string, args ...any) {
	n.mu.Lock()
	n.msgs = append(n.msgs, fmt.Sprintf(format, args...))
	n.mu.Unlock()
}

func (n *notices) has(t *testing.T, sub string) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs {
		if strings.Contains(m, sub) {
			return
		}
	}
	t.Fatalf("no notice containing %q in %q", sub, n.msgs)
}

func openFile(t *testing.T, path string, n *notices, views ...view.View) *view.File {
	t.Helper()
	opts := view.Options{}
	if n != nil {
		opts.Logf = n.logf
	}
	f, err := view.OpenFile(path, views, opts)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// entries makes entries from..to setting key "k<seq%5>" to "v<seq>".
func entries(from, to log.Seq, origin func(log.Seq) log.Origin) []log.Entry {
	var es []log.Entry
	for s := from; s <= to; s++ {
		o := log.Remote
		if origin != nil {
			o = origin(s)
		}
		es = append(es, log.Entry{Seq: s, Origin: o, Payload: viewtest.Payload(fmt.Sprintf("k%d", s%5), fmt.Sprintf("v%d", s))})
	}
	return es
}

func apply(t *testing.T, f *view.File, b *view.Batch) {
	t.Helper()
	if err := f.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func backlog(from, to log.Seq) *view.Batch {
	return &view.Batch{Entries: entries(from, to, nil), From: from, To: to}
}

// readDB opens path read-only through database/sql, independently of the
// package under test.
func readDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func since(t *testing.T, f *view.File, name string) log.Seq {
	t.Helper()
	for _, s := range f.Status() {
		if s.Name == name {
			return s.Since
		}
	}
	t.Fatalf("no view %q", name)
	return 0
}

func TestApplyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	f := openFile(t, path, nil, kv)
	apply(t, f, backlog(1, 100))
	apply(t, f, backlog(101, 150))
	if got := since(t, f, "a"); got != 150 {
		t.Fatalf("since = %d", got)
	}
	db := readDB(t, path)
	if n := queryInt(t, db, `SELECT count(*) FROM a_log`); n != 150 {
		t.Fatalf("a_log has %d rows", n)
	}
	// The latest value of k3 is that of the highest seq with seq%5 == 3.
	var v string
	db.QueryRow(`SELECT v FROM a_kv WHERE k = 'k3'`).Scan(&v)
	if v != "v148" {
		t.Fatalf("k3 = %q", v)
	}
	if n := queryInt(t, db, `SELECT since FROM sluice_views WHERE name = 'a'`); n != 150 {
		t.Fatalf("meta since = %d", n)
	}
	f.Close()
	f2 := openFile(t, path, nil, kv)
	if got := since(t, f2, "a"); got != 150 {
		t.Fatalf("since after reopen = %d", got)
	}
	// A batch overlapping what the view has is applied from since+1 only
	// (a_log's primary key would reject a duplicate).
	apply(t, f2, backlog(140, 160))
	if n := queryInt(t, db, `SELECT count(*) FROM a_log`); n != 160 {
		t.Fatalf("a_log has %d rows", n)
	}
	// A batch that skips entries is refused, with an error naming the view
	// and both seqs, and changes nothing: since, the rows and the meta
	// table, also once the file is reopened.
	before := dumpKV(t, db, "a")
	err := f2.Apply(context.Background(), backlog(170, 180))
	if err == nil {
		t.Fatal("a batch leaving a gap was applied")
	}
	if !strings.Contains(err.Error(), `view "a"`) || !strings.Contains(err.Error(), "170") || !strings.Contains(err.Error(), "160") {
		t.Fatalf("gap error %q does not name the view, the batch's start and the view's since", err)
	}
	unchanged := func(f *view.File) {
		t.Helper()
		if got := since(t, f, "a"); got != 160 {
			t.Fatalf("since = %d after a refused batch, want 160", got)
		}
		if n := queryInt(t, db, `SELECT since FROM sluice_views WHERE name = 'a'`); n != 160 {
			t.Fatalf("meta since = %d after a refused batch, want 160", n)
		}
		if after := dumpKV(t, db, "a"); after != before {
			tail := func(s string) string { return s[max(0, len(s)-300):] }
			t.Fatalf("a refused batch changed the rows; the end of them:\nbefore ...%s\nafter  ...%s", tail(before), tail(after))
		}
	}
	unchanged(f2)
	f2.Close()
	unchanged(openFile(t, path, nil, kv))
}

// dumpKV returns the rows of a KV view's tables (name_log, name_kv) as text.
func dumpKV(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var out strings.Builder
	for _, q := range []string{`SELECT seq || ':' || k || ':' || origin FROM ` + name + `_log ORDER BY seq`, `SELECT k || '=' || v || '@' || seq FROM ` + name + `_kv ORDER BY k`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out.WriteString(s + " ")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		out.WriteString("| ")
	}
	return out.String()
}

func TestRebuildOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	var n notices
	f := openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 1}, &viewtest.KV{ViewName: "b", ViewVersion: 1})
	apply(t, f, backlog(1, 50))
	f.Close()

	// A version bump rebuilds that view only.
	f = openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 2}, &viewtest.KV{ViewName: "b", ViewVersion: 1})
	n.has(t, "version changed from 1 to 2")
	if since(t, f, "a") != 0 || since(t, f, "b") != 50 {
		t.Fatalf("since a=%d b=%d", since(t, f, "a"), since(t, f, "b"))
	}
	db := readDB(t, path)
	if c := queryInt(t, db, `SELECT count(*) FROM a_log`); c != 0 {
		t.Fatalf("rebuilt view kept %d rows", c)
	}
	if c := queryInt(t, db, `SELECT count(*) FROM b_log`); c != 50 {
		t.Fatalf("other view lost rows: %d", c)
	}
	// Views at different since values: the batch fills the one behind.
	apply(t, f, backlog(1, 60))
	if c := queryInt(t, db, `SELECT count(*) FROM a_log`) + queryInt(t, db, `SELECT count(*) FROM b_log`); c != 120 {
		t.Fatalf("rows after catch-up: %d", c)
	}
	f.Close()

	// A schema change (a different statement text) rebuilds too.
	f = openFile(t, path, &n, &schemaEdit{KV: viewtest.KV{ViewName: "a", ViewVersion: 2}})
	n.has(t, "schema changed")
	if since(t, f, "a") != 0 {
		t.Fatal("edited view not rebuilt")
	}
}

// schemaEdit is KV with an extra column: the same version, another schema.
type schemaEdit struct{ viewtest.KV }

func (s *schemaEdit) Schema() []string {
	st := s.KV.Schema()
	st[0] = strings.Replace(st[0], "seq INTEGER NOT NULL", "seq INTEGER NOT NULL, note TEXT", 1)
	return st
}

func TestBrokenSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	f := openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	apply(t, f, backlog(1, 10))
	f.Close()
	_, err := view.OpenFile(path, []view.View{&viewtest.KV{ViewName: "a", ViewVersion: 1}, &brokenView{KV: viewtest.KV{ViewName: "bad", ViewVersion: 1}}}, view.Options{})
	if err == nil || !strings.Contains(err.Error(), `view "bad"`) || !strings.Contains(err.Error(), "schema statement 2") || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("err = %v", err)
	}
	db := readDB(t, path)
	if c := queryInt(t, db, `SELECT count(*) FROM sqlite_master WHERE name LIKE 'bad%'`); c != 0 {
		t.Fatalf("broken view half-created: %d objects", c)
	}
	if c := queryInt(t, db, `SELECT count(*) FROM a_log`); c != 10 {
		t.Fatalf("other view damaged: %d", c)
	}
}

type brokenView struct{ viewtest.KV }

func (b *brokenView) Schema() []string {
	return []string{b.KV.Schema()[0], `CREATE TABLEX oops(a)`}
}

func TestForeignAndCorruptFiles(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"garbage": func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o644)
		},
		"foreign sqlite": func(t *testing.T, path string) {
			db, _ := sql.Open("sqlite3", path)
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'x')`); err != nil {
				t.Fatal(err)
			}
		},
		"corrupt page": func(t *testing.T, path string) {
			f := openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1})
			for i := log.Seq(0); i < 20; i++ {
				apply(t, f, backlog(i*100+1, i*100+100))
			}
			f.Close()
			b, _ := os.ReadFile(path)
			if len(b) < 8*4096 {
				t.Fatalf("file too small to damage: %d", len(b))
			}
			// Overwrite the start of every b-tree page but the first
			// (the database header) with garbage.
			for p := 4096; p+64 <= len(b); p += 4096 {
				for i := p; i < p+64; i++ {
					b[i] = 0x5a
				}
			}
			os.WriteFile(path, b, 0o644)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "v.db")
			damage(t, path)
			var n notices
			f := openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 1})
			n.has(t, "moved it to")
			if since(t, f, "a") != 0 {
				t.Fatal("view not rebuilt")
			}
			apply(t, f, backlog(1, 5))
			matches, _ := filepath.Glob(filepath.Join(dir, "v.db.broken-*"))
			if len(matches) == 0 {
				t.Fatal("damaged file not kept aside")
			}
		})
	}
}

func TestDirtyAfterReboot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	mark := func() string {
		t.Helper()
		db := readDB(t, path)
		var v string
		db.QueryRow(`SELECT value FROM sluice_file WHERE key = 'dirty_boot'`).Scan(&v)
		db.Close()
		return v
	}
	f := openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	if err := f.SetBulk(true); err != nil {
		t.Fatal(err)
	}
	if mark() == "" {
		t.Fatal("bulk mode did not mark the file")
	}
	apply(t, f, backlog(1, 10))
	if err := f.SetBulk(false); err != nil {
		t.Fatal(err)
	}
	// Not synced yet: still marked.
	if !f.Unsettled() || mark() == "" {
		t.Fatal("left bulk mode without syncing, but the mark is gone")
	}
	f.Close()
	// Same boot (a process crash, or a process that ended): the file is
	// trusted, synced and unmarked.
	var n notices
	f2 := openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	if since(t, f2, "a") != 10 || f2.Unsettled() || mark() != "" {
		t.Fatalf("after reopening in the same boot: since %d, unsettled %v, mark %q", since(t, f2, "a"), f2.Unsettled(), mark())
	}
	f2.Close()
	// Marked in another boot: the OS went down with unsynced pages.
	db, _ := sql.Open("sqlite3", path)
	db.Exec(`INSERT OR REPLACE INTO sluice_file(key, value) VALUES ('dirty_boot', 'some-earlier-boot')`)
	db.Close()
	f3 := openFile(t, path, &n, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	n.has(t, "synchronous=OFF")
	if since(t, f3, "a") != 0 {
		t.Fatal("file dirtied before a reboot was trusted")
	}
}

func TestAheadAndBacklog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	strict := &viewtest.KV{ViewName: "s", ViewVersion: 1, NoLocalAhead: true}
	f := openFile(t, path, nil, kv, strict)
	apply(t, f, backlog(1, 10))
	local := func(s log.Seq) log.Origin {
		if s%7 == 0 {
			return log.Local
		}
		return log.Remote
	}
	all := entries(1, 60, local)
	// Local entries 14, 21 and 56 arrive ahead of the backlog (and a
	// remote one in the same batch is ignored).
	ahead := []log.Entry{all[13], all[19], all[20], all[55]}
	apply(t, f, &view.Batch{Entries: ahead, Ahead: true})
	if !f.Applied("a", 21) || f.Applied("a", 20) || f.Applied("s", 21) {
		t.Fatal("Applied wrong after an ahead batch")
	}
	db := readDB(t, path)
	if c := queryInt(t, db, `SELECT count(*) FROM sluice_ahead WHERE view = 'a'`); c != 3 {
		t.Fatalf("sluice_ahead holds %d rows", c)
	}
	// Reopen (as after a crash) and run the backlog: the ahead entries are
	// skipped, never applied twice (a_log's primary key would fail).
	f.Close()
	f = openFile(t, path, nil, kv, strict)
	if st := f.Status(); st[0].Ahead != 3 {
		t.Fatalf("ahead after reopen = %d", st[0].Ahead)
	}
	apply(t, f, &view.Batch{Entries: all[10:30], From: 11, To: 30})
	if c := queryInt(t, db, `SELECT count(*) FROM sluice_ahead WHERE view = 'a'`); c != 1 {
		t.Fatalf("sluice_ahead holds %d rows after the backlog passed two", c)
	}
	apply(t, f, &view.Batch{Entries: all[30:60], From: 31, To: 60})
	for _, name := range []string{"a", "s"} {
		if c := queryInt(t, db, fmt.Sprintf(`SELECT count(*) FROM %s_log`, name)); c != 60 {
			t.Fatalf("%s_log has %d rows", name, c)
		}
	}
	// Order did not matter: both views hold the same latest values.
	if c := queryInt(t, db, `SELECT count(*) FROM a_kv JOIN s_kv USING (k) WHERE a_kv.v = s_kv.v AND a_kv.seq = s_kv.seq`); c != 5 {
		t.Fatalf("views disagree: %d of 5 keys equal", c)
	}
	if c := queryInt(t, db, `SELECT count(*) FROM sluice_ahead`); c != 0 {
		t.Fatalf("sluice_ahead not emptied: %d", c)
	}
}

func TestRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	f := openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	es := entries(1, 5, nil)
	es[2].Payload = []byte(`{"k": oops`)
	apply(t, f, &view.Batch{Entries: es, From: 1, To: 5})
	db := readDB(t, path)
	var seq int
	var msg string
	if err := db.QueryRow(`SELECT seq, error FROM sluice_rejects WHERE view = 'a'`).Scan(&seq, &msg); err != nil || seq != 3 || !strings.Contains(msg, "kv payload") {
		t.Fatalf("reject = %d %q %v", seq, msg, err)
	}
	if since(t, f, "a") != 5 || queryInt(t, db, `SELECT count(*) FROM a_log`) != 4 {
		t.Fatal("a rejected entry stopped the view")
	}
}

func TestIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	f := openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1})
	apply(t, f, backlog(1, 20))
	db := readDB(t, path)
	idx := func() int {
		return queryInt(t, db, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'a\_%' ESCAPE '\'`)
	}
	if idx() != 0 {
		t.Fatal("secondary index built before catch-up")
	}
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	if idx() != 1 || !f.Status()[0].IndexesBuilt {
		t.Fatalf("indexes after BuildIndexes: %d", idx())
	}
	f.Close()
	// Changing only the indexes keeps the rows and rebuilds the indexes.
	f = openFile(t, path, nil, &viewtest.KV{ViewName: "a", ViewVersion: 1, ExtraIndex: true})
	if since(t, f, "a") != 20 || f.Status()[0].IndexesBuilt || idx() != 0 {
		t.Fatalf("after an index change: since %d built %v indexes %d", since(t, f, "a"), f.Status()[0].IndexesBuilt, idx())
	}
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	if idx() != 2 {
		t.Fatalf("indexes = %d, want 2", idx())
	}
}

func TestBadViews(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	for _, vs := range [][]view.View{
		{&viewtest.KV{ViewName: "1bad", ViewVersion: 1}},
		{&viewtest.KV{ViewName: "a", ViewVersion: 1}, &viewtest.KV{ViewName: "a", ViewVersion: 2}},
	} {
		if _, err := view.OpenFile(path, vs, view.Options{}); err == nil {
			t.Fatalf("OpenFile(%v) accepted", vs)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused OpenFile created the file")
	}
}
