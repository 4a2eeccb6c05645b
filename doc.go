// Package sluice embeds sluice in a Go program: one append-only log, the
// only writable source of truth, and SQLite views indexed from it in the
// background.
//
//	db, err := sluice.Open("data", sluice.Options{Views: []view.View{todos{}}})
//	...
//	defer db.Close()
//	seqs, err := db.AppendAndWait(ctx, log.Record{Origin: log.Local, Payload: p})
//	err = db.QueryRow(ctx, `SELECT count(*) FROM todos WHERE done = 0`).Scan(&n)
//
// Open creates what is missing in the directory — the log in DIR/log, the
// view files in DIR/views — and starts the indexer, which follows the log
// until Close. The Go views share the file DIR/views/app.db (one program,
// one file); each view declared in SQL (package view/sqlview) has a file of
// its own, DIR/views/NAME.db, as with the sluice command, so that the CLI's
// query, views and rebuild commands work on the same directory. Queries are
// read-only and see every view file of the DB, each attached under its file
// name (app, NAME).
//
// A user's own entries (log.Local) are applied ahead of a replicated
// backlog by the views that accept them (view.LocalAhead): WaitFor naming
// those views returns in milliseconds even while millions of entries are
// indexed (AppendAndWait waits for every view).
//
// When a view's Apply fails on an entry, Options.OnApplyError decides:
// view.StopOnError (the default) stops the indexer — Err then returns a
// *view.ApplyError naming the view and the entry, Done is closed, and every
// WaitFor returns that error — and view.RejectOnError records the entry in
// the view's sluice_rejects and goes on. A panic in a view's code (Apply,
// a Decoder's Decode, Open) is recovered as a *view.PanicError, its stack
// logged, and handled as that error. Notices (a view rebuilt and why, a
// full disk waited out) go to Options.Logger, stderr by default.
//
// A DB may also index a log it does not write (Options.Source: a log
// another process appends to, or an SSB log.offset read in place) and keep
// each view in a file of its own (Options.FilePerView), as sluice index
// --follow does: that command is a DB.
//
// For what the DB does not wrap, Log, Indexer, Files and QueryDB give the
// parts (packages log, index, view and query).
package sluice
