package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// FindRepo returns the sluice repository holding dir or one of its
// parents: the directory with go.mod and bench/ssbgen/gen.sh.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "bench", "ssbgen", "gen.sh")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside the sluice repository (no bench/ssbgen/gen.sh above it)", dir)
		}
	}
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// GenerateSSBLog returns the path of the log.offset of a generated SSB log
// with n messages from authors authors (0: gen.sh's default, n/400 and at
// least 20). It runs script (bench/ssbgen/gen.sh), which generates the log
// with the npm package ssb-fixtures the first time and caches it; the
// script's messages go to stderr.
func GenerateSSBLog(ctx context.Context, script string, n, authors int, stderr io.Writer) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("generate an SSB log: %d messages", n)
	}
	args := []string{script, strconv.Itoa(n)}
	if authors > 0 {
		args = append(args, strconv.Itoa(authors))
	}
	cmd := exec.CommandContext(ctx, "bash", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("generate an SSB log of %d messages with %s: %w", n, script, err)
	}
	dir := strings.TrimSpace(out.String())
	if i := strings.LastIndexByte(dir, '\n'); i >= 0 {
		dir = dir[i+1:]
	}
	path := filepath.Join(dir, "flume", "log.offset")
	if !fileExists(path) {
		return "", fmt.Errorf("%s printed %q, which holds no flume/log.offset", script, dir)
	}
	return path, nil
}

// SaveSync writes the report into dir: for each log sync-N.md and
// sync-N.svg, and with more than one log sync-memory.md. It returns the
// paths written.
func SaveSync(dir string, rep *SyncReport) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	save := func(name string, write func(io.Writer) error) error {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := fsutil.WriteFileAtomic(path, b.Bytes(), 0o644); err != nil {
			return err
		}
		written = append(written, path)
		return nil
	}
	for i, lr := range rep.Logs {
		if err := save(SyncReportName(lr.Messages), func(w io.Writer) error { return rep.WriteLogMarkdown(w, i) }); err != nil {
			return written, err
		}
		if err := save(SyncPlotName(lr.Messages), lr.WriteSVG); err != nil {
			return written, err
		}
	}
	if len(rep.Logs) > 1 {
		if err := save("sync-memory.md", rep.WriteMemoryMarkdown); err != nil {
			return written, err
		}
	}
	return written, nil
}
