package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/log/offset"
)

// SyncConfig configures RunSync. The zero value plus Logs is valid.
type SyncConfig struct {
	// Binary is the sluice executable each run re-executes; "" means
	// this process's own executable (os.Executable).
	Binary string
	// Logs are the SSB flumelog-offset files to measure, in order.
	Logs []string
	// Runs is how many times the full path, and each floor, runs per log.
	// Default 5.
	Runs int
	// NoFloors skips the floors.
	NoFloors bool
	// JSRunner is the path of bench/js/run.sh. When set, the JavaScript
	// ssb-db@20 stack catches up on each log JSRuns times.
	JSRunner string
	// JSRuns defaults to 1.
	JSRuns int
	// TempDir is where runs make their temporary directories ("" means
	// os.TempDir()). Each is removed after its run.
	TempDir string
	// QuietWait: before each run, wait up to this long for other
	// processes to keep fewer than 0.3 cores busy (sampled over half a
	// second), so that a shared machine's noise hits fewer runs. 0 does
	// not wait.
	QuietWait time.Duration
	// Logf receives a line of progress after every run; nil discards.
	Logf func(format string, args ...any)
}

func (c SyncConfig) withDefaults() (SyncConfig, error) {
	if c.Runs <= 0 {
		c.Runs = 5
	}
	if c.JSRuns <= 0 {
		c.JSRuns = 1
	}
	if c.JSRunner == "" {
		c.JSRuns = 0
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("find the sluice binary: %w", err)
		}
		c.Binary = exe
	}
	if len(c.Logs) == 0 {
		return c, errors.New("no log to measure")
	}
	return c, nil
}

// SyncReport is what RunSync measured.
type SyncReport struct {
	Machine Machine
	// Command is the command line that made the report, for the record
	// (set by the caller; may be empty).
	Command string
	// QuietWait is SyncConfig.QuietWait.
	QuietWait time.Duration
	Logs      []*SyncLogReport
}

// SyncLogReport holds the measurements over one log.
type SyncLogReport struct {
	// Path of the log.offset; Bytes its size; Messages its entries (the
	// log's last seq).
	Path     string
	Bytes    int64
	Messages int64
	// WarmRead is how long reading the log once took, before the runs
	// (so that every run finds it in the page cache).
	WarmRead time.Duration

	Sluice []SluiceRun
	Decode []FloorRun // FloorDecode runs
	Insert []FloorRun // FloorInsert runs
	JS     []JSRun

	// Rows in the views after sluice index (checked to be the same after
	// every run and after every FloorInsert run).
	Rows SSBRows
	// Decoded is what FloorDecode counted (the same in every run).
	Decoded FloorResult
}

// SyncProc is what the kernel reports about a measured child process.
type SyncProc struct {
	// Wall is from just before the process started to its exit.
	Wall time.Duration
	// CPU is user + system time, all threads.
	CPU time.Duration
	// MaxRSS is the peak resident set size in bytes (ru_maxrss).
	MaxRSS int64
	// OtherCores is how many cores other processes kept busy on average
	// during the run (-1 unknown): a measure of noise.
	OtherCores float64
}

func syncProcOf(p procRun) SyncProc {
	return SyncProc{Wall: p.Wall, CPU: p.CPU(), MaxRSS: p.MaxRSS, OtherCores: p.OtherCores}
}

// SluiceRun is one run of sluice --dir TMP index --ssb LOG.
type SluiceRun struct {
	SyncProc
	// ViewBytes is the size of the files in TMP/views after the run
	// (databases, -wal and -shm files).
	ViewBytes int64
	// Samples are the --stats-file progress samples.
	Samples []Sample
	// Summary is the line sluice index printed on stderr.
	Summary string
}

// FloorRun is one run of a floor in a child process.
type FloorRun struct {
	SyncProc
	FloorResult
}

// RunSync measures the initial sync of the SSB view set over each log.
// Per log it runs, Runs times and in rounds (so that a noisy stretch of
// time hits every kind of run alike): sluice index from an empty
// directory, then unless NoFloors the decode floor and the insert floor;
// and in the first JSRuns rounds the JavaScript runner. Every run is a
// child process of its own.
func RunSync(ctx context.Context, cfg SyncConfig) (*SyncReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{Machine: readMachine(), QuietWait: cfg.QuietWait}
	if cfg.JSRunner != "" {
		rep.Machine.Node = nodeVersion(ctx)
	}
	for _, path := range cfg.Logs {
		lr, err := runSyncLog(ctx, cfg, path)
		if err != nil {
			return rep, err
		}
		rep.Logs = append(rep.Logs, lr)
	}
	return rep, nil
}

