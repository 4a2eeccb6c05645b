package query_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// kvWithView is the viewtest KV view plus an SQL view over its table, to
// check that reads through a CREATE VIEW name the tables under it.
type kvWithView struct{ viewtest.KV }

func (v *kvWithView) Schema() []string {
	return append(v.KV.Schema(), fmt.Sprintf(`CREATE VIEW %[1]s_latest AS SELECT k, v FROM %[1]s_kv`, v.ViewName))
}

// twoFiles makes dir/a.db (views a and b, b with an SQL view) and dir/c.db
// (view c), each with one entry applied, and opens them.
func twoFiles(t *testing.T) (*query.DB, string) {
	t.Helper()
	dir := t.TempDir()
	for name, views := range map[string][]view.View{
		"a": {&viewtest.KV{ViewName: "a", ViewVersion: 1}, &kvWithView{viewtest.KV{ViewName: "b", ViewVersion: 1}}},
		"c": {&viewtest.KV{ViewName: "c", ViewVersion: 1}},
	} {
		f, err := view.OpenFile(filepath.Join(dir, name+".db"), views, view.Options{})
		if err != nil {
			t.Fatal(err)
		}
		put(t, f, 1, "k", "v")
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := query.OpenDir(dir, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

// TestReads checks which tables, files and views the authorizer reports
// for statements of every shape, against lists written by hand.
func TestReads(t *testing.T) {
	db, _ := twoFiles(t)
	r := func(file, table, view string) query.Read { return query.Read{File: file, Table: table, View: view} }
	for _, tc := range []struct {
		sql  string
		want []query.Read
	}{
		{`SELECT 1`, nil},
		{`SELECT v FROM a_kv WHERE k = 'k'`, []query.Read{r("a", "a_kv", "a")}},
		{`SELECT count(*) FROM a_log`, []query.Read{r("a", "a_log", "a")}},
		{`SELECT count(*) FROM a.a_log, c.c_log`, []query.Read{r("a", "a_log", "a"), r("c", "c_log", "c")}},
		{`SELECT x.v FROM a_kv x JOIN c_kv y ON x.k = y.k`, []query.Read{r("a", "a_kv", "a"), r("c", "c_kv", "c")}},
		{`SELECT v FROM b_latest`, []query.Read{r("a", "b_kv", "b"), r("a", "b_latest", "b")}},
		{`SELECT count(*) FROM a_log`, []query.Read{r("a", "a_log", "a")}},
		{`WITH t AS (SELECT k FROM c_log) SELECT count(*) FROM t`, []query.Read{r("c", "c_log", "c")}},
		{`SELECT (SELECT max(seq) FROM a_log) AS m, (SELECT count(*) FROM b_kv WHERE k IN (SELECT k FROM c_kv))`, []query.Read{r("a", "a_log", "a"), r("a", "b_kv", "b"), r("c", "c_kv", "c")}},
		{`SELECT since FROM c.sluice_views`, []query.Read{r("c", "sluice_views", "")}},
		// Tables whose columns the statement does not name: the authorizer
		// is not told of all of them; the program opens them all.
		{`SELECT x.v FROM a_kv x JOIN c_kv y USING (k)`, []query.Read{r("a", "a_kv", "a"), r("c", "c_kv", "c")}},
		{`SELECT x.v FROM a_kv x NATURAL JOIN c_kv y`, []query.Read{r("a", "a_kv", "a"), r("c", "c_kv", "c")}},
		{`SELECT 1 FROM c_kv LIMIT 1`, []query.Read{r("c", "c_kv", "c")}},
		{`SELECT v FROM a_kv WHERE k = ? AND EXISTS (SELECT 1 FROM c_log WHERE seq > :n)`, []query.Read{r("a", "a_kv", "a"), r("c", "c_log", "c")}},
	} {
		got, err := db.Reads(context.Background(), tc.sql)
		if err != nil {
			t.Fatalf("Reads(%s): %v", tc.sql, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Reads(%s) =\n%v, want\n%v", tc.sql, got, tc.want)
		}
	}
	for _, bad := range []string{`DELETE FROM a_kv`, `ATTACH 'x.db' AS x`, `CREATE TEMP TABLE t(x)`} {
		if _, err := db.Reads(context.Background(), bad); !errors.Is(err, query.ErrWrite) {
			t.Errorf("Reads(%s) = %v, want ErrWrite", bad, err)
		}
	}
	if _, err := db.Reads(context.Background(), `SELECT nope FROM a_kv`); err == nil {
		t.Errorf("Reads of a bad column: no error")
	}
}
