// Package replicate is what crosses the network between sluice nodes: a
// Server that serves a node's log over HTTP, a Client that pulls peers'
// logs into the local one, tokens and scopes that say who reads what, and
// the local socket through which other processes append to a log whose
// writer runs elsewhere.
//
// # Identity and exactly once
//
// An entry keeps its identity (log.ID: the node that first appended it and
// its seq there) wherever it is replicated. A pulled entry is appended as
// a remote entry with its author, and with Via (the peer and its seq there)
// when the peer is not its author. The Client keeps the set of IDs its log
// holds and skips any entry already there — its own coming back, or one
// that arrived by another path (A→B→C and A→C) — and it finds its position
// in each peer's log from the log itself (the Via or author seqs it holds).
// Both are rebuilt from the log when a Client starts, so a kill -9 of
// either side at any moment resumes with no gap and no duplicate. The state
// file (peers.json) saves positions past entries that were skipped; it is
// written only once what it covers is durable.
//
// Pulled entries are appended without an fsync of their own
// (log.Log.AppendNoSync), whatever the log's durability: they survive a
// kill -9, become durable with the next Append that syncs, and a power loss
// that cuts them off only means pulling them again (the position comes
// from the log). So a device's own appends (a task, its task.send) do not
// wait behind the fsync of a pull, and an answer pulled is visible to the
// indexer without one.
//
// # Protocol (HTTP/1.1, under /v1)
//
//	GET /v1/status      JSON Status: node id, last seq, clock
//	GET /v1/entries     the entries after a position that the token may read:
//	    after=N         start after the server's seq N (default 0)
//	    follow=1        stay open and deliver new entries as they are appended
//	    limit=K         end after K entries (at a batch end)
//	    node=NODE       the server's node as the client knows it: else 409 node_mismatch
//	    check=S&check_id=NODE/SEQ&check_sum=CRC
//	                    the client holds this entry at the server's seq S (its ID and
//	                    the crc32c of its payload, 8 hex digits): else 409 diverged
//	    scope=S         only entries of these scopes (and unscoped ones): 403 if the
//	                    token does not have them
//	    format=jsonl    JSON lines (also with Accept: application/x-ndjson)
//	GET /v1/query       a live query over the node's views as Server-Sent Events
//	    sql=SELECT...   (Server.QueryHandler, mounted beside the Server): for tokens
//	    arg=A           granted the views it reads (Token.Views), or with scope *
//
// after beyond the server's last seq is 409 cut_back. Errors are JSON:
// {"error": CODE, "message": TEXT}; no or a bad token is 401 with
// WWW-Authenticate: Bearer.
//
// The binary stream (Content-Type application/x-sluice-stream) is the line
// "sluice-stream 1", then frames: a type byte, a uvarint length, a body.
//
//	h  hello     JSON Hello: the server's node, the after it starts from, its last seq,
//	             whether it follows and its heartbeat
//	r  record    one record exactly as the server's log stores it (log/doc.go):
//	             its crc32c checks it end to end
//	p  position  uvarint P, uvarint L: every entry up to P was sent or is not for this
//	             reader; L is the server's last seq. Sent where a batch ends whose last
//	             record was filtered out, after a long run of filtered entries, at
//	             the end of what the log holds, and as the heartbeat of an idle
//	             following stream (every second by default)
//	e  error     text: the server could not go on (its log is damaged, it stops, the
//	             token was revoked)
//	z  end       uvarint P: the end of a stream that does not follow
//
// A batch is the records of one Append on the server: every record but
// the last is flagged "more". The client appends a batch whole, in one
// Append (several batches may share one), never a part of it: a stream cut
// or damaged inside a batch appends nothing of it, and the error names the
// peer and the position reached. A stream that ends without its end frame
// was cut.
//
// The JSON lines form has one object per line, each with a "type": hello,
// entry (seq, id, via, origin, time, scope, and payload when it is JSON,
// else payload_base64), position, end, error.
//
// # Tasks (POST /v1/tasks)
//
// A device's Sender sends its tasks (entries of package view/tasks) to a
// TaskServer: one queue's tasks per request, at most MaxTasksPerRequest, in
// the device's order, the next request of a queue only once the previous
// one is answered:
//
//	POST /v1/tasks  {"node": DEVICE, "queue": Q, "server": NODE, "tasks": [{"id", "kind", "seq", "scope", "payload"}]}
//	200             {"server": NODE, "answers": [{"id", "outcome": "succeeded"|"failed", "reason", "answer": NODE/SEQ, "results": [NODE/SEQ]}]}
//	503, 429        nothing of the batch was applied; Retry-After says when to try again
//	400             a malformed request (nothing applied)
//	401             no or a bad token, as for sync
//	403, 413        nothing applied; {"error", "message", "task": ID}: that task is refused
//	                for good — its scope is not one of the token's (a task without one needs
//	                "*"), or its payload is over the server's record limit; the device fails
//	                it (an answer entry of its own) and sends the others again
//	409             node_mismatch: "server" (the node the device pulled from or sent to
//	                before) is not this server's, whose log was replaced: nothing applied
//
// Task ids are deduplicated per (token, device node, id): the node a request
// names is the device's claim, not proven, so a token cannot pre-empt or be
// answered with another token's tasks by naming its device's node.
//
// The server applies a batch all or nothing: per task its handler's result
// entries then one task.answer entry, for the whole batch (and the other
// batches waiting, handled one after the other) in one atomic Append, or in
// one Indexer.Transact when it indexes views, so that SQL checks see every
// task before them. A task answered before gets the same answer, applied
// nothing twice. The answers and
// results carry the task's scope and reach the user's devices through log
// sync; the Sender does not append what the 200 says (see Sender).
//
// # Scopes and tokens
//
// An entry may carry a scope (log.Entry.Scope, such as "user:7777"); none
// means every reader may read it. A TokenStore keeps tokens hashed; a token
// has scopes, and reads the unscoped entries and those of its scopes ("*"
// reads all). A server with tokens refuses requests without one (401) and
// serves each stream only what its token may read, also entries replicated
// from elsewhere.
package replicate
