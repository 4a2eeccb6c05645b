package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The row shape of the SSB messages table: what the view writers insert
// most. These benchmarks compare this package's batched Exec with a
// database/sql prepared statement over github.com/mattn/go-sqlite3, on the
// same table, so the binding's reason to exist stays measured.
const benchSchema = `PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;
CREATE TABLE m(seq INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, author_id INTEGER NOT NULL, sequence INTEGER NOT NULL,
  claimed_ts REAL, received_ts REAL, type TEXT, is_private INTEGER NOT NULL, content TEXT)`

var benchContent = `{"type":"post","text":"` + strings.Repeat("lorem ipsum ", 40) + `"}`

func benchKey(i int) string { return fmt.Sprintf("%%%043d=.sha256", i*7919%1000003) }

func BenchmarkInsertBinding(b *testing.B) {
	c, err := Open(filepath.Join(b.TempDir(), "b.db"), OpenReadWrite|OpenCreate)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec(benchSchema); err != nil {
		b.Fatal(err)
	}
	ins, _ := c.Prepare(`INSERT INTO m VALUES (?,?,?,?,?,?,?,?,?)`)
	b.ResetTimer()
	c.Exec("BEGIN")
	for i := 0; i < b.N; i++ {
		benchRow(ins, i)
		if ins.Pending() == 1000 {
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchRow appends the parameters of message row i to ins.
func benchRow(ins *Stmt, i int) {
	ins.Int(int64(i + 1))
	ins.Text(benchKey(i))
	ins.Int(int64(i % 1000))
	ins.Int(int64(i / 1000))
	ins.Float(1.7e12 + float64(i))
	ins.Float(1.7e12 + float64(i) + 0.001)
	ins.Text("post")
	ins.Int(0)
	ins.Text(benchContent)
}

func BenchmarkInsertDatabaseSQL(b *testing.B) {
	db, err := sql.Open("sqlite3", filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(benchSchema); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	tx, _ := db.Begin()
	ins, _ := tx.Prepare(`INSERT INTO m VALUES (?,?,?,?,?,?,?,?,?)`)
	for i := 0; i < b.N; i++ {
		_, err := ins.Exec(int64(i+1), benchKey(i), int64(i%1000), int64(i/1000), 1.7e12+float64(i), 1.7e12+float64(i)+0.001, "post", 0, benchContent)
		if err != nil {
			b.Fatal(err)
		}
		if i%50000 == 49999 {
			tx.Commit()
			tx, _ = db.Begin()
			ins, _ = tx.Prepare(`INSERT INTO m VALUES (?,?,?,?,?,?,?,?,?)`)
		}
	}
	tx.Commit()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
