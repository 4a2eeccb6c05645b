package query

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Read is a table a statement reads: the file it is in and the view whose
// schema created it.
type Read struct {
	// File is the name the view file is attached under (File.Name).
	File string
	// Table is the table's name. Reads through an SQL view (CREATE VIEW)
	// name the tables under it.
	Table string
	// View is the sluice view that owns Table, or "" for a table no view
	// owns: sluice's meta tables (sluice_views, …) and sqlite_master.
	View string
}

// Reads returns the tables query reads, sorted by file and table: those
// SQLite's authorizer reports when the statement is prepared (every table
// a column is read from, every table scanned for count(*), with the schema
// it was found in), and every table whose b-tree, or one of whose indexes,
// the compiled program opens for reading (EXPLAIN's OpenRead), which
// catches what the authorizer is not told of, such as the right-hand
// table of a JOIN ... USING whose columns are not selected. It refuses a statement that would write
// (ErrWrite), as Query does. A statement that reads no view file, such as
// SELECT 1, reads nothing.
func (db *DB) Reads(ctx context.Context, query string) ([]Read, error) {
	if err := db.Check(query); err != nil {
		return nil, err
	}
	a, err := db.openAnalyzer(ctx)
	if err != nil {
		return nil, err
	}
	defer a.close()
	reads, _, err := a.reads(query)
	return reads, err
}

// analyzer prepares statements on a connection of its own with an
// authorizer that records the tables they read. Its methods are safe for
// concurrent use.
type analyzer struct {
	files []File

	mu   sync.Mutex
	conn *sqlite3.SQLiteConn
	seen map[[2]string]bool // (schema, table) pairs read; nil when not recording
}

// openAnalyzer opens an analyzer over db's files.
func (db *DB) openAnalyzer(ctx context.Context) (*analyzer, error) {
	c := &connector{files: db.files, d: &sqlite3.SQLiteDriver{}}
	dc, err := c.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("open views: %w", err)
	}
	a := &analyzer{files: db.files, conn: sqliteConn(dc)}
	a.conn.RegisterAuthorizer(func(action int, arg1, _, schema string) int {
		switch action {
		case sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH:
			return sqlite3.SQLITE_DENY
		case sqlite3.SQLITE_READ:
			// Called from inside Prepare, with mu held by reads.
			if a.seen != nil {
				a.seen[[2]string{schema, arg1}] = true
			}
		}
		return sqlite3.SQLITE_OK
	})
	return a, nil
}

func (a *analyzer) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		a.conn.Close()
		a.conn = nil
	}
}

// reads prepares query and reports the tables it reads, each with the view
// that owns it, and its number of parameters (-1 if unknown). The caller
// has checked that query does not write.
func (a *analyzer) reads(query string) ([]Read, int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return nil, 0, ErrClosed
	}
	a.seen = map[[2]string]bool{}
	st, err := a.conn.Prepare(query)
	seen := a.seen
	a.seen = nil
	if err != nil {
		return nil, 0, err
	}
	nparams := st.NumInput()
	st.Close()
	if err := a.opened(query, nparams, seen); err != nil {
		return nil, 0, fmt.Errorf("find the tables %q opens: %w", query, err)
	}
	var out []Read
	owners := map[string]map[string]string{} // file → table → view
	owner := func(file, table string) (string, bool, error) {
		own, ok := owners[file]
		if !ok {
			var err error
			if own, err = a.owners(file); err != nil {
				return "", false, fmt.Errorf("read the views of %s: %w", file, err)
			}
			owners[file] = own
		}
		v, ok := own[table]
		return v, ok, nil
	}
	for k := range seen {
		schema, table := k[0], k[1]
		if schema != "" {
			if !a.attached(schema) {
				continue // main or temp: nothing a view file holds
			}
			v, _, err := owner(schema, table)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, Read{File: schema, Table: table, View: v})
			continue
		}
		// SQLite names no schema for a table it only counts rows of
		// (count(*)): every file that has a table of that name is read,
		// as far as anyone can tell.
		for _, f := range a.files {
			v, ok, err := owner(f.Name, table)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				out = append(out, Read{File: f.Name, Table: table, View: v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Table < out[j].Table
	})
	return slices.Compact(out), nparams, nil
}

