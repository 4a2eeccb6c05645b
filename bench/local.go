package bench

// The local-first benchmark ("sluice bench local"): how soon a user's own
// entry shows in the views while a big replicated backlog is indexed.
//
// It is run across processes, the way CLI users meet it: the indexer is a
// child process, "sluice --dir D index --follow", reading the log without
// the writer's lock, and this process opens the log for writing, appends
// one local SSB post every LocalConfig.Interval and watches the view file
// from a separate read-only connection until the row shows. See RunLocal.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/log"
)

// LocalConfig configures RunLocal. Only Sluice and Source are required.
type LocalConfig struct {
	// Sluice is the sluice binary run as the indexer (index --follow) and
	// as the CLI appender (append --local --wait).
	Sluice string
	// Source is the SSB flumelog-offset file whose messages make the
	// backlog; they are imported once into a native log as remote entries.
	Source string
	// Prepared is the directory the native log is prepared in and kept,
	// so later invocations reuse it; empty means a directory in WorkDir.
	Prepared string
	// WorkDir holds the directories of the runs, each removed after its
	// run; empty means a temporary directory, removed at the end.
	WorkDir string
	// Runs is how many times each mode runs; default 3; negative runs
	// none (only the follower and CLI experiments).
	Runs int
	// Interval between two local appends; default 10 ms.
	Interval time.Duration
	// Probe is how often the view file is read while an appended entry
	// is not yet visible; default 250 µs.
	Probe time.Duration
	// MetaPoll is how often the view file is read otherwise (to see the
	// backlog's progress); default 2 ms.
	MetaPoll time.Duration
	// After is how many entries are appended once the indexer has caught
	// up (the idle-follow latency); default 50.
	After int
	// Durability of the local appends; the zero value is log.SyncAlways,
	// what an application would use for its user's actions.
	Durability log.Durability
	// Timeout bounds each indexer run; default 10 minutes.
	Timeout time.Duration
	// IndexFlags are extra flags for the indexer child, sluice index
	// --follow (for example "--poll=250us").
	IndexFlags []string
	// Modes are the runs of the indexer, each repeated Runs times (a
	// round runs every mode once, in this order); default LocalModes().
	Modes []LocalMode

	// PollIntervals are the poll intervals of a log.Reader that only
	// polls (SetWatch(false)), compared by the follower experiment (an
	// index.Indexer over a log.Reader in this process, idle, with appends
	// every Interval); default 1 ms (log.DefaultPollInterval), 250 µs,
	// 5 ms. None of these, nor the next, if FollowAppends < 0.
	PollIntervals []time.Duration
	// WatchPollIntervals are the poll intervals of the follower
	// experiments where the Reader also watches the log's directory
	// (inotify); default 1 ms and 100 ms.
	WatchPollIntervals []time.Duration
	// NoWatch skips the experiments of WatchPollIntervals.
	NoWatch bool
	// FollowEntries is the size of the follower experiment's log (the
	// first entries of the prepared log); default 3000.
	FollowEntries int
	// FollowAppends is how many entries each follower experiment appends;
	// default 100; negative skips the experiment.
	FollowAppends int
	// FollowIdle is how long the follower experiment measures the CPU use
	// of an idle follower; default 1 s.
	FollowIdle time.Duration
	// CLIAppends is how many "sluice append --local --wait" processes run
	// after the indexer has caught up (they also run during the backlog,
	// back to back); default 20; negative skips the CLI experiment.
	CLIAppends int

	// Logf receives progress notes; nil discards them.
	Logf func(format string, args ...any)
}

// LocalMode is one way of running the indexer.
type LocalMode struct {
	// Priority is false for "index --no-priority".
	Priority bool
	// Writer appends local entries while the backlog is indexed.
	Writer bool
}

// String names the mode: "priority+writer", "no-priority", ...
func (m LocalMode) String() string {
	s := "priority"
	if !m.Priority {
		s = "no-priority"
	}
	if m.Writer {
		s += "+writer"
	}
	return s
}

// ParseLocalMode is the inverse of LocalMode.String.
func ParseLocalMode(s string) (LocalMode, error) {
	for _, m := range LocalModes() {
		if m.String() == s {
			return m, nil
		}
	}
	return LocalMode{}, fmt.Errorf("unknown mode %q (want priority, priority+writer, no-priority or no-priority+writer)", s)
}

// LocalModes returns the default modes: priority on and off, each without
// and with the writer.
func LocalModes() []LocalMode {
	return []LocalMode{{Priority: true}, {Priority: true, Writer: true}, {Priority: false}, {Priority: false, Writer: true}}
}

