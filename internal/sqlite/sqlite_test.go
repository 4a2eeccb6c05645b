package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestExecRowsAndQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	c, err := Open(path, OpenReadWrite|OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(`CREATE TABLE t(i INTEGER, f REAL, s TEXT, b BLOB, n)`); err != nil {
		t.Fatal(err)
	}
	ins, err := c.Prepare(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	if ins.NumParams() != 5 {
		t.Fatalf("NumParams = %d", ins.NumParams())
	}
	c.Exec("BEGIN")
	for i := 0; i < 1000; i++ {
		ins.Int(int64(i))
		ins.Float(float64(i) + 0.5)
		ins.Text(strings.Repeat("é", i%5))
		ins.Blob([]byte{byte(i)})
		ins.Null()
	}
	if ins.Pending() != 1000 {
		t.Fatalf("Pending = %d", ins.Pending())
	}
	if err := ins.Exec(); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec("COMMIT"); err != nil {
		t.Fatal(err)
	}
	// Check through database/sql (mattn), an independent reader.
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, sumI int64
	var sumF float64
	var empties, nulls int
	err = db.QueryRow(`SELECT count(*), sum(i), sum(f), sum(s = ''), sum(n IS NULL) FROM t`).Scan(&n, &sumI, &sumF, &empties, &nulls)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000 || sumI != 999*1000/2 || sumF != float64(999*1000/2)+500 || empties != 200 || nulls != 1000 {
		t.Fatalf("got n=%d sumI=%d sumF=%v empties=%d nulls=%d", n, sumI, sumF, empties, nulls)
	}
	// Query through this package.
	q, err := c.Prepare(`SELECT i, s, f FROM t WHERE i >= :min ORDER BY i LIMIT 3`)
	if err != nil {
		t.Fatal(err)
	}
	if q.ParamName(0) != ":min" || !q.ReadOnly() || ins.ReadOnly() {
		t.Fatalf("ParamName %q ReadOnly %v %v", q.ParamName(0), q.ReadOnly(), ins.ReadOnly())
	}
	q.Int(998)
	rows, err := q.Query()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for rows.Next() {
		got = append(got, rows.Int(0))
		if rows.Text(1) != strings.Repeat("é", int(rows.Int(0))%5) {
			t.Fatalf("text %q", rows.Text(1))
		}
	}
	if rows.Err() != nil || len(got) != 2 || got[0] != 998 {
		t.Fatalf("rows %v %v", got, rows.Err())
	}
}

func TestExecErrors(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "t.db"), OpenReadWrite|OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(`CREATE TABL x`); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("bad SQL: %v", err)
	}
	if _, err := c.Prepare(`SELECT 1; SELECT 2`); err == nil {
		t.Fatal("two statements prepared as one")
	}
	c.Exec(`CREATE TABLE u(k TEXT PRIMARY KEY)`)
	s, _ := c.Prepare(`INSERT INTO u VALUES (?)`)
	s.Text("a")
	s.Text("b")
	s.Text("a")
	s.Text("c")
	err = s.Exec()
	if !IsConstraint(err) || !strings.Contains(err.Error(), "row 3 of 4") {
		t.Fatalf("duplicate key: %v", err)
	}
	// The earlier rows ran, the rest were dropped: not run, and not run by
	// the next Exec either.
	if got := readColumn(t, c, `SELECT k FROM u ORDER BY k`); got != "a b" {
		t.Fatalf("after row 3 of 4 failed, u holds %q, want the 2 rows before it: \"a b\"", got)
	}
	if n := s.Pending(); n != 0 {
		t.Fatalf("Pending = %d after a failed Exec, want 0", n)
	}
	s.Text("d")
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	if got := readColumn(t, c, `SELECT k FROM u ORDER BY k`); got != "a b d" {
		t.Fatalf("the Exec after a failed one: u holds %q, want \"a b d\"", got)
	}
	c.Exec(`CREATE TABLE v(a, b)`)
	s2, _ := c.Prepare(`INSERT INTO v VALUES (?, ?)`)
	s2.Text("x")
	s2.Text("y")
	s2.Text("z")
	if err := s2.Exec(); err == nil || !strings.Contains(err.Error(), "3 parameter values for a statement with 2 parameters") {
		t.Fatalf("wrong parameter count: %v", err)
	}
	if got := readColumn(t, c, `SELECT a || b FROM v`); got != "" || s2.Pending() != 0 {
		t.Fatalf("a refused Exec ran rows (v holds %q) or kept them (%d pending)", got, s2.Pending())
	}
}

// readColumn returns the first column of the rows q selects, read through
// database/sql (an independent reader), joined by spaces.
func readColumn(t *testing.T, c *Conn, q string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+c.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var vals []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(vals, " ")
}
