package viewtest

import (
	"database/sql"
	"fmt"
	"sort"
	"strings"

	_ "github.com/mattn/go-sqlite3" // database/sql driver for Dump
)

// Dump returns the contents of every table and view of the SQLite file at
// path (sluice's meta tables excluded), rows sorted, so that two files can
// be compared whatever order their rows were written in. The CREATE
// statements of tables and indexes come first.
func Dump(path string) (string, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type, name, ifnull(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sluice\_%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY type, name`)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	var tables []string
	for rows.Next() {
		var typ, name, def string
		if err := rows.Scan(&typ, &name, &def); err != nil {
			rows.Close()
			return "", err
		}
		fmt.Fprintf(&out, "%s %s: %s\n", typ, name, strings.Join(strings.Fields(def), " "))
		if typ == "table" || typ == "view" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, t := range tables {
		lines, err := dumpTable(db, t)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "== %s (%d rows)\n%s", t, len(lines), strings.Join(lines, ""))
	}
	return out.String(), nil
}

func dumpTable(db *sql.DB, table string) ([]string, error) {
	rows, err := db.Query(fmt.Sprintf(`SELECT * FROM "%s"`, table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var lines []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v", cols[i], v)
		}
		b.WriteByte('\n')
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return lines, rows.Err()
}

// Diff returns the first lines where two dumps differ, or "".
func Diff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(la), len(lb)) && len(out) < 10; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n  - %s\n  + %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}