func runSyncLog(ctx context.Context, cfg SyncConfig, path string) (*SyncLogReport, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	lr := &SyncLogReport{Path: path}
	if lr.Messages, lr.Bytes, lr.WarmRead, err = inspectLog(path); err != nil {
		return nil, err
	}
	cfg.Logf("sync: %s: %s messages, %s MB (read once in %s s to warm the page cache)",
		path, groupInt(lr.Messages), megabytes(lr.Bytes), seconds(lr.WarmRead))
	var offs []int64
	if cfg.JSRuns > 0 {
		if offs, err = frameOffsets(path); err != nil {
			return nil, fmt.Errorf("javascript runner: %w", err)
		}
	}
	quiet := func() error {
		if cfg.QuietWait <= 0 {
			return nil
		}
		waited, ok, err := waitQuiet(ctx, cfg.QuietWait)
		if err == nil && !ok {
			cfg.Logf("sync: other processes still keep the machine busy after waiting %s s; running anyway", seconds(waited))
		}
		return err
	}
	for round := 0; round < max(cfg.Runs, cfg.JSRuns); round++ {
		if round < cfg.Runs {
			if err := quiet(); err != nil {
				return nil, err
			}
			if err := lr.runSluice(ctx, cfg, round); err != nil {
				return nil, err
			}
			if !cfg.NoFloors {
				for _, kind := range []FloorKind{FloorDecode, FloorInsert} {
					if err := quiet(); err != nil {
						return nil, err
					}
					if err := lr.runFloor(ctx, cfg, kind, round); err != nil {
						return nil, err
					}
				}
			}
		}
		if round < cfg.JSRuns {
			if err := quiet(); err != nil {
				return nil, err
			}
			r, err := runJS(ctx, cfg.JSRunner, path, cfg.TempDir, offs)
			if err != nil {
				return nil, err
			}
			if r.Messages != lr.Messages {
				return nil, fmt.Errorf("javascript runner counted %d messages in %s, sluice %d", r.Messages, path, lr.Messages)
			}
			lr.JS = append(lr.JS, r)
			cfg.Logf("sync: %s messages: %s run %d/%d: %s s, peak RSS %s MB, other cores busy %.2f",
				groupInt(lr.Messages), r.System, round+1, cfg.JSRuns, seconds(r.Wall), megabytes(r.PeakRSS), r.OtherCores)
		}
	}
	return lr, nil
}

// inspectLog counts a log's entries and bytes, and reads it once.
func inspectLog(path string) (messages, size int64, read time.Duration, err error) {
	l, err := offset.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	last, err := l.Last()
	l.Close()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	size, err = io.Copy(io.Discard, f)
	return int64(last), size, time.Since(start), err
}

func (lr *SyncLogReport) runSluice(ctx context.Context, cfg SyncConfig, round int) error {
	tmp, err := os.MkdirTemp(cfg.TempDir, "sluice-bench-sync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	stats := filepath.Join(tmp, "stats.jsonl")
	p, err := runMeasured(ctx, "", cfg.Binary, "--dir", tmp, "index", "--ssb", lr.Path, "--stats-file", stats)
	if err != nil {
		return fmt.Errorf("sync run %d: %w", round+1, err)
	}
	r := SluiceRun{SyncProc: syncProcOf(p), Summary: lastLine(p.Stderr)}
	if r.ViewBytes, err = dirFileBytes(filepath.Join(tmp, "views")); err != nil {
		return fmt.Errorf("sync run %d: %w", round+1, err)
	}
	if r.Samples, err = readSluiceStats(stats); err != nil {
		return fmt.Errorf("sync run %d: %w", round+1, err)
	}
	rows, err := CountSSBRows(ViewFile(tmp))
	if err != nil {
		return fmt.Errorf("sync run %d: %w", round+1, err)
	}
	if len(lr.Sluice) == 0 {
		lr.Rows = rows
	} else if rows != lr.Rows {
		return fmt.Errorf("sync run %d: the views hold %v, the first run's %v", round+1, rows, lr.Rows)
	}
	lr.Sluice = append(lr.Sluice, r)
	cfg.Logf("sync: %s messages: sluice run %d/%d: %s s, peak RSS %s MB, CPU %s s, other cores busy %.2f",
		groupInt(lr.Messages), round+1, cfg.Runs, seconds(r.Wall), megabytes(r.MaxRSS), seconds(r.CPU), r.OtherCores)
	return nil
}

func (lr *SyncLogReport) runFloor(ctx context.Context, cfg SyncConfig, kind FloorKind, round int) error {
	tmp, err := os.MkdirTemp(cfg.TempDir, "sluice-bench-floor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := runMeasured(ctx, "", cfg.Binary, "--dir", tmp, "bench", "sync-floor", "--floor", string(kind), "--ssb", lr.Path)
	if err != nil {
		return fmt.Errorf("floor %s run %d: %w", kind, round+1, err)
	}
	var res FloorResult
	if err := json.Unmarshal(p.Stdout, &res); err != nil {
		return fmt.Errorf("floor %s run %d: its output is not a FloorResult: %w", kind, round+1, err)
	}
	r := FloorRun{SyncProc: syncProcOf(p), FloorResult: res}
	switch kind {
	case FloorDecode:
		if len(lr.Decode) > 0 && (res.Messages != lr.Decoded.Messages || res.Links != lr.Decoded.Links) {
			return fmt.Errorf("floor decode run %d: decoded %d messages and %d links, the first run %d and %d",
				round+1, res.Messages, res.Links, lr.Decoded.Messages, lr.Decoded.Links)
		}
		lr.Decoded = res
		lr.Decode = append(lr.Decode, r)
	case FloorInsert:
		rows, err := CountSSBRows(ViewFile(tmp))
		if err != nil {
			return fmt.Errorf("floor insert run %d: %w", round+1, err)
		}
		if rows != lr.Rows {
			return fmt.Errorf("floor insert run %d: the views hold %v, after sluice index %v", round+1, rows, lr.Rows)
		}
		lr.Insert = append(lr.Insert, r)
	}
	cfg.Logf("sync: %s messages: floor %s run %d/%d: %s s timed (%s s prepared), peak RSS %s MB, other cores busy %.2f",
		groupInt(lr.Messages), kind, round+1, cfg.Runs, seconds(res.Timed()), seconds(time.Duration(res.PrepareNS)), megabytes(r.MaxRSS), r.OtherCores)
	return nil
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
