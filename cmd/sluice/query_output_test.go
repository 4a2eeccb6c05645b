package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kvViewSQL is a small SQL view for query tests: one row per entry.
const kvViewSQL = `-- sluice:view name=kv version=1
-- sluice:schema
CREATE TABLE kv(seq INTEGER PRIMARY KEY, k TEXT, v TEXT);
-- sluice:apply
INSERT INTO kv SELECT :seq, json_extract(:payload, '$.k'), json_extract(:payload, '$.v');
`

// kvDir returns a sluice dir whose log holds n entries {"k":"kI","v":"vI"}
// (I from 1) and whose kv view (kvViewSQL) shows them.
func kvDir(t *testing.T, entries ...string) string {
	t.Helper()
	dir := t.TempDir()
	def := filepath.Join(dir, "kv.sql")
	if err := os.WriteFile(def, []byte(kvViewSQL), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, strings.Join(entries, "\n"), "append")
	ok(t, dir, "", "index", "--view", def)
	return dir
}

// TestQueryOutput checks how --json and --csv print what JSON has no
// literal for, and repeated column names; expected outputs are written out
// by hand.
func TestQueryOutput(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	cases := []struct {
		name, q   string
		json, csv string
	}{
		{"infinite floats", `SELECT 1e999 AS a, -1e999 AS b, 1.5 AS c`,
			"[\n  {\"a\": \"Infinity\", \"b\": \"-Infinity\", \"c\": 1.5}\n]\n", "a,b,c\nInfinity,-Infinity,1.5\n"},
		// A blob is base64 in an object whatever its bytes: valid UTF-8 or not.
		{"blobs", `SELECT x'6869' AS text_bytes, x'00ff' AS binary, 'hi' AS text, NULL AS n`,
			"[\n  {\"text_bytes\": {\"$base64\": true, \"encoded\": \"aGk=\"}, \"binary\": {\"$base64\": true, \"encoded\": \"AP8=\"}, \"text\": \"hi\", \"n\": null}\n]\n",
			"text_bytes,binary,text,n\nx'6869',x'00ff',hi,\n"},
		{"repeated names", `SELECT 1 AS a, 2 AS a, 3 AS a_2, 4 AS a`,
			"[\n  {\"a\": 1, \"a_3\": 2, \"a_2\": 3, \"a_4\": 4}\n]\n", "a,a_3,a_2,a_4\n1,2,3,4\n"},
		{"a join", `SELECT x.seq, y.seq FROM kv x JOIN kv y USING (seq)`,
			"[\n  {\"seq\": 1, \"seq_2\": 1}\n]\n", "seq,seq_2\n1,1\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ok(t, dir, "", "query", "--json", c.q); got != c.json {
				t.Errorf("--json printed\n%s\nwant\n%s", got, c.json)
			}
			if got := ok(t, dir, "", "query", "--csv", c.q); got != c.csv {
				t.Errorf("--csv printed\n%s\nwant\n%s", got, c.csv)
			}
		})
	}
	// The table prints infinities and blobs the same way.
	if got := ok(t, dir, "", "query", `SELECT 1e999 AS a, x'00ff' AS b`); strings.Fields(got)[2] != "Infinity" || strings.Fields(got)[3] != "x'00ff'" {
		t.Errorf("table printed %q", got)
	}
}

