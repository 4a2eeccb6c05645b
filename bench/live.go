package bench

// The live-query benchmark ("sluice bench live"): how soon a live query
// hears of an appended entry, in process and across processes, and what
// 1,000 live queries cost an initial sync running beside them. See
// RunLive.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LiveConfig configures RunLive. Only Sluice and Source are required.
type LiveConfig struct {
	// Sluice is the sluice binary run as child processes (import, index,
	// index --follow, index --ssb).
	Sluice string
	// Source is the SSB flumelog-offset file: the initial sync indexes it
	// (sluice index --ssb), and the latency runs use a native log holding
	// its messages, caught up, to which they append.
	Source string
	// Prepared is where the native log is prepared and kept, so later
	// invocations reuse it (bench local uses the same one); empty means a
	// directory in WorkDir.
	Prepared string
	// WorkDir holds the runs' directories, each removed after its run;
	// empty means a temporary directory, removed at the end.
	WorkDir string

	// Watchers is how many live queries are open in the runs with many;
	// default 1000.
	Watchers int
	// Kinds restricts the mix of live queries to these kinds (see
	// liveKinds: feed, thread, latest, followers, name); default all.
	Kinds []string

	// LatencyRounds is how many times each latency setup runs (a round
	// runs each once); default 3; negative runs none.
	LatencyRounds int
	// Appends per latency run; default 200.
	Appends int
	// Interval between two appends; default 10 ms.
	Interval time.Duration
	// SlowAppends and SlowInterval are the same for the runs with
	// Watchers queries at a user's pace, within what one worker can
	// re-run in its share; default 20 every 500 ms.
	SlowAppends  int
	SlowInterval time.Duration
	// IdleFor is how long a latency run measures this process's CPU use
	// with its live queries open and nothing appended; default 1 s.
	IdleFor time.Duration

	// SyncRounds is how many times the initial sync runs without live
	// queries and with Watchers of them for each of Shares; default 3;
	// negative runs none.
	SyncRounds int
	// Shares are the query.LiveOptions.Share values of the sync runs with
	// live queries; default 0 (the default share) and -1 (no bound).
	Shares []float64
	// FinalWait bounds how long after the sync's end every live query may
	// take to deliver the final result; default 2 minutes.
	FinalWait time.Duration
	// QuietWait: before each sync run, wait up to this long for other
	// processes to calm down; default 1 minute; negative never waits.
	QuietWait time.Duration

	// Timeout bounds each child process; default 10 minutes.
	Timeout time.Duration
	// Logf receives progress notes; nil discards them.
	Logf func(format string, args ...any)
}

func (c LiveConfig) withDefaults() LiveConfig {
	if c.Watchers <= 0 {
		c.Watchers = 1000
	}
	if c.LatencyRounds == 0 {
		c.LatencyRounds = 3
	}
	if c.Appends <= 0 {
		c.Appends = 200
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.SlowAppends <= 0 {
		c.SlowAppends = 20
	}
	if c.SlowInterval <= 0 {
		c.SlowInterval = 500 * time.Millisecond
	}
	if c.IdleFor <= 0 {
		c.IdleFor = time.Second
	}
	if c.SyncRounds == 0 {
		c.SyncRounds = 3
	}
	if len(c.Shares) == 0 {
		c.Shares = []float64{0, -1}
	}
	if c.FinalWait <= 0 {
		c.FinalWait = 2 * time.Minute
	}
	if c.QuietWait == 0 {
		c.QuietWait = time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// LiveResult is what RunLive measured.
type LiveResult struct {
	Config  LiveConfig // with defaults filled in
	Machine Machine
	// Entries is the number of messages in Source.
	Entries int64
	// Latency holds the latency runs in the order they ran.
	Latency []*LiveLatencyRun
	// Sync holds the initial-sync runs in the order they ran.
	Sync []*LiveSyncRun
	// Started and Elapsed time the whole benchmark.
	Started time.Time
	Elapsed time.Duration
}

// RunLive runs the latency runs, then the initial-sync runs.
func RunLive(ctx context.Context, cfg LiveConfig) (*LiveResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Sluice == "" || cfg.Source == "" {
		return nil, fmt.Errorf("bench live: the sluice binary and the source log are required")
	}
	res := &LiveResult{Config: cfg, Machine: readMachine(), Started: time.Now()}
	work := cfg.WorkDir
	if work == "" {
		tmp, err := os.MkdirTemp("", "sluice-bench-live-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		work = tmp
	}
	var err error
	if res.Entries, _, _, err = inspectLog(cfg.Source); err != nil {
		return nil, err
	}
	feeds, keys, err := liveArgs(cfg.Source, cfg.Watchers)
	if err != nil {
		return nil, err
	}
	queries, err := liveMix(cfg.Watchers, cfg.Kinds, feeds, keys)
	if err != nil {
		return nil, err
	}
	if cfg.LatencyRounds > 0 {
		if err := liveLatency(ctx, cfg, res, work, queries); err != nil {
			return nil, err
		}
	}
	if cfg.SyncRounds > 0 {
		if err := liveSync(ctx, cfg, res, work, queries); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}

// liveRunDir makes a fresh directory for a run in work.
func liveRunDir(work, name string) (string, error) {
	dir := filepath.Join(work, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}
