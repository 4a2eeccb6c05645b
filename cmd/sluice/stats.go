package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
)

// statsWriter writes the indexer's progress as JSON lines, for the
// benchmarks' plots: one sample per call.
type statsWriter struct {
	f     *os.File
	w     *bufio.Writer
	start time.Time
}

// statsSample is one line of a --stats-file.
type statsSample struct {
	TMillis int64       `json:"t_ms"`
	Since   log.Seq     `json:"since"`
	Last    log.Seq     `json:"last"`
	Entries int64       `json:"entries"`
	Bytes   int64       `json:"bytes"`
	Ahead   int64       `json:"ahead"`
	RSSKiB  int64       `json:"rss_kib"`
	Files   []statsFile `json:"files"`
}

// statsFile is the state of one view file in a statsSample (see
// index.FileProgress).
type statsFile struct {
	Path  string  `json:"path"`
	Since log.Seq `json:"since"`
	Phase string  `json:"phase"` // idle, backlog, indexes or caught-up
	Index int     `json:"index"` // in phase indexes, the index being built, from 0
}

func newStatsWriter(path string, start time.Time) (*statsWriter, error) {
	if path == "" {
		return &statsWriter{}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &statsWriter{f: f, w: bufio.NewWriter(f), start: start}, nil
}

func (s *statsWriter) sample(p index.Progress) {
	if s.f == nil {
		return
	}
	files := make([]statsFile, len(p.Files))
	for i, f := range p.Files {
		files[i] = statsFile{Path: f.Path, Since: f.Since, Phase: f.Phase.String(), Index: f.Index}
	}
	b, _ := json.Marshal(statsSample{
		TMillis: time.Since(s.start).Milliseconds(), Since: p.Since, Last: p.Last,
		Entries: p.Entries, Bytes: p.Bytes, Ahead: p.AheadApplied, RSSKiB: currentRSSKiB(), Files: files,
	})
	s.w.Write(append(b, '\n'))
	s.w.Flush()
}

func (s *statsWriter) close() {
	if s.f != nil {
		s.w.Flush()
		s.f.Close()
	}
}

// currentRSSKiB reads the process's resident set size from /proc (0 where
// there is none).
func currentRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()) / 1024
}
