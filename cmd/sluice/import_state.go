package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
)

// importStateFile is the file in DIR that records an import in progress.
// It sits beside the log directory, not in it: the log directory holds only
// the log's own files.
const importStateFile = "importing.json"

// importState records an import in progress, so that one stopped part-way
// (kill -9, a full disk, Ctrl-C) can be resumed by running it again. It is
// written once, before the first entry is appended, and removed once the
// log holds every record and is synced.
//
// It does not count what was imported: the log does. On resume the entries
// after Base must be, payload for payload and all remote, the first records
// of the source; the import goes on after them. Anything else (entries
// appended by others since, another source, a log that lost entries)
// refuses to resume.
type importState struct {
	// Source is the absolute path of the source file, or "-" for
	// standard input.
	Source string `json:"source"`
	// Base is the log's last seq when the import began: its first record
	// went to Base+1.
	Base log.Seq `json:"base"`
	// Skip is how many of the source's first records an earlier import
	// appended already (see finishedImport): the import appends the
	// records after them.
	Skip int64 `json:"skip,omitempty"`
	// Records is how many records the source held when the import began.
	Records int64 `json:"records"`
	// Started is when the import began (for messages).
	Started time.Time `json:"started"`
}

func (e *env) importStatePath() string { return filepath.Join(e.dir, importStateFile) }

// readImportState returns the recorded import in progress, or nil.
func readImportState(path string) (*importState, error) {
	var st importState
	found, err := readJSONFile(path, &st, "the state of an interrupted import")
	if err == nil && found && st.Source == "" {
		err = fmt.Errorf("%s is not the state of an interrupted import (no source); move it away if it is not sluice's", path)
	}
	if err != nil || !found {
		return nil, err
	}
	return &st, nil
}

// readJSONFile reads the JSON file at path, holding what (for errors),
// into v; a missing file is not an error: found is false.
func readJSONFile(path string, v any, what string) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s is not %s (%v); move it away if it is not sluice's", path, what, err)
	}
	return true, nil
}

// writeJSONFile writes v to path as indented JSON, durably (temp file,
// fsync, rename, directory fsync).
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// write records st durably.
func (st *importState) write(path string) error { return writeJSONFile(path, st) }

// removeImportState removes the record of a finished import, durably.
func removeImportState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return fsutil.SyncDir(filepath.Dir(path))
}

// noteInterruptedImport warns, before an append, that an interrupted import
// will not resume once the log was appended to.
func (e *env) noteInterruptedImport() {
	if st, err := readImportState(e.importStatePath()); err == nil && st != nil {
		e.notef("%s was interrupted; after this append it cannot resume (%s)", st.describe(), e.importStatePath())
	}
}

// describe says what st is, for messages.
func (st *importState) describe() string {
	src := st.Source
	if src == "-" {
		src = "standard input"
	}
	return fmt.Sprintf("the import of %s started %s into the log after seq %d", src, st.Started.Local().Format(time.DateTime), st.Base)
}

// command says how to resume st, in a log in dir.
func (st *importState) command(dir string) string {
	cmd := "sluice"
	if dir != defaultDir {
		cmd += " --dir " + shellQuote(dir)
	}
	if st.Source == "-" {
		return fmt.Sprintf("feed the same input to %s import - again", cmd)
	}
	return fmt.Sprintf("run %s import %s again", cmd, shellQuote(st.Source))
}
