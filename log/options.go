package log

import "fmt"

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

// Options configure Open. The zero value is valid: SyncAlways, 16 MiB
// records, 8 MiB segments.
type Options struct {
	// Durability of Append; default SyncAlways.
	Durability Durability
	// MaxRecordSize limits a payload's size in bytes; 0 means
	// DefaultMaxRecordSize. Appends over it fail with ErrTooLarge.
	MaxRecordSize int
	// SegmentSize is the target size of a segment file; 0 means
	// DefaultSegmentSize.
	SegmentSize int
}

func (o Options) withDefaults() Options {
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	return o
}
