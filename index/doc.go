// Package index is sluice's indexer: it reads a log once, in batches, and
// applies every batch to the views of one or more view files, decoding on
// one goroutine while SQLite writes on another.
//
// Local entries come first: between batches of a backlog, entries a user
// appended locally are applied ahead to the views that accept them, so they
// show in milliseconds even while millions of replicated entries are being
// indexed; the backlog keeps a tunable share of the time, so it still
// finishes. A view file far behind the log is written in bulk mode (no
// fsync, secondary indexes built once it has caught up).
//
//	ix, err := index.New(src, []*view.File{f}, index.Options{})
//	...
//	err = ix.SynchronizeUpTo(ctx, 0) // up to the log's end; or Run to follow it
//
// On a machine with few cores, run a following indexer with GOMAXPROCS of
// at least 4 (sluice index --follow does): its decoding and writing
// goroutines keep two Ps busy, and with no spare P the goroutine that
// notices new local entries can wait up to Go's 10 ms time slice to run.
//
// Before indexing, a view whose progress does not match the log (its since
// is past the log's end, or its last applied entry is not the log's entry
// at that seq: the log was replaced or cut back) is rebuilt, not trusted.
// An error from the log itself (Last, an iterator: a corrupt or lost entry)
// stops the indexer with that error; no view is rebuilt for it.
//
// Transact is for a server that accepts tasks: it runs a function with
// every view caught up to the log's end and the log's appends held, applies
// the records the function stages to the views as it goes (so the views'
// checks see them), appends them in one atomic Append and only then commits
// the views. Nothing is appended if the function fails.
//
// When indexing stops with an error — a view's Apply failed (a
// *view.ApplyError, see view.ErrorPolicy), the log could not be read — Run
// and SynchronizeUpTo return it, Err reports it, and every WaitFor waiting
// returns it at once. A full disk does not stop Run: it says so
// (Options.Logger), waits and tries again.
package index
