// Package query is sluice's read side: read-only connections over view
// files, attached under their view names so that views can be joined, and
// WaitFor for read-your-writes.
//
//	db, err := query.OpenDir("data/views", query.Options{})
//	...
//	defer db.Close()
//	seq := ... // from log.Append
//	if err := db.WaitFor(ctx, seq); err != nil { ... }
//	rows, err := db.Query(ctx, `SELECT type, count(*) FROM messages GROUP BY type`)
//
// A query can never write: statements that would are refused before they
// run, and the connections are read-only besides (PRAGMA query_only).
package query
