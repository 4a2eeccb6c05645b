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
}
