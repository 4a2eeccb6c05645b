package view

import (
	"time"

	"github.com/sluicedb/sluice/log"
)

// parseTime reads a time the meta tables hold (RFC 3339); zero if none.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Status describes a view of an open File.
type Status struct {
	Name    string
	Version int
	// Since is the highest seq up to which every entry is applied.
	Since log.Seq
	// Ahead counts local entries applied ahead of Since; MaxAhead is the
	// highest of them (0 if none).
	Ahead    int
	MaxAhead log.Seq
	// CheckSeq and CheckCRC identify the last entry applied in seq order
	// (see EntryCRC, and MatchesCheck).
	CheckSeq  log.Seq
	CheckCRC  uint32
	checkKind int
	// IndexesBuilt reports whether the view's secondary indexes exist.
	IndexesBuilt bool
	// IndexesDone counts the statements of the view's Indexes built so
	// far, in order: while IndexesBuilt is false, the next one to build
	// is Indexes()[IndexesDone].
	IndexesDone int
	// LocalAhead reports whether the view accepts local entries ahead.
	LocalAhead bool
	// RebuiltAt and RebuildReason say when and why the view's tables were
	// last (re)created.
	RebuiltAt     time.Time
	RebuildReason string
}

// MatchesCheck reports whether e is the entry the view applied last in seq
// order (CheckSeq): the same seq and checksum — EntryCRC, or, for a view
// file written by an earlier version, the payload's PayloadCRC.
func (s Status) MatchesCheck(e log.Entry) bool {
	if e.Seq != s.CheckSeq {
		return false
	}
	if s.checkKind == checkPayload {
		return PayloadCRC(e.Payload) == s.CheckCRC
	}
	return EntryCRC(e) == s.CheckCRC
}

// Status returns the state of each view of the file, in the order given to
// OpenFile. It is safe to call while another goroutine applies batches, as
// are MinSince and Applied.
func (f *File) Status() []Status {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Status, len(f.views))
	for i, vs := range f.views {
		var maxAhead log.Seq
		for s := range vs.pubAhead {
			maxAhead = max(maxAhead, s)
		}
		m := vs.pub
		out[i] = Status{MaxAhead: maxAhead,
			Name: vs.v.Name(), Version: vs.v.Version(), Since: log.Seq(m.since), Ahead: len(vs.pubAhead),
			CheckSeq: log.Seq(m.checkSeq), CheckCRC: m.checkCRC, checkKind: m.checkKind, IndexesBuilt: m.indexesBuilt, IndexesDone: m.indexesDone,
			LocalAhead: vs.local, RebuiltAt: parseTime(m.rebuiltAt), RebuildReason: m.rebuildReason,
		}
	}
	return out
}

// MinSince returns the lowest since of the file's views: the indexer feeds
// the file from the entry after it.
func (f *File) MinSince() log.Seq {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var min log.Seq
	for i, vs := range f.views {
		if s := log.Seq(vs.pub.since); i == 0 || s < min {
			min = s
		}
	}
	return min
}

// Applied reports whether the named view shows the entry at seq: seq is
// at or below its since, or was applied ahead.
func (f *File) Applied(name string, seq log.Seq) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	vs := f.view(name)
	if vs == nil {
		return false
	}
	if seq <= log.Seq(vs.pub.since) {
		return true
	}
	_, ok := vs.pubAhead[seq]
	return ok
}

// Err returns the error that made the file unusable, if any. It is safe
// to call from any goroutine.
func (f *File) Err() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.err
}

// Names returns the names of the file's views, in the order given to
// OpenFile.
func (f *File) Names() []string {
	names := make([]string, len(f.views))
	for i, vs := range f.views {
		names[i] = vs.v.Name()
	}
	return names
}

// Bulk reports whether the file is in bulk mode (see SetBulk).
func (f *File) Bulk() bool { return f.bulk }
