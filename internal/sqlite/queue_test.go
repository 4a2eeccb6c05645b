package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

func openTest(t *testing.T, schema string) *Conn {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "t.db"), OpenReadWrite|OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Exec(schema); err != nil {
		t.Fatal(err)
	}
	return c
}

func prepare(t *testing.T, c *Conn, sql string) *Stmt {
	t.Helper()
	s, err := c.Prepare(sql)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func texts(t *testing.T, c *Conn, sql string) []string {
	t.Helper()
	q := prepare(t, c, sql)
	defer q.Close()
	rows, err := q.Query()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		out = append(out, rows.Text(0))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Rows of several statements run in the order they were appended, whichever
// statement's Exec runs them: the natural writer (append to add and done as
// entries come, Exec both at the end) cannot reorder entries.
func TestQueueKeepsOrderAcrossStatements(t *testing.T) {
	c := openTest(t, `CREATE TABLE todo(id INTEGER PRIMARY KEY, done INTEGER NOT NULL);
		CREATE TABLE trail(n INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT)`)
	add := prepare(t, c, `INSERT OR REPLACE INTO todo(id, done) VALUES (?, 0)`)
	done := prepare(t, c, `UPDATE todo SET done = 1 WHERE id = ?`)
	note := prepare(t, c, `INSERT INTO trail(what) VALUES (?)`)
	// done 1 before add 1: the todo must end not done. Had add's rows run
	// before done's, it would be done.
	done.Int(1)
	note.Text("done 1")
	add.Int(1)
	note.Text("add 1")
	add.Int(2)
	note.Text("add 2")
	done.Int(2)
	note.Text("done 2")
	if n := add.Pending(); n != 8 {
		t.Fatalf("Pending = %d, want the 8 rows of all statements", n)
	}
	if err := add.Exec(); err != nil {
		t.Fatal(err)
	}
	if err := done.Exec(); err != nil { // nothing left: a no-op
		t.Fatal(err)
	}
	if got := strings.Join(texts(t, c, `SELECT id || ':' || done FROM todo ORDER BY id`), " "); got != "1:0 2:1" {
		t.Fatalf("todo = %q, want 1:0 2:1", got)
	}
	if got := strings.Join(texts(t, c, `SELECT what FROM trail ORDER BY n`), ","); got != "done 1,add 1,add 2,done 2" {
		t.Fatalf("trail = %q", got)
	}
}

// A query sees the rows appended before it: they run first.
func TestQueryRunsEarlierRows(t *testing.T) {
	c := openTest(t, `CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)`)
	ins := prepare(t, c, `INSERT INTO kv VALUES (?, ?)`)
	get := prepare(t, c, `SELECT v FROM kv WHERE k = ?`)
	ins.Text("a")
	ins.Text("x")
	get.Text("a")
	rows, err := get.Query()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() || rows.Text(0) != "x" {
		t.Fatalf("the query did not see the row appended before it (err %v)", rows.Err())
	}
	rows.Close()
	// A query whose row is not the last one appended is refused, and the
	// queue is dropped.
	get.Text("a")
	ins.Text("b")
	ins.Text("y")
	if _, err := get.Query(); err == nil {
		t.Fatal("a query with another statement's row after its own was run")
	}
	if n := len(texts(t, c, `SELECT k FROM kv`)); n != 1 {
		t.Fatalf("kv has %d rows after a refused query, want 1", n)
	}
}

func TestQueueMistakes(t *testing.T) {
	c := openTest(t, `CREATE TABLE u(k TEXT PRIMARY KEY); CREATE TABLE v(a, b)`)
	u := prepare(t, c, `INSERT INTO u VALUES (?)`)
	v := prepare(t, c, `INSERT INTO v VALUES (?, ?)`)

	// A value for u in the middle of a row of v.
	v.Text("a")
	u.Text("k")
	v.Text("b")
	err := u.Exec()
	if err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("interleaved rows: %v", err)
	}
	if n := len(texts(t, c, `SELECT k FROM u UNION ALL SELECT a FROM v`)); n != 0 {
		t.Fatalf("%d rows written by a refused queue", n)
	}

	// An error names the failing statement and its row in the queue; rows
	// before it ran, the rest are dropped.
	u.Text("a")
	v.Text("1")
	v.Text("2")
	u.Text("a") // duplicate key
	v.Text("3")
	v.Text("4")
	err = v.Exec()
	if !IsConstraint(err) || !strings.Contains(err.Error(), "row 3 of 4") || !strings.Contains(err.Error(), "INSERT INTO u") {
		t.Fatalf("duplicate key: %v", err)
	}
	if got := strings.Join(texts(t, c, `SELECT k FROM u UNION ALL SELECT a || b FROM v`), ","); got != "a,12" {
		t.Fatalf("after the failed row: %q, want a,12", got)
	}

	// Discard drops the queue.
	u.Text("z")
	c.Discard()
	if err := c.Exec(`SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if n := len(texts(t, c, `SELECT k FROM u WHERE k = 'z'`)); n != 0 {
		t.Fatal("a discarded row ran")
	}

	// Closing a statement with queued rows runs them first.
	u.Text("c")
	u.Close()
	if n := len(texts(t, c, `SELECT k FROM u WHERE k = 'c'`)); n != 1 {
		t.Fatal("a closed statement's queued row was lost")
	}
}

// BenchmarkInsertInterleaved is BenchmarkInsertBinding with, after each
// message row, a row for a second statement (a link): the SSB writer's
// pattern. Rows of both wait in the connection's queue and run, in order,
// in one C call per 1000 messages; compare its rows/s with
// BenchmarkInsertBinding's.
func BenchmarkInsertInterleaved(b *testing.B) {
	c, err := Open(filepath.Join(b.TempDir(), "b.db"), OpenReadWrite|OpenCreate)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(benchSchema + `; CREATE TABLE l(from_seq INTEGER NOT NULL, to_key TEXT NOT NULL, rel TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	ins, _ := c.Prepare(`INSERT INTO m VALUES (?,?,?,?,?,?,?,?,?)`)
	link, _ := c.Prepare(`INSERT INTO l VALUES (?,?,?)`)
	b.ResetTimer()
	c.Exec("BEGIN")
	for i := 0; i < b.N; i++ {
		benchRow(ins, i)
		link.Int(int64(i + 1))
		link.Text(benchKey(i / 2))
		link.Text("root")
		if ins.Pending() == 2000 {
			if err := ins.Exec(); err != nil {
				b.Fatal(err)
			}
		}
		if i%50000 == 49999 {
			c.Exec("COMMIT")
			c.Exec("BEGIN")
		}
	}
	if err := ins.Exec(); err != nil {
		b.Fatal(err)
	}
	c.Exec("COMMIT")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}
