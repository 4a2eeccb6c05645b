package log

import (
	"fmt"
	"time"
)

// Durability says when an Append is on stable storage.
type Durability int

const (
	// SyncAlways fsyncs the log before Append returns. The default.
	SyncAlways Durability = iota
	// SyncGroup fsyncs before Append returns too, but concurrent
	// appenders queue behind one committer and share its fsync.
	SyncGroup
	// SyncNone never fsyncs while appending (Close does): a process crash
	// loses nothing written, a power loss may lose the tail. For bulk
	// import.
	SyncNone
)

// String returns "sync", "group" or "none".
func (d Durability) String() string {
	switch d {
	case SyncAlways:
		return "sync"
	case SyncGroup:
		return "group"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("durability(%d)", int(d))
}

// ParseDurability is the inverse of Durability.String.
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "sync", "":
		return SyncAlways, nil
	case "group":
		return SyncGroup, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("unknown durability %q (want sync, group or none)", s)
}

// DefaultMaxRecordSize is the default limit on a payload's size: 16 MiB.
const DefaultMaxRecordSize = 16 << 20

// DefaultSegmentSize is the default size at which a segment file is closed
// and a new one started. tidwall/wal reads the whole last segment into
// memory when it opens a log, and Open checks it for a torn tail: a small
// segment keeps opening a log for one append (sluice append) cheap.
const DefaultSegmentSize = 8 << 20

// DefaultMaxBatchSize is the default limit on one Append call's records,
// as stored: 64 MiB.
const DefaultMaxBatchSize = 64 << 20

// MaxBatchLimit is the largest Options.MaxBatchSize. A Reader holds the
// records of one Append in memory until it has read the last of them (it
// yields none before), so a longer run of records without an end is damage
// to it.
const MaxBatchLimit = 1 << 30

// Options configure Open. The zero value is valid: SyncAlways, 16 MiB
// records, 64 MiB per Append call, 8 MiB segments, no waiting for the lock.
type Options struct {
	// Durability of Append; default SyncAlways.
	Durability Durability
	// MaxRecordSize limits a payload's size in bytes; 0 means
	// DefaultMaxRecordSize. Appends over it fail with ErrTooLarge.
	MaxRecordSize int
	// MaxBatchSize limits the bytes one Append call's records take as
	// stored (payloads plus 21 bytes or more of header each); 0 means
	// DefaultMaxBatchSize, at most MaxBatchLimit. Appends over it fail
	// with ErrTooLarge and write nothing.
	MaxBatchSize int
	// SegmentSize is the target size of a segment file; 0 means
	// DefaultSegmentSize.
	SegmentSize int
	// LockWait is how long Open waits for another writer to release the
	// log (polling its lock) before it fails with ErrLocked; 0 means
	// not at all.
	LockWait time.Duration
	// AcceptLoss lets Open go on when the log ends before its durable mark
	// (acknowledged entries are missing, see LostError): it records the
	// loss in LASTOPEN and keeps the missing seqs as lost, so they are
	// never handed out again. Without it such an Open fails and changes
	// nothing.
	AcceptLoss bool
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.MaxBatchSize <= 0 {
		o.MaxBatchSize = DefaultMaxBatchSize
	}
	if o.MaxBatchSize > MaxBatchLimit {
		return o, fmt.Errorf("options: MaxBatchSize %d is over the limit of %d", o.MaxBatchSize, MaxBatchLimit)
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Durability < SyncAlways || o.Durability > SyncNone {
		return o, fmt.Errorf("options: unknown durability %d", int(o.Durability))
	}
	return o, nil
}
