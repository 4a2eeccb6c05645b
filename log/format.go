package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// The files of a log directory besides its segments (see doc.go).
const (
	formatFile   = "FORMAT"
	formatV1     = "sluice-log 1\n"
	formatV2     = "sluice-log 2\n"
	nodeFile     = "NODE"
	headFile     = "HEAD"
	lockFile     = "LOCK"
	lastOpenFile = "LASTOPEN"
)

// metaFiles are the files fsutil.WriteFileAtomic writes in a log
// directory; a crash can leave its temporary files (".NAME.tmp*") behind.
var metaFiles = []string{formatFile, nodeFile, headFile, lastOpenFile}

// isTemp reports whether name is a temporary file of ours.
func isTemp(name string) bool {
	for _, f := range metaFiles {
		if strings.HasPrefix(name, "."+f+".tmp") {
			return true
		}
	}
	return false
}

// dirMeta is what a log directory's FORMAT and NODE files say.
type dirMeta struct {
	version int    // 1 or 2
	node    NodeID // zero for a format 1 log without a NODE file
}

// readMeta reads FORMAT and NODE without changing anything. A missing
// FORMAT is an error wrapping os.ErrNotExist.
func readMeta(dir string) (dirMeta, error) {
	var m dirMeta
	b, err := os.ReadFile(filepath.Join(dir, formatFile))
	if err != nil {
		return m, err
	}
	switch string(b) {
	case formatV1:
		m.version = 1
	case formatV2:
		m.version = 2
	default:
		return m, fmt.Errorf("%w: %s: FORMAT file holds %q, want %q or %q", ErrNotLog, dir, firstLine(b),
			strings.TrimSpace(formatV2), strings.TrimSpace(formatV1))
	}
	m.node, err = readNode(dir)
	switch {
	case err == nil:
	case m.version == 1 && errors.Is(err, os.ErrNotExist):
		// Not upgraded yet: entries have no node until a writer opens it.
	default:
		return m, err
	}
	return m, nil
}

func readNode(dir string) (NodeID, error) {
	path := filepath.Join(dir, nodeFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return NodeID{}, fmt.Errorf("%w: %s: the NODE file is missing: %w", ErrNotLog, dir, err)
		}
		return NodeID{}, fmt.Errorf("read node id: %w", err)
	}
	n, err := ParseNodeID(string(bytes.TrimSuffix(b, []byte("\n"))))
	if err != nil {
		return NodeID{}, fmt.Errorf("%w: %s: %w", ErrNotLog, path, err)
	}
	return n, nil
}

// checkEmpty returns nil if dir holds nothing but what an interrupted
// creation leaves (LOCK, NODE, HEAD and our temporary files), else an
// ErrNotLog error naming a foreign file.
func checkEmpty(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range des {
		switch name := de.Name(); {
		case name == lockFile || name == nodeFile || name == headFile || isTemp(name):
		default:
			return fmt.Errorf("%w: %s is not empty and has no FORMAT file (found %q)", ErrNotLog, dir, name)
		}
	}
	return nil
}

// prepareDir readies dir for a writer, which holds its lock: it removes
// temporary files a crash left, makes an empty dir (or one whose creation a
// crash interrupted) a new format 2 log, and upgrades a format 1 log to
// format 2 (its records stay as they are: records say which format they
// are). Each file is written atomically, FORMAT last, so a crash at any
// point leaves a directory the next call completes.
func prepareDir(dir string) (dirMeta, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return dirMeta{}, err
	}
	removed := false
	for _, de := range des {
		if isTemp(de.Name()) {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return dirMeta{}, fmt.Errorf("remove stale temporary file: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := fsutil.SyncDir(dir); err != nil {
			return dirMeta{}, err
		}
	}
	m, err := readMeta(dir)
	switch {
	case err == nil && m.version == 2:
		return m, nil
	case err == nil: // format 1: upgrade below
	case errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrNotLog):
		if err := checkEmpty(dir); err != nil {
			return m, err
		}
	default:
		return m, err
	}
	// A new log, or a format 1 log. A NODE file left by an interrupted
	// creation or upgrade is kept: readers may have seen it.
	m.node, err = readNode(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return m, err
		}
		if m.node, err = newNodeID(); err != nil {
			return m, err
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, nodeFile), []byte(m.node.String()+"\n"), 0o644); err != nil {
			return m, err
		}
	}
	// The mark starts at 0: it may lag, never lead. Open moves it to the
	// end of what it finds once that is durable.
	if err := writeHeadFile(dir, 0); err != nil {
		return m, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, formatFile), []byte(formatV2), 0o644); err != nil {
		return m, err
	}
	m.version = 2
	return m, nil
}

// checkReadable checks, without writing, that dir is a log a Reader can
// read, and returns what its FORMAT and NODE say.
func checkReadable(dir string) (dirMeta, error) {
	m, err := readMeta(dir)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotLog) {
		return m, err
	}
	if err := checkEmpty(dir); err != nil {
		return m, err
	}
	return m, fmt.Errorf("%w: %s holds no log", ErrNotLog, dir)
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