// opened adds to seen the (schema, table) of every table whose b-tree, or
// one of whose indexes' b-trees, the program of query opens for reading:
// the root pages of EXPLAIN's OpenRead (and ReopenIdx) instructions,
// mapped to tables through each schema's sqlite_master. nparams NULLs are
// bound to the parameters; EXPLAIN runs nothing. a.mu must be held.
func (a *analyzer) opened(query string, nparams int, seen map[[2]string]bool) error {
	st, err := a.conn.Prepare("EXPLAIN " + query)
	if err != nil {
		return err
	}
	defer st.Close()
	args := make([]driver.NamedValue, max(nparams, 0))
	for i := range args {
		args[i] = driver.NamedValue{Ordinal: i + 1}
	}
	type page struct {
		db   int64
		root int64
	}
	var pages []page
	_, err = queryRows(context.Background(), st, args, func(v []driver.Value) {
		op, _ := v[1].(string)
		root, _ := v[3].(int64)
		db, _ := v[4].(int64)
		if op == "OpenRead" || op == "ReopenIdx" {
			pages = append(pages, page{db, root})
		}
	})
	if err != nil || len(pages) == 0 {
		return err
	}
	schemas := map[int64]string{}
	err = scanRows(context.Background(), a.conn, `PRAGMA database_list`, func(v []driver.Value) {
		i, _ := v[0].(int64)
		name, _ := v[1].(string)
		schemas[i] = name
	})
	if err != nil {
		return err
	}
	tables := map[string]map[int64]string{} // schema → root page → table
	for _, p := range pages {
		schema := schemas[p.db]
		if !a.attached(schema) {
			continue // main or temp
		}
		roots, ok := tables[schema]
		if !ok {
			roots = map[int64]string{1: "sqlite_master"}
			err := scanRows(context.Background(), a.conn, fmt.Sprintf(`SELECT rootpage, tbl_name FROM %s.sqlite_master WHERE rootpage > 0`, quoteIdent(schema)), func(v []driver.Value) {
				root, _ := v[0].(int64)
				table, _ := v[1].(string)
				roots[root] = table
			})
			if err != nil {
				return err
			}
			tables[schema] = roots
		}
		if table, ok := roots[p.root]; ok {
			seen[[2]string{schema, table}] = true
		} else {
			return fmt.Errorf("root page %d of %s is no table's", p.root, schema)
		}
	}
	return nil
}

func (a *analyzer) attached(schema string) bool {
	for _, f := range a.files {
		if f.Name == schema {
			return true
		}
	}
	return false
}

// owners maps the tables and SQL views of file to the sluice view that
// created them, and sqlite_master and sluice's meta tables to "", from
// sqlite_master and sluice_views.objects ("table NAME", "view NAME" lines).
func (a *analyzer) owners(file string) (map[string]string, error) {
	own := map[string]string{"sqlite_master": "", "sqlite_schema": ""}
	hasMeta := false
	err := scanRows(context.Background(), a.conn, fmt.Sprintf(`SELECT name FROM %s.sqlite_master WHERE type IN ('table', 'view')`, quoteIdent(file)), func(v []driver.Value) {
		name, _ := v[0].(string)
		own[name] = ""
		hasMeta = hasMeta || name == "sluice_views"
	})
	if err != nil || !hasMeta {
		return own, err
	}
	err = scanRows(context.Background(), a.conn, fmt.Sprintf(`SELECT name, objects FROM %s.sluice_views`, quoteIdent(file)), func(v []driver.Value) {
		name, _ := v[0].(string)
		objects, _ := v[1].(string)
		for _, o := range strings.Split(objects, "\n") {
			typ, obj, _ := strings.Cut(o, " ")
			if typ == "table" || typ == "view" {
				own[obj] = name
			}
		}
	})
	return own, err
}

// scanRows prepares query on conn, runs it and calls row for each row; the
// values are the driver's, valid until row returns.
func scanRows(ctx context.Context, conn *sqlite3.SQLiteConn, query string, row func([]driver.Value)) error {
	st, err := conn.Prepare(query)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = queryRows(ctx, st, nil, row)
	return err
}

// queryRows runs a prepared statement, calls row for each row and returns
// the column names.
func queryRows(ctx context.Context, st driver.Stmt, args []driver.NamedValue, row func([]driver.Value)) ([]string, error) {
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := rows.Columns()
	dest := make([]driver.Value, len(cols))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return cols, nil
			}
			return nil, err
		}
		row(dest)
	}
}