func (c LocalConfig) withDefaults() LocalConfig {
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.Probe <= 0 {
		c.Probe = 250 * time.Microsecond
	}
	if c.MetaPoll <= 0 {
		c.MetaPoll = 2 * time.Millisecond
	}
	if c.After <= 0 {
		c.After = 50
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if len(c.Modes) == 0 {
		c.Modes = LocalModes()
	}
	if len(c.PollIntervals) == 0 {
		c.PollIntervals = []time.Duration{log.DefaultPollInterval, 250 * time.Microsecond, 5 * time.Millisecond}
	}
	if c.NoWatch {
		c.WatchPollIntervals = nil
	} else if len(c.WatchPollIntervals) == 0 {
		c.WatchPollIntervals = []time.Duration{log.DefaultPollInterval, 100 * time.Millisecond}
	}
	if c.FollowEntries <= 0 {
		c.FollowEntries = 3000
	}
	if c.FollowAppends == 0 {
		c.FollowAppends = 100
	}
	if c.FollowIdle <= 0 {
		c.FollowIdle = time.Second
	}
	if c.CLIAppends == 0 {
		c.CLIAppends = 20
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// LocalResult is what RunLocal measured.
type LocalResult struct {
	Config LocalConfig // with defaults filled in
	// Backlog is the number of entries of the prepared log.
	Backlog log.Seq
	// Runs in the order they ran.
	Runs []LocalRun
	// Follow holds the follower experiment, one per PollIntervals, then
	// one per WatchPollIntervals.
	Follow []LocalFollow
	// CLI is the "sluice append --local --wait" experiment; nil if skipped.
	CLI *LocalCLI
	// Started and Elapsed time the whole benchmark.
	Started time.Time
	Elapsed time.Duration
}

// LocalRun is one run of the indexer over the backlog.
type LocalRun struct {
	Mode  LocalMode
	Round int // 0-based
	// Ready is when the indexer had started indexing (the view's since
	// was above 0): the writer starts then. Backlog is when the view had
	// applied every backlog entry (since reached the backlog's last seq);
	// CaughtUp when it had also built its secondary indexes and left bulk
	// mode (checkpointed and synced the file). All three from the start of
	// the child process.
	Ready, Backlog, CaughtUp time.Duration
	// Samples are the appended entries, in seq order.
	Samples []LocalSample
	// MetaMismatch counts polls where a sample's row and the view's meta
	// (since, sluice_ahead) disagreed about whether it is visible; they
	// are written in one transaction, so it must be 0.
	MetaMismatch int
	// AheadApplied is the indexer's count of local entries applied ahead
	// of the backlog, and PeakRSSKiB its peak resident set size (from its
	// --stats-file).
	AheadApplied int64
	PeakRSSKiB   int64
	// Summary is the indexer's last line on stderr.
	Summary string
}

// LocalSample is one appended local entry.
type LocalSample struct {
	Seq log.Seq
	// Append is how long Append took (with the fsync of SyncAlways).
	Append time.Duration
	// At is when Append returned, from the start of the child.
	At time.Duration
	// Row is the time from Append returning to the first read of the view
	// file that saw the entry's row in messages; Meta the same for the
	// views' meta saying it shows (since >= seq, or seq in sluice_ahead).
	Row, Meta time.Duration
}

// Phase says when the sample was appended: during the backlog, while the
// indexer built its indexes after it, or once it had caught up.
func (s LocalSample) Phase(r *LocalRun) string { return localPhase(s.At, r.Backlog, r.CaughtUp) }

// localPhase names the phase of an indexer run at time at, given when it
// had applied the backlog and when it had caught up.
func localPhase(at, backlog, caughtUp time.Duration) string {
	switch {
	case at < backlog:
		return localPhaseBacklog
	case at < caughtUp:
		return localPhaseBuild
	}
	return localPhaseIdle
}

const (
	localPhaseBacklog = "backlog"
	localPhaseBuild   = "index build"
	localPhaseIdle    = "caught up"
)

// RunLocal prepares the native log from cfg.Source (once), then runs the
// indexer over a copy of it from empty views in each mode, cfg.Runs
// times, and the follower and CLI experiments. It does not print; it
// reports progress through cfg.Logf.
func RunLocal(ctx context.Context, cfg LocalConfig) (*LocalResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Sluice == "" || cfg.Source == "" {
		return nil, errors.New("bench local: the sluice binary and the source log are required")
	}
	if _, err := os.Stat(cfg.Sluice); err != nil {
		return nil, fmt.Errorf("bench local: sluice binary: %w", err)
	}
	res := &LocalResult{Config: cfg, Started: time.Now()}
	work := cfg.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "sluice-bench-local-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		work = dir
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	prepared := cfg.Prepared
	if prepared == "" {
		prepared = filepath.Join(work, "prepared")
	}
	prep, err := localPrepare(ctx, cfg.Sluice, cfg.Source, prepared, cfg.Logf)
	if err != nil {
		return nil, err
	}
	res.Backlog = prep.last
	for round := range cfg.Runs {
		for _, m := range cfg.Modes {
			cfg.Logf("round %d/%d: %s", round+1, cfg.Runs, m)
			r, err := localRunOnce(ctx, cfg, prep, work, m, round)
			if err != nil {
				return nil, fmt.Errorf("bench local: %s, round %d: %w", m, round+1, err)
			}
			cfg.Logf("  backlog %.2fs, caught up %.2fs, %d appends", r.Backlog.Seconds(), r.CaughtUp.Seconds(), len(r.Samples))
			res.Runs = append(res.Runs, *r)
		}
	}
	if err := prep.check(); err != nil {
		return nil, err
	}
	if cfg.FollowAppends > 0 {
		type follower struct {
			poll  time.Duration
			watch bool
		}
		var followers []follower
		for _, d := range cfg.PollIntervals {
			followers = append(followers, follower{d, false})
		}
		for _, d := range cfg.WatchPollIntervals {
			followers = append(followers, follower{d, true})
		}
		for _, fl := range followers {
			cfg.Logf("follower: poll every %v, watching the log: %v", fl.poll, fl.watch)
			f, err := localFollow(ctx, cfg, prep, work, fl.poll, fl.watch)
			if err != nil {
				return nil, fmt.Errorf("bench local: follower, poll %v, watch %v: %w", fl.poll, fl.watch, err)
			}
			res.Follow = append(res.Follow, *f)
		}
	}
	if cfg.CLIAppends > 0 {
		cfg.Logf("sluice append --local --wait")
		c, err := localCLI(ctx, cfg, prep, work)
		if err != nil {
			return nil, fmt.Errorf("bench local: append --wait: %w", err)
		}
		res.CLI = c
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}
