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
// appended and a payload of bytes.
//
// # On-disk format
//
// The directory holds a FORMAT file ("sluice-log 1"), the LOCK file, a
// LASTOPEN file describing what the last writer's Open repaired, and segment
// files written through github.com/tidwall/wal. A segment is named by the
// 20-digit seq of its first entry and is a sequence of frames:
//
//	+-------------------+------------------------------------------------+
//	| uvarint length n  | record (n bytes)                               |
//	+-------------------+------------------------------------------------+
//
//	record:
//	+--------------+-----------+-------------+-----------+---------------+
//	| crc32c  (4)  | seq   (8) | time   (8)  | origin (1)| payload (n-21)|
//	+--------------+-----------+-------------+-----------+---------------+
//
// Integers are little-endian. crc32c (Castagnoli) covers everything after
// itself. time is Unix nanoseconds. origin is 0 (remote) or 1 (local). A
// payload is never empty.
//
// # Damage
//
// A torn or garbage tail — a frame that ends early, a zero-filled or random
// tail left by a crash mid-write — is cut off by Open, which keeps every
// record before it and reports what it dropped (Log.Repairs). A record that
// fails its checks with valid records after it is corruption, not a torn
// tail: reading it returns a *CorruptError naming the seq; it is never
// skipped or repaired silently.
//
// # Durability
//
// SyncAlways (the default) fsyncs before Append returns. SyncGroup lets
// concurrent appenders share one fsync. SyncNone leaves flushing to the
// operating system until Close (for bulk import): a process crash loses
// nothing written, a power loss may lose the tail.
package log
