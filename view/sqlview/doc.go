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
// # Optimistic writes and authority
//
// A view can show a user's action at once, before the server has it, and
// settle it when the server answers (seed 000's AUTHORITY column). The
// action is a task entry (see view.ParseTask for the entry formats); three
// sections, each for one kind of task, say what it does to the tables:
//
//	-- sluice:optimistic reaction.add   a task this device appended (a local task entry)
//	-- sluice:result reaction.add       the server's result for a task of this kind
//	-- sluice:rollback reaction.add     the task is settled: failed, cancelled, or succeeded
//	                                    (after its results): remove its optimistic rows
//
// A kind with optimistic statements and no result section runs its
// optimistic statements for its results too (with :authority 1): the usual
// case, where the result writes the rows the task showed. Their statements
// may use :seq, :origin, :time, :scope (the entry's scope,
// e.g. the user) and
//
//	:payload    the task's payload (optimistic) or the result's (result), JSON; NULL if none
//	:entry      the whole entry
//	:task       the task's identity everywhere: NODE/ID (ids are unique per device only)
//	:task_id    its id; :node the device that appended it (32 hex digits)
//	:kind       its kind; :queue its queue ('' if the entry does not say)
//	:authority  0 (optimistic) or 1 (authoritative, a result)
//	:outcome    for rollback: 'succeeded', 'failed' or 'cancelled'
//	:reason     for rollback: why the task failed
//
// The rule, which the statements implement (see testdata/views/reactions.sql):
// a row is tagged with the task and the authority that wrote it; it is
// replaced only by a higher authority, or by the same authority from a later
// entry (ON CONFLICT ... DO UPDATE ... WHERE excluded.authority > t.authority
// OR (excluded.authority = t.authority AND excluded.seq > t.seq)); rollback
// deletes the task's rows of authority 0. An authoritative row is thus never
// overwritten by an optimistic one, and the server's entries tell the
// authoritative state: a failed task's rows are removed, not restored.
//
// So that the tables are the same whatever order entries are applied in
// (local entries go ahead of a backlog), the view keeps two tables of its
// own, NAME__pending and NAME__settled: an optimistic entry of a task
// already settled (its cancel was applied first) writes nothing, and
// settling a task runs the optimistic statements of the tasks still pending
// again, so a row the settled task had replaced comes back. Optimistic
// statements must therefore be idempotent upserts under the rule above. A
// file with authority sections needs no apply section.
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
