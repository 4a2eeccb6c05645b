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
	// ErrTooLarge is returned by Append for a record or a call over the
	// size limits (Options.MaxRecordSize, Options.MaxBatchSize).
	ErrTooLarge = errors.New("record too large")
	// ErrInvalid is returned by Append for a record it refuses: an unknown
	// origin, an invalid author, via or scope, or an author that is this
	// log's own node.
	ErrInvalid = errors.New("invalid record")
	// ErrLost is returned (wrapped in a *LostError, or with the reason the
	// mark cannot be read) when a log ends before its durable mark: entries
	// whose Append was acknowledged are missing.
	ErrLost = errors.New("acknowledged entries lost")
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

// LostError says that a log ends before its durable mark (the HEAD file):
// the entries From..To were acknowledged as durable and are missing or
// damaged. Nothing was changed. It matches ErrLost with errors.Is.
type LostError struct {
	Dir      string
	From, To Seq    // the acknowledged seqs that are missing
	Reason   string // what was found instead
}

func (e *LostError) Error() string {
	return fmt.Sprintf("log %s lost acknowledged entries: seqs %d..%d are missing (%s); restore the log's files "+
		"from a backup or copy, or accept the loss with sluice repair --accept-loss (log.Options.AcceptLoss), "+
		"which keeps those seqs as lost and never hands them out again", e.Dir, e.From, e.To, e.Reason)
}

// Is reports whether target is ErrLost.
func (e *LostError) Is(target error) bool { return target == ErrLost }
