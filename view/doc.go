// Package view holds the View contract and view files: SQLite databases (WAL
// mode) holding one or more views, each a set of tables kept up to date from
// a log and rebuildable from it at any time.
//
// A view file keeps, per view, a row in sluice_views: the view's version and
// schema fingerprint, its since (every entry up to it is applied), the last
// entry applied in seq order and its checksum; and in sluice_ahead the local
// entries it applied ahead of since. Rows and meta change in the same
// transaction, so a crash never duplicates or loses an entry. OpenFile
// rebuilds a view whose version or schema changed, and moves aside a file
// that is foreign, damaged (SQLite says so, or PRAGMA quick_check fails),
// or was written without fsync (bulk mode) before the operating system went
// down. The check runs only on a file that was not closed cleanly: Close
// leaves a mark that OpenFile removes. An I/O error or a full disk is an
// error, never a reason to move a file aside; of the copies moved aside,
// the newest three are kept.
//
// An entry a view cannot index is rejected: recorded in sluice_rejects,
// and skipped. That is what happens to an entry a view's Decoder refuses,
// one its writer passes to Tx.Reject, and, in views declared in SQL, one a
// statement fails on. When a Go writer's Apply returns an error, the file's
// ErrorPolicy decides (Options.OnError): by default (StopOnError) the
// transaction is rolled back and the file fails with an *ApplyError naming
// the view and the entry, which stops the indexer; RejectOnError rejects
// the entry for that view and goes on. Errors of the database itself (a
// full disk, I/O errors) always stop.
//
// Views are written in Go (implement View, and optionally Decoder,
// LocalAhead, Fingerprinter; the built-in SSB view set is package
// view/ssb) or declared in SQL files (package view/sqlview). A Go view
// whose Decoder returns values of one type T can write its writer for
// Typed: its Apply then gets []TypedItem[T], each value a T, with no type
// assertion on Item.Value (see ExampleTyped).
//
// Typed costs nothing measurable (go test -run '^$' -bench Typed ./view,
// the two sides run alternately five times each, medians; 2 shared cores,
// load average 5.2-5.8): indexing 20,000 KV entries in batches of 1,000
// (BenchmarkTypedApply) took 121 ms asserting the values and 133 ms
// through Typed, the ratio of each round's pair ranging 0.73-1.30 (median
// 0.85): noise. What Typed adds alone (BenchmarkTypedWriterOnly, a writer
// that writes nothing) is 8.5 µs per batch of 1,000 items, 8.5 ns an
// entry, against the about 6 µs an entry that a KV Apply spends in SQLite
// (0.15%). The built-in views keep their assertions: they gain nothing. The indexer
// (package index) drives a File; readers use package query, or any SQLite
// client.
//
//	f, err := view.OpenFile("views/app.db", []view.View{myView{}}, view.Options{})
//	...
//	defer f.Close()
//	err = f.Apply(ctx, &view.Batch{Entries: entries, From: 1, To: 100})
package view
