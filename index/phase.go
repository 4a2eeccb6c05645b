package index

import (
	"fmt"

	"github.com/sluicedb/sluice/log"
)

// Phase is where an Indexer's writer is with one view file, in the order
// a run goes through them.
type Phase int32

const (
	// PhaseIdle: no Run or SynchronizeUpTo has started.
	PhaseIdle Phase = iota
	// PhaseBacklog: applying the log's entries, up to its end as the
	// reader finds it.
	PhaseBacklog
	// PhaseIndexes: the log was read to its end; the views' secondary
	// indexes are being built, one per transaction (the SSB view set
	// folds the contacts and abouts it deferred before its first index,
	// and removes copies of messages before its last).
	PhaseIndexes
	// PhaseCaughtUp: the log was read to its end and every index is
	// built. A follower stays in this phase as the log grows; Lag says
	// how far behind it is.
	PhaseCaughtUp
)

var phaseNames = [...]string{"idle", "backlog", "indexes", "caught-up"}

// String returns "idle", "backlog", "indexes" or "caught-up".
func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// FileProgress is the state of one view file of an Indexer.
type FileProgress struct {
	// Path is the view file's path.
	Path string
	// Since is the lowest since of the file's views.
	Since log.Seq
	// Phase is what the writer does with the file.
	Phase Phase
	// Index is, in PhaseIndexes, the position in its view's Indexes of
	// the index being built (of the file's first view lacking some): 0
	// for the first. It is the count of that view's indexes built so far,
	// which a step commits together with the index.
	Index int
}

// fileProgress returns the state of file i.
func (ix *Indexer) fileProgress(i int) FileProgress {
	f := ix.files[i]
	fp := FileProgress{Path: f.Path(), Since: f.MinSince(), Phase: Phase(ix.phases[i].Load())}
	if fp.Phase == PhaseIndexes {
		for _, st := range f.Status() {
			if !st.IndexesBuilt {
				fp.Index = st.IndexesDone
				break
			}
		}
	}
	return fp
}
