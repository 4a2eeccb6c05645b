// Package offset reads flumelog-offset files, the log format of Secure
// Scuttlebutt's flumedb (ssb-db up to version 20, under ssb-server, keeps
// its messages in flume/log.offset), so sluice indexes an SSB log where it
// lies. The reader
// is read-only and follows a file that another process appends to.
//
// # Format
//
// A file is a sequence of frames, with no file header. All integers are
// big-endian:
//
//	+----------+----------------+----------+-------------------------+
//	| length L | payload        | length L | next-frame offset       |
//	| uint32   | L bytes        | uint32   | W bytes: uint32 (W = 4) |
//	|          | (JSON for SSB) | (again)  | or uint48 (6) or        |
//	|          |                |          | uint53 in 8 bytes (8)   |
//	+----------+----------------+----------+-------------------------+
//	offset o   o+4              o+4+L      o+8+L                 o+8+L+W
//
// The next-frame offset is the file offset where the next frame starts,
// o+8+L+W: the file size after the frame was appended. Its width W is a
// choice of the writer (4 by default); the reader finds it from the first
// frame, the only width whose trailer holds the frame's own end, and checks
// it on every frame. The two lengths let the JavaScript reader walk
// backwards; this one walks forwards only.
//
// Seq N is the N-th frame of the file, from 1. Real logs also hold:
//
//   - frames deleted in place: the payload overwritten with zero bytes,
//     lengths and trailer kept. Iterators skip them, but they keep their
//     seq, so numbering is stable (and Last counts them);
//   - payloads of any JSON layout: older ssb-db versions wrote
//     2-space-indented JSON. Payloads are handed out byte for byte;
//   - a torn last frame, from a crash in the middle of an append or an
//     append in progress: the log simply ends before it (no error), and
//     a later read sees it once complete. A tail of zero bytes (blocks a
//     crash allocated but never wrote) is torn too.
//
// A frame that fails its checks (lengths disagree, a wrong trailer, a
// length running past the end of the file) is a torn tail when no complete
// frame follows it (the JavaScript writer cuts such a tail off when it
// restarts), and damage in the middle of the log otherwise: a
// *log.CorruptError (matching log.ErrCorrupt) naming its seq and offset,
// never skipped. So damage to the last frame reads as a torn tail.
//
// A file whose first frame is not valid is not a flumelog-offset file:
// Open returns a *FormatError (matching log.ErrNotLog) naming the path and
// the offset. An empty file is an empty log, and so is a file that ends
// inside its first frame, unless that frame claims more than 1 MiB: the
// first bytes of a JSON or text file read as a length of a gigabyte.
//
// # Reading
//
// A Log implements log.Source: Open, Iter from a seq, Next until false,
// Wait for more:
//
//	l, err := offset.Open("ssb/flume/log.offset")
//	...
//	defer l.Close()
//	it, err := l.Iter(1)
//	...
//	for it.Next() {
//		e := it.Entry() // e.Seq, e.Payload (JSON: {"key", "value", "timestamp"})
//	}
//	if err := it.Err(); err != nil { ... }
//
// (Example shows it whole.) Iterators read the file in chunks of a few
// megabytes and hand out payloads pointing into them; a sparse in-memory
// seq → offset index, built as frames are read, makes Iter(from) start
// near from.
package offset
