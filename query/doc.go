// Package query is sluice's read side: read-only connections over view
// files, each attached under its file name without .db (views/ssb.db as
// "ssb", views/app.db as "app"), so that tables of different files can be
// joined, and WaitFor for read-your-writes. A table whose name no other
// file uses can be named alone.
//
//	db, err := query.OpenDir("data/views", query.Options{})
//	...
//	defer db.Close()
//	seq := ... // from log.Append
//	if err := db.WaitFor(ctx, seq); err != nil { ... }
//	rows, err := db.Query(ctx, `SELECT type, count(*) FROM messages GROUP BY type`)
//	err = db.QueryRow(ctx, `SELECT count(*) FROM ssb.authors`).Scan(&n)
//
// A query can never write: statements that would are refused before they
// run, and the connections are read-only besides (PRAGMA query_only).
//
// Live queries (Live, Subscribe, Subscription.Next) deliver a query's result
// again whenever a view file it reads has changed it, even when the indexer
// is another process; each Result says which entries of each view it
// reflects. DB.Reads tells which tables, files and views a statement reads,
// for watching them and for access checks (sluice serve's /v1/query).
package query
