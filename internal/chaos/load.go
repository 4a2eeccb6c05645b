package chaos

import (
	"bytes"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3" // the view files
	"github.com/sluicedb/sluice/log"
)

// viewSQL is the chaos view every node keeps: one row per workload entry.
//
//go:embed chaos.sql
var viewSQL string

// loadNode reads the log and the chaos view of the node in dir (its
// processes stopped or not: it takes no lock).
func loadNode(dir, name string, scopes []string) (NodeHistory, error) {
	n := NodeHistory{Name: name, Scopes: scopes}
	var err error
	if n.Node, n.Entries, err = loadLog(dir); err != nil {
		return n, fmt.Errorf("load %s: %w", name, err)
	}
	views := filepath.Join(dir, "views")
	if n.Rows, err = loadRows(filepath.Join(views, "chaos.db")); err != nil {
		return n, fmt.Errorf("load %s: %w", name, err)
	}
	err = errors.Join(
		query(filepath.Join(views, "tasks.db"), `SELECT task_id, queue, kind, seq, state, stuck, coalesce(last_error, '') FROM tasks ORDER BY seq`,
			func(sc scanner) error {
				var r TaskRow
				err := sc.Scan(&r.ID, &r.Queue, &r.Kind, &r.Seq, &r.State, &r.Stuck, &r.Error)
				n.Tasks = append(n.Tasks, r)
				return err
			}),
		query(filepath.Join(views, "handled_tasks.db"), `SELECT node, task_id, queue, kind, seq, outcome FROM handled_tasks ORDER BY answer_seq`,
			func(sc scanner) error {
				var r TaskRow
				err := sc.Scan(&r.Node, &r.ID, &r.Queue, &r.Kind, &r.Seq, &r.Outcome)
				n.Handled = append(n.Handled, r)
				return err
			}),
		query(filepath.Join(views, "chaostasks.db"), `SELECT key, v, authority, task, scope FROM items ORDER BY key`,
			func(sc scanner) error {
				var r ItemRow
				err := sc.Scan(&r.Key, &r.V, &r.Authority, &r.Task, &r.Scope)
				n.Items = append(n.Items, r)
				return err
			}))
	if err != nil {
		return n, fmt.Errorf("load %s: %w", name, err)
	}
	return n, nil
}

// loadLog reads the log in dir/log: its node and its entries.
func loadLog(dir string) (log.NodeID, []log.Entry, error) {
	r, err := log.OpenReader(filepath.Join(dir, "log"))
	if err != nil {
		return log.NodeID{}, nil, err
	}
	defer r.Close()
	it, err := r.Iter(1)
	if err != nil {
		return log.NodeID{}, nil, err
	}
	defer it.Close()
	var es []log.Entry
	for it.Next() {
		e := it.Entry()
		e.Payload = bytes.Clone(e.Payload)
		es = append(es, e)
	}
	if err := it.Err(); err != nil {
		return log.NodeID{}, nil, fmt.Errorf("read the log: %w", err)
	}
	return r.Node(), es, nil
}

// loadRows reads the chaos view's rows from its file, by seq (none if the
// file is not there).
func loadRows(path string) ([]Row, error) {
	var rs []Row
	err := query(path, `SELECT seq, origin, src, n, coalesce(scope, '') FROM entries ORDER BY seq`, func(sc scanner) error {
		var r Row
		err := sc.Scan(&r.Seq, &r.Origin, &r.Src, &r.N, &r.Scope)
		rs = append(rs, r)
		return err
	})
	return rs, err
}

type scanner interface{ Scan(dest ...any) error }

// query runs q on the view file at path, read-only, calling row for each
// row; a file that is not there has no rows.
func query(path, q string, row func(scanner) error) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