// TestQueryFailsWhole: a query that fails after some rows were produced
// prints nothing on stdout with --json and --csv (not half a document),
// and the error on stderr; also once the output has moved from memory to
// a temporary file. (Before: "[\n  {" and then the error.)
func TestQueryFailsWhole(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	// Rows 1..2000, then abs() of the smallest integer overflows.
	q := `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2001)
	      SELECT x, CASE WHEN x <= 2000 THEN x ELSE abs(-9223372036854775807 - 1) END AS y FROM c`
	defer func(n int) { spillAt = n }(spillAt)
	for _, spill := range []int{spillAt, 1 << 10} {
		spillAt = spill
		for _, format := range []string{"--json", "--csv"} {
			r := sluice(t, dir, "", "query", format, q)
			if r.code != 1 || r.out != "" || !strings.Contains(r.err, "integer overflow") {
				t.Fatalf("%s (output held in memory up to %d bytes) of a query failing at row 2001: exit %d, stdout %.80q, stderr %q", format, spill, r.code, r.out, r.err)
			}
		}
		// Without the failing row, the whole result prints.
		okq := strings.Replace(q, "x < 2001", "x < 2000", 1)
		var rows []struct{ X, Y int }
		if err := json.Unmarshal([]byte(ok(t, dir, "", "query", "--json", okq)), &rows); err != nil || len(rows) != 2000 || rows[1999].Y != 2000 {
			t.Fatalf("--json of 2000 rows (spill at %d): %d rows, %v", spill, len(rows), err)
		}
		recs, err := csv.NewReader(strings.NewReader(ok(t, dir, "", "query", "--csv", okq))).ReadAll()
		if err != nil || len(recs) != 2001 || recs[2000][1] != "2000" {
			t.Fatalf("--csv of 2000 rows (spill at %d): %d records, %v", spill, len(recs), err)
		}
	}
}

// TestQueryStatementEnd: a trailing semicolon, whitespace or comment is
// not a second statement; a second statement is refused, saying so.
// (Before: "SELECT 1; -- c" was refused as two statements.)
func TestQueryStatementEnd(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	for _, q := range []string{"SELECT count(*) FROM kv; -- how many", "SELECT count(*) FROM kv -- how many", "SELECT count(*) FROM kv;\n/* done */\n"} {
		if got := ok(t, dir, "", "query", "--csv", q); got != "count(*)\n1\n" {
			t.Errorf("query %q printed %q", q, got)
		}
	}
	if r := sluice(t, dir, "", "query", "SELECT 1; SELECT 2"); r.code != 1 || !strings.Contains(r.err, "more than one statement") {
		t.Errorf("two statements: %+v", r)
	}
}

// TestQueryTableControlBytes: the table escapes what would act on a
// terminal or break the alignment — the byte 0xff (text/tabwriter's escape
// character; non-UTF-8 text reaches views from SSB logs and Go programs),
// ESC, tabs, newlines, a bidi override — so every row is aligned and holds
// no control character; --json and --csv stay exact. (Before: the rows
// between two 0xff bytes lost their alignment and printed raw tabs, and
// ESC went to the terminal raw.) Expected output written by hand.
func TestQueryTableControlBytes(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	q := `SELECT CAST(x'ff41' AS TEXT) AS a, 1 AS b UNION ALL SELECT 'xyz', 2 UNION ALL SELECT CAST(x'ff' AS TEXT), 3 ` +
		`UNION ALL SELECT char(27) || '[31mred', 4 UNION ALL SELECT 'a' || char(9) || 'b' || char(10) || 'c', 5 ` +
		`UNION ALL SELECT 'é' || char(8238) || 'x\y', 6`
	// The widest cell, \x1b[31mred, is 11 runes; tabwriter pads to 13.
	want := "a            b\n" +
		`\xffA        1` + "\n" +
		"xyz          2\n" +
		`\xff         3` + "\n" +
		`\x1b[31mred  4` + "\n" +
		`a\tb\nc      5` + "\n" +
		`é\u202ex\y   6` + "\n"
	if got := ok(t, dir, "", "query", q); got != want {
		t.Errorf("table printed\n%s\nwant\n%s", got, want)
	}
	// CSV keeps the bytes.
	if got := ok(t, dir, "", "query", "--csv", `SELECT CAST(x'ff1b' AS TEXT) AS a`); got != "a\n\xff\x1b\n" {
		t.Errorf("--csv printed %q", got)
	}
}
