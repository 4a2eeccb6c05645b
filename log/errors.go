package log

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is returned (wrapped in a *CorruptError) when a record
	// fails its checksum or framing checks somewhere other than a torn
	// tail.
	ErrCorrupt = errors.New("log corrupt")
	// ErrNotFound is returned by Get for a seq the log does not hold.
	ErrNotFound = errors.New("entry not found")
	// ErrClosed is returned by operations on a closed log.
	ErrClosed = errors.New("log closed")
	// ErrLocked is returned by Open when another process holds the log
	// open for writing.
	ErrLocked = errors.New("log is locked by another process")
	// ErrTooLarge is returned by Append for a record over the size limit.
	ErrTooLarge = errors.New("record too large")
	// ErrEmpty is returned by Append for an empty payload or no records.
	ErrEmpty = errors.New("empty append")
	// ErrNotLog is returned when a directory or file is not a log of the
	// expected format.
	ErrNotLog = errors.New("not a log of the expected format")
)

// CorruptError describes a damaged record. It matches ErrCorrupt with
// errors.Is.
type CorruptError struct {
	Path   string // file holding the record
	Offset int64  // byte offset of the record in Path
	Seq    Seq    // seq the record should have held
	Reason string // what check failed
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("log corrupt: seq %d at %s offset %d: %s", e.Seq, e.Path, e.Offset, e.Reason)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
