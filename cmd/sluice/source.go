package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
)

// sourceFlags choose the log a command reads: the native log in DIR/log by
// default, another native log (--log), or an SSB flumelog-offset file
// (--ssb).
type sourceFlags struct {
	logPath string
	ssbPath string
}

func (s *sourceFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&s.logPath, "log", "", "read the native sluice log in this directory (default DIR/log)")
	fs.StringVar(&s.ssbPath, "ssb", "", "read an SSB flumelog-offset file (or an ~/.ssb directory holding flume/log.offset)")
}

func (s *sourceFlags) check() error {
	if s.logPath != "" && s.ssbPath != "" {
		return usagef("--log and --ssb choose the same thing; give one of them")
	}
	return nil
}

// openSource opens the chosen log for reading, without taking the writer's
// lock. name describes it for messages.
func (s *sourceFlags) open(e *env) (src log.Source, closer io.Closer, name string, err error) {
	if err := s.check(); err != nil {
		return nil, nil, "", err
	}
	if s.ssbPath != "" {
		path, err := findOffsetLog(s.ssbPath)
		if err != nil {
			return nil, nil, "", err
		}
		l, err := offset.Open(path)
		if err != nil {
			return nil, nil, "", err
		}
		return l, l, path, nil
	}
	dir := s.logPath
	if dir == "" {
		dir = e.logDir()
	}
	r, err := log.OpenReader(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("%w in %s (append to it or import one first, or use --log or --ssb)", errNoLog, dir)
	}
	if errors.Is(err, log.ErrNotLog) {
		return nil, nil, "", fmt.Errorf("%w (for an SSB flumelog-offset file, use --ssb)", err)
	}
	if err != nil {
		return nil, nil, "", err
	}
	return r, r, dir, nil
}

// errNoLog is returned by sourceFlags.open when the log directory does not
// exist.
var errNoLog = errors.New("no log")

// findOffsetLog accepts a log.offset file, or a directory holding
// flume/log.offset (an ~/.ssb folder) or log.offset.
func findOffsetLog(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return "", fmt.Errorf("ssb log %s: %w", path, err)
	}
	if !fi.IsDir() {
		return path, nil
	}
	for _, p := range []string{filepath.Join(path, "flume", "log.offset"), filepath.Join(path, "log.offset")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("ssb log: %s holds neither flume/log.offset nor log.offset", path)
}
