// Package log is sluice's append-only log: the only writable source of truth,
// from which every view is indexed.
//
// A log is a directory. A single writer process opens it with Open (it holds
// an exclusive file lock on LOCK); any number of readers, in this process or
// others, read it with the writer's Iter and Get, or with OpenReader, which
// takes no lock and never writes.
//
// Entries have a dense Seq starting at 1, an Origin (Local for this node's
// own user, Remote for replicated or imported entries), the time they were
// appended, a payload of bytes, an ID and optionally a Via and a Scope.
//
// # Identity
//
// Every log has a node id: 16 random bytes made when the log is created (or
// when a format 1 log is first opened for writing), kept in its NODE file.
// An entry is identified everywhere by ID{node that first appended it, its
// seq there}. For an entry first appended to this log that is (this log's
// node, its Seq), and nothing extra is stored. A replicated entry stores its
// author's ID and, when it was pulled through a peer other than its author,
// Via: that peer's node and the entry's seq in the peer's log, so a puller
// can find its position in each peer's log from the log itself. Append
// refuses an author that is this log's own node: an entry of ours coming
// back is the replicate layer's to skip. A Scope ("user:7777"; at most 255
// bytes of printable ASCII, no spaces) says who may read an entry; empty
// means everybody.
//
// # Atomic appends
//
// One Append call is all of its records or none. Every record but the last
// of a call is flagged "more". Readers (Reader, and the writer's iterators)
// never yield a record whose call's last record is not on disk: they stop
// before it, as at a torn tail, and yield the whole call once its last
// record is there — also when the call spans two segments. Open cuts an
// incomplete call off the tail (even when its records are whole one by
// one) and reports it like a torn tail — unless the call was acknowledged
// (the durable mark is past its intact records): then damage to its end
// costs only the damaged seqs, which are lost (see Durability), and its
// intact records are kept. When a write or an fsync fails, the
// writer cuts what the call wrote, returns the error and goes on; if it
// cannot, it refuses appends until it is reopened. A call is at most
// Options.MaxBatchSize bytes (MaxBatchLimit at most), which bounds how much
// a Reader holds while it waits for a call's last record.
//
// # On-disk format
//
// The directory holds:
//
//	FORMAT    "sluice-log 2" (a format 1 log says "sluice-log 1" until a writer upgrades it)
//	NODE      the node id, 32 hex digits and a newline
//	HEAD      the durable mark (see Durability)
//	LOCK      the writer's lock file
//	LASTOPEN  JSON: when the last writer opened the log, what it repaired, a loss it accepted
//	CLOSED    JSON: how the last writer left the tail when it closed cleanly (best effort, no fsync)
//	NNNN...   segment files
//
// NODE, HEAD (when it is made) and FORMAT are written to a temporary file,
// fsynced and renamed, FORMAT last; Open removes the temporary files a crash
// leaves (.FORMAT.tmp*, .NODE.tmp*, .HEAD.tmp*, .LASTOPEN.tmp*). Segments
// are written through github.com/tidwall/wal. A segment is named by the
// 20-digit seq of its first entry; any other file whose name starts with a
// digit (tidwall/wal's NNNN.START and NNNN.END, which make it delete
// segments) is refused. A segment is a sequence of frames:
//
//	+-------------------+------------------------------------------------+
//	| uvarint length n  | record (n bytes)                               |
//	+-------------------+------------------------------------------------+
//
//	record, format 2:
//	+-----------+--------+---------+----------+---------------------------------------+
//	| crc32c(4) | seq(8) | time(8) | flags(1) | [author node(16) | author seq uvarint] |
//	+-----------+--------+---------+----------+---------------------------------------+
//	| [via node(16) | via seq uvarint] | [scope length uvarint | scope] | payload      |
//	+----------------------------------+-------------------------------+--------------+
//
//	flags: 0x80 format 2 (always set)   0x01 local origin
//	       0x02 more: not the last record of its Append
//	       0x04 author present   0x08 via present   0x10 scope present
//	       0x20 lost: a placeholder for an acknowledged entry lost and accepted; no payload
//	       0x40 reserved, must be 0
//
//	record, format 1 (still read; never written):
//	+-----------+--------+---------+-----------+-----------------+
//	| crc32c(4) | seq(8) | time(8) | origin(1) | payload (n-21)  |
//	+-----------+--------+---------+-----------+-----------------+
//
// The byte after time tells the formats apart: a format 1 record has its
// origin there, 0 (remote) or 1 (local), each record its own Append. A
// format 1 log opened for writing gets a NODE file and then FORMAT 2; its
// records stay as they are. Integers are little-endian. crc32c (Castagnoli)
// covers everything after itself. time is Unix nanoseconds. A payload is
// never empty (except in a lost placeholder).
//
// # Damage
//
// Open reads the last two segments whole to check the tail, unless CLOSED
// says the last writer closed the log cleanly and the segments are as it
// left them (the tail segment's and the one before it's sizes; the last
// frame is read back and checked): then only the last record is read. A
// flipped byte elsewhere in the tail is then found by the readers that
// read it, as a *CorruptError naming the seq, not by Open.
//
// A torn or garbage tail — a frame that ends early, a zero-filled or random
// tail left by a crash mid-write, an Append whose last record is missing —
// is cut off by Open, which keeps every record before it and reports what it
// dropped (Log.Repairs, and LASTOPEN, written before anything is cut). A
// record that fails its checks with valid records after it is corruption,
// not a torn tail: reading it returns a *CorruptError naming the seq; it is
// never skipped or repaired silently. So are segments that do not follow
// each other (missing seqs, overlapping segments) and a first segment that
// does not start at seq 1, for every reader.
//
// # Durability
//
// SyncAlways (the default) fsyncs before Append returns. SyncGroup lets
// concurrent appenders share one fsync. SyncNone leaves flushing to the
// operating system until Sync or Close (for bulk import): a process crash
// loses nothing written, a power loss may lose the tail. A new segment's
// directory entry is fsynced before an Append that started it returns
// (except in SyncNone).
//
// The HEAD file holds the durable mark: the highest seq acknowledged as
// durable. It is written after the fsync that makes the entries durable
// (SyncAlways, SyncGroup), by Sync and Close, and by Open once it has made
// what it found durable; it may lag, but it never leads. A log that ends
// before its mark has lost acknowledged entries: Open fails with a
// *LostError naming them and changes nothing, and Reader.Last reports it
// too. With Options.AcceptLoss, Open records the loss in LASTOPEN and
// writes a lost placeholder for each missing seq, so no acknowledged seq is
// ever handed out again; iterators skip placeholders (Position passes
// them), Get reports them as not found.
package log
