package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/internal/fsutil"
)

const (
	formatFile   = "FORMAT"
	formatText   = "sluice-log 1\n"
	lockFile     = "LOCK"
	lastOpenFile = "LASTOPEN"
)

// checkFormat verifies that dir is a sluice log. When create is set and dir
// is empty (or missing), it makes dir a new log.
func checkFormat(dir string, create bool) error {
	b, err := os.ReadFile(filepath.Join(dir, formatFile))
	switch {
	case err == nil:
		if !bytes.Equal(b, []byte(formatText)) {
			return fmt.Errorf("%w: %s: FORMAT file holds %q, want %q", ErrNotLog, dir, firstLine(b), formatText[:len(formatText)-1])
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.Name() != lockFile {
			return fmt.Errorf("%w: %s is not empty and has no FORMAT file (found %q)", ErrNotLog, dir, de.Name())
		}
	}
	if !create {
		return fmt.Errorf("%w: %s holds no log", ErrNotLog, dir)
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, formatFile), []byte(formatText), 0o644)
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}
