package index

import (
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// validate checks, before indexing, that every view was built from this log:
// a view whose since is beyond the log's end, or whose last applied entry
// is not the log's entry at that seq, was built from another log (replaced,
// or cut back) and is rebuilt rather than trusted.
func (ix *Indexer) validate() error {
	last, err := ix.src.Last()
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	for _, f := range ix.files {
		for _, st := range f.Status() {
			reason, err := ix.mismatch(st, last)
			if err != nil {
				return err
			}
			if reason == "" {
				continue
			}
			// The file tells its Options.Logf.
			if err := f.Rebuild(st.Name, reason); err != nil {
				return fmt.Errorf("index: %w", err)
			}
		}
	}
	return nil
}

func (ix *Indexer) mismatch(st view.Status, last log.Seq) (string, error) {
	if st.Since > last {
		return fmt.Sprintf("it has applied entries up to seq %d but the log ends at seq %d (the log was replaced or cut back)", st.Since, last), nil
	}
	if st.MaxAhead > last {
		return fmt.Sprintf("it has applied a local entry at seq %d but the log ends at seq %d (the log was replaced or cut back)", st.MaxAhead, last), nil
	}
	if st.CheckSeq == 0 {
		return "", nil
	}
	it, err := ix.src.Iter(st.CheckSeq)
	if err != nil {
		return "", fmt.Errorf("index: check view %q: %w", st.Name, err)
	}
	defer it.Close()
	if !it.Next() {
		if err := it.Err(); err != nil {
			return "", fmt.Errorf("index: check view %q: %w", st.Name, err)
		}
		return fmt.Sprintf("the log no longer holds seq %d, the last entry it applied", st.CheckSeq), nil
	}
	e := it.Entry()
	if !st.MatchesCheck(e) {
		return fmt.Sprintf("the log's entry at seq %d is not the one it applied (the log was replaced)", st.CheckSeq), nil
	}
	return "", nil
}
