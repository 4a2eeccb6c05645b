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
	n.Rows, err = loadRows(filepath.Join(dir, "views", "chaos.db"))
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
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, origin, src, n, coalesce(scope, '') FROM entries ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read the chaos view %s: %w", path, err)
	}
	defer rows.Close()
	var rs []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Seq, &r.Origin, &r.Src, &r.N, &r.Scope); err != nil {
			return nil, fmt.Errorf("read the chaos view %s: %w", path, err)
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}
