// Package sqlview loads views declared in SQL files, so that a user of the
// sluice CLI can define views without writing Go.
//
// A view file is plain SQL with a header line and three sections, each
// started by a comment line:
//
//	-- sluice:view name=posts version=1 local-ahead=yes
//	-- Anything else in comments is ignored.
//
//	-- sluice:schema
//	CREATE TABLE posts(seq INTEGER PRIMARY KEY, author TEXT, text TEXT);
//
//	-- sluice:indexes
//	CREATE INDEX posts_author ON posts(author);
//
//	-- sluice:apply
//	INSERT INTO posts(seq, author, text)
//	SELECT :seq, json_extract(:payload, '$.value.author'), json_extract(:payload, '$.value.content.text')
//	WHERE json_extract(:payload, '$.value.content.type') = 'post';
//
// schema creates the view's tables (required); indexes holds the indexes
// only readers need, built once the view has caught up (optional); apply
// holds the statements run for every entry, in order (required). They may
// use these named parameters:
//
//	:seq      the entry's seq (INTEGER)
//	:origin   'local' or 'remote' (TEXT)
//	:payload  the payload (TEXT; JSON for SSB messages and most logs)
//	:time     when the entry was appended, Unix milliseconds (INTEGER; NULL
//	          for sources that do not record it)
//
// A server that accepts tasks (see index.Indexer.Transact) runs a view's
// checks before it accepts a task of their kind:
//
//	-- sluice:check timer.start
//	SELECT 'a timer is already running' FROM timers WHERE owner = :scope AND running = 1;
//
// A check is a query; if it returns a row, the task is rejected for good,
// with the text of the row's first column as the reason. It sees the view's
// tables as they are after every task accepted before it, including the
// earlier tasks of the same batch. Its parameters:
//
//	:task_id  the task's id (TEXT)
//	:kind     its kind (TEXT)
//	:queue    its queue (TEXT)
//	:payload  its payload (TEXT, usually JSON)
//	:scope    its user's scope, e.g. 'user:7777' (TEXT)
//	:node     the device that sent it, 32 hex digits (TEXT)
//
// Checks must only read. Editing them does not rebuild the view.
//
// Changing version, or the text of any statement, rebuilds the view from
// the log. local-ahead=yes declares that the statements give the same
// tables whatever the order entries come in, so the indexer may apply a
// user's local entries ahead of a backlog (see package view).
//
// The statements are sandboxed (see view.Sandboxed): they may read any
// table of the view file, but write, create and drop only the view's own
// objects, and may not ATTACH or DETACH files, create temporary objects,
// begin or end transactions, run a PRAGMA that changes the file, or call
// load_extension. Load refuses a file with such a statement, naming the
// file, the line, the statement and what it tried; one whose target does
// not exist at load (DROP TABLE IF EXISTS of another view's table) is
// refused when the view file would run it, before anything changes.
//
// An entry for which a statement fails (malformed JSON, a constraint) is
// rejected: its statements' effects are undone, the error is recorded in
// sluice_rejects, and indexing goes on.
package sqlview
