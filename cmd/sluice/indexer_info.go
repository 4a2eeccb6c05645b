package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// indexerInfoFile, in DIR/views, says which views the running sluice index
// maintains, so that --wait waits for those and not for a view file no
// indexer writes (one left from another run).
const indexerInfoFile = "indexer.json"

// indexerInfo is what a running sluice index (or rebuild) writes in
// indexerInfoFile while it holds the views' lock; it removes the file when
// it exits. After kill -9 the file stays, and PID no longer runs.
type indexerInfo struct {
	PID     int           `json:"pid"`
	Follow  bool          `json:"follow"`
	Started time.Time     `json:"started"`
	Views   []indexedView `json:"views"`
}

// indexedView is a view an indexer maintains, and its file.
type indexedView struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// writeIndexerInfo records info for waiters; the returned function removes
// it. The views' lock must be held.
func (e *env) writeIndexerInfo(info *indexerInfo) (remove func(), err error) {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(e.viewsDir(), indexerInfoFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("record the views this indexer maintains: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("record the views this indexer maintains: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// runningIndexer returns what the running indexer of DIR/views maintains,
// or nil if none runs (no record, or its process is gone).
func (e *env) runningIndexer() *indexerInfo {
	b, err := os.ReadFile(filepath.Join(e.viewsDir(), indexerInfoFile))
	if err != nil {
		return nil
	}
	var info indexerInfo
	if json.Unmarshal(b, &info) != nil || info.PID <= 0 || len(info.Views) == 0 || !processRuns(info.PID) {
		return nil
	}
	return &info
}

// processRuns reports whether a process with this pid exists.
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// names returns the names of the views info lists.
func (info *indexerInfo) names() []string {
	var out []string
	for _, v := range info.Views {
		out = append(out, v.Name)
	}
	return out
}

// files returns the view files info lists, each once.
func (info *indexerInfo) files() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range info.Views {
		if !seen[v.File] {
			seen[v.File] = true
			out = append(out, v.File)
		}
	}
	return out
}
