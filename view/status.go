package view

import "github.com/sluicedb/sluice/log"

// Status describes a view of an open File.
type Status struct {
	Name    string
	Version int
	// Since is the highest seq up to which every entry is applied.
	Since log.Seq
	// Ahead counts local entries applied ahead of Since.
	Ahead int
	// CheckSeq and CheckCRC identify the last entry applied in seq order.
	CheckSeq log.Seq
	CheckCRC uint32
	// IndexesBuilt reports whether the view's secondary indexes exist.
	IndexesBuilt bool
	// LocalAhead reports whether the view accepts local entries ahead.
	LocalAhead bool
	// RebuiltAt and RebuildReason say when and why the view's tables were
	// last (re)created.
	RebuiltAt, RebuildReason string
}

// Status returns the state of each view of the file, in the order given to
// OpenFile.
func (f *File) Status() []Status {
	out := make([]Status, len(f.views))
	for i, vs := range f.views {
		out[i] = Status{
			Name: vs.v.Name(), Version: vs.v.Version(), Since: log.Seq(vs.m.since), Ahead: len(vs.ahead),
			CheckSeq: log.Seq(vs.m.checkSeq), CheckCRC: vs.m.checkCRC, IndexesBuilt: vs.m.indexesBuilt,
			LocalAhead: vs.local, RebuiltAt: vs.m.rebuiltAt, RebuildReason: vs.m.rebuildReason,
		}
	}
	return out
}

// MinSince returns the lowest since of the file's views: the indexer feeds
// the file from the entry after it.
func (f *File) MinSince() log.Seq {
	var min log.Seq
	for i, vs := range f.views {
		if s := log.Seq(vs.m.since); i == 0 || s < min {
			min = s
		}
	}
	return min
}

// Applied reports whether the named view shows the entry at seq: seq is
// at or below its since, or was applied ahead.
func (f *File) Applied(name string, seq log.Seq) bool {
	vs := f.view(name)
	if vs == nil {
		return false
	}
	if seq <= log.Seq(vs.m.since) {
		return true
	}
	_, ok := vs.ahead[seq]
	return ok
}

// Err returns the error that made the file unusable, if any.
func (f *File) Err() error { return f.err }
