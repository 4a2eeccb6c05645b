package log

import (
	"fmt"
	"time"
)

// Seq is the position of an entry in a log. In a native log seqs are dense
// and start at 1; 0 means "no entry" (an empty log's Last, or "from the
// start"). Sources over foreign formats (see package log/offset) keep the
// order but may leave gaps where records were deleted.
type Seq uint64

// Origin says who wrote an entry.
type Origin uint8

const (
	// Remote entries were replicated from another node or imported.
	Remote Origin = 0
	// Local entries were written by this node's own user. The indexer
	// applies them ahead of a remote backlog.
	Local Origin = 1
)

// String returns "remote" or "local".
func (o Origin) String() string {
	switch o {
	case Remote:
		return "remote"
	case Local:
		return "local"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// ParseOrigin is the inverse of Origin.String.
func ParseOrigin(s string) (Origin, error) {
	switch s {
	case "remote":
		return Remote, nil
	case "local":
		return Local, nil
	}
	return 0, fmt.Errorf("unknown origin %q (want local or remote)", s)
}

// Entry is one record of a log.
type Entry struct {
	Seq    Seq
	Origin Origin
	// Time is when the entry was appended to this log. Sources that do not
	// record it (flumelog-offset files) leave it zero.
	Time time.Time
	// Payload is the entry's data, usually JSON. Slices handed out by an
	// Iterator stay valid after Next but may share memory with other
	// entries: callers must not modify them.
	Payload []byte
	// ID identifies the entry across nodes: the node that first appended
	// it and its seq there. For an entry first appended to this log it is
	// (this log's node, Seq) — zero node for a format 1 log no writer has
	// upgraded yet; sources of foreign formats leave it zero.
	ID ID
	// Via is set on a replicated entry pulled through a peer other than
	// its author: that peer's node and the entry's seq in the peer's log.
	Via ID
	// Scope says who may read the entry ("" means everybody), e.g.
	// "user:7777" (see CheckScope).
	Scope string
}

// Record is one entry to append.
type Record struct {
	// Origin says who wrote it: Local for this node's own user, Remote
	// for replicated or imported entries.
	Origin Origin
	// Payload is the entry's data; it must not be empty.
	Payload []byte
	// Author is the entry's ID where it was first appended, for a
	// replicated entry; zero for an entry first appended here (its ID is
	// then this log's node and the seq Append gives it). It must not be
	// this log's own node: an entry of ours coming back is the
	// replicate layer's to skip.
	Author ID
	// Via is, for an entry pulled through a peer other than its author,
	// that peer's node and the entry's seq in the peer's log; zero
	// otherwise. It needs an Author.
	Via ID
	// Scope limits who may read the entry; "" means everybody. See
	// CheckScope.
	Scope string
}
