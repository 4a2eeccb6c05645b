package sqlite

import (
	"strings"
	"testing"
)

// TestSandbox runs a view's kind of statements through the policy on a
// real connection: what a view's schema and writer need is allowed; what
// would reach another view's tables, another file, the file's settings or
// the transaction is refused when the statement is compiled.
func TestSandbox(t *testing.T) {
	c := openTest(t, `CREATE TABLE other(x); CREATE TABLE sluice_views(name)`)
	sb := &Sandbox{Create: true, Reserved: []string{"sluice_"}}
	c.SetAuthorizer(sb.Authorize)
	allowed := []string{
		`CREATE TABLE posts(seq INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT)`,
		`CREATE INDEX posts_text ON posts(text)`,
		`CREATE TRIGGER posts_t AFTER INSERT ON posts BEGIN UPDATE posts SET text = upper(text) WHERE seq = new.seq; END`,
		`CREATE VIEW posts_v AS SELECT * FROM posts`,
		`INSERT INTO posts(text) SELECT x FROM other`,
		`SAVEPOINT sp; RELEASE sp`,
		`SELECT json_extract('{"a":1}', '$.a'), count(*) FROM pragma_table_info('posts')`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT * FROM n`,
		`DROP VIEW posts_v`,
		// Its body is checked when a statement that fires it compiles.
		`CREATE TRIGGER t AFTER INSERT ON posts BEGIN DELETE FROM other; END`,
	}
	for _, q := range allowed {
		if err := c.Exec(q); err != nil {
			t.Fatalf("%s: %v (%s)", q, err, sb.Denied)
		}
	}
	refused := []struct{ sql, why string }{
		{`ATTACH DATABASE 'elsewhere.db' AS e`, "ATTACH"},
		{`DETACH DATABASE main`, "DETACH"},
		{`DELETE FROM other`, "other"},
		{`INSERT INTO sluice_views VALUES ('x')`, "sluice_views"},
		{`UPDATE other SET x = 1`, "other"},
		{`DROP TABLE other`, "other"},
		{`DROP TABLE IF EXISTS other`, "other"},
		{`ALTER TABLE other ADD COLUMN y`, "other"},
		{`CREATE INDEX other_x ON other(x)`, "other"},
		{`CREATE TEMP TRIGGER t AFTER INSERT ON main.other BEGIN SELECT 1; END`, "temporary"},
		{`CREATE TEMP TABLE t(x)`, "temporary"},
		{`CREATE TABLE sluice_mine(x)`, "reserved"},
		{`PRAGMA journal_mode=DELETE`, "PRAGMA journal_mode"},
		{`PRAGMA writable_schema=ON`, "PRAGMA writable_schema"},
		{`SELECT load_extension('x')`, "load_extension"},
		{`COMMIT`, "COMMIT"},
		{`BEGIN`, "BEGIN"},
		{`SAVEPOINT sluice_view`, "sluice"},
	}
	for _, r := range refused {
		sb.Denied = ""
		err := c.Exec(r.sql)
		if err == nil {
			t.Fatalf("%s was allowed", r.sql)
		}
		if r.why != "" && !strings.Contains(sb.Denied, r.why) {
			t.Fatalf("%s: refused (%v) but the reason is %q, want it to name %q", r.sql, err, sb.Denied, r.why)
		}
	}
	// The trigger writing another table was created (its body compiles
	// later), but fires only in statements that are refused.
	sb.Create = false
	if err := c.Exec(`INSERT INTO posts(text) VALUES ('a')`); err == nil {
		t.Fatal("an insert firing a trigger that writes another table was allowed")
	}
	if err := c.Exec(`CREATE TABLE later(x)`); err == nil {
		t.Fatal("a table was created outside the schema")
	}
}
