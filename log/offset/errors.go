package offset

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sluicedb/sluice/log"
)

// FormatError reports a file that is not a flumelog-offset file at all. It
// matches log.ErrNotLog with errors.Is.
//
// Damage after valid frames is not a FormatError but a *log.CorruptError
// (matching log.ErrCorrupt), which names the seq of the damaged frame.
type FormatError struct {
	Path   string // the file
	Offset int64  // byte offset where the check failed
	Reason string // what was wrong
}

// Error names the file, the offset and what was wrong.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%q is not a flumelog-offset file: at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Is reports whether target is log.ErrNotLog.
func (e *FormatError) Is(target error) bool { return target == log.ErrNotLog }

// readErr wraps an error from reading path at off. A file closed under a
// reader (Log.Close) becomes log.ErrClosed; a file that ends before off
// (it shrank under us) becomes log.ErrCorrupt.
func readErr(path string, off int64, err error) error {
	switch {
	case errors.Is(err, os.ErrClosed):
		return fmt.Errorf("read flumelog %q at offset %d: %w", path, off, log.ErrClosed)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("read flumelog %q at offset %d: file shrank under the reader: %w", path, off, log.ErrCorrupt)
	}
	return fmt.Errorf("read flumelog %q at offset %d: %w", path, off, err)
}
