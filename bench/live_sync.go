package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicedb/sluice/query"
)

// LiveSyncRun is one initial sync, sluice index --ssb SOURCE from empty
// views in a child process, with or without live queries open in this
// process while it runs.
type LiveSyncRun struct {
	Round int
	// Watchers is how many live queries were open (0: none).
	Watchers int
	// Share is their Live's Share (0: the default).
	Share float64
	// Wall is from the child's start to its exit; CPU its user and system
	// time.
	Wall, CPU time.Duration
	// BenchCPU is the CPU time this process used meanwhile (its live
	// queries).
	BenchCPU time.Duration
	// OtherCores is how many cores other processes kept busy meanwhile.
	OtherCores float64
	// Opened is when every live query had been subscribed, since the
	// child started (the view file and its tables must exist first).
	Opened time.Duration
	// Final is, over the live queries, the time from the child's exit to
	// the delivery of the result equal to the query run once on the final
	// views (0 for those delivered before the exit).
	Final LocalStats
	// Missed counts the live queries that had not delivered it within
	// FinalWait.
	Missed int
	// Runs and Results count the Live's query runs and delivered results.
	Runs, Results uint64
}

// Name describes the run's setup.
func (r *LiveSyncRun) Name() string {
	if r.Watchers == 0 {
		return "no live queries"
	}
	return fmt.Sprintf("%d live queries, %s", r.Watchers, liveShareName(r.Share))
}

func liveShareName(s float64) string {
	switch {
	case s == 0:
		return "share 0.25 (default)"
	case s < 0:
		return "no share bound"
	}
	return fmt.Sprintf("share %g", s)
}

// liveSync runs the initial sync SyncRounds times without live queries and
// with them for each share, rotating the order round by round.
func liveSync(ctx context.Context, cfg LiveConfig, res *LiveResult, work string, mix []liveQuery) error {
	setups := []LiveSyncRun{{}}
	for _, s := range cfg.Shares {
		setups = append(setups, LiveSyncRun{Watchers: cfg.Watchers, Share: s})
	}
	for round := range cfg.SyncRounds {
		for k := range setups {
			run := setups[(k+round)%len(setups)]
			run.Round = round
			if cfg.QuietWait > 0 {
				if _, quiet, err := waitQuiet(ctx, cfg.QuietWait); err != nil {
					return err
				} else if !quiet {
					cfg.Logf("live: the machine is still busy after %v; running anyway", cfg.QuietWait)
				}
			}
			if err := liveSyncOnce(ctx, cfg, work, &run, mix); err != nil {
				return fmt.Errorf("bench live: sync, %s: %w", run.Name(), err)
			}
			cfg.Logf("live: sync round %d, %s: %.2f s (final results: max %s ms after, %d missed)",
				round+1, run.Name(), run.Wall.Seconds(), localMs(run.Final.Max), run.Missed)
			res.Sync = append(res.Sync, &run)
		}
	}
	return nil
}

// liveSyncOnce runs one initial sync in a fresh directory.
func liveSyncOnce(ctx context.Context, cfg LiveConfig, work string, run *LiveSyncRun, mix []liveQuery) error {
	dir, err := liveRunDir(work, "sync")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	out, err := os.Create(filepath.Join(dir, "index.out"))
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(tctx, cfg.Sluice, "--dir", dir, "index", "--ssb", cfg.Source)
	cmd.Stdout, cmd.Stderr = out, out
	localSysProcAttr(cmd)
	busy0, _ := procStatBusy()
	cpu0 := localCPUTime()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	var exitAt time.Time
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		exitAt = time.Now()
		close(exited)
	}()
	var w *liveWatchers
	if run.Watchers > 0 {
		w, err = liveOpenWatchers(ctx, filepath.Join(dir, "views"), mix[:run.Watchers], run.Share, exited)
		if err != nil {
			cmd.Process.Kill()
			<-exited
			return err
		}
		defer w.close()
		run.Opened = w.opened.Sub(start)
	}
	<-exited
	if waitErr != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s: %w%s", strings.Join(cmd.Args, " "), waitErr, stderrTail(b))
	}
	run.Wall = exitAt.Sub(start)
	run.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	run.BenchCPU = localCPUTime() - cpu0
	if busy1, ok := procStatBusy(); ok && busy0 > 0 {
		run.OtherCores = max(0, ((busy1-busy0)-run.CPU-run.BenchCPU).Seconds()/run.Wall.Seconds())
	}
	if w == nil {
		return nil
	}
	final, missed, err := w.final(ctx, exitAt, cfg.FinalWait)
	if err != nil {
		return err
	}
	run.Final, run.Missed = localStatsOf(final), missed
	st := w.live.Stats()
	run.Runs, run.Results = st.Runs, st.Results
	return nil
}

// liveWatchers are live queries opened while a sync runs.
type liveWatchers struct {
	db     *query.DB
	live   *query.Live
	qs     []liveQuery
	subs   []*query.Subscription
	opened time.Time
}

// liveOpenWatchers subscribes to qs over the view files of dir as soon as
// the indexer has created them and their tables: until then it tries
// again every millisecond. It fails if exited is closed first.
func liveOpenWatchers(ctx context.Context, dir string, qs []liveQuery, share float64, exited <-chan struct{}) (*liveWatchers, error) {
	var last error
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("the sync ended before the live queries could open: %v", last)
		case <-ctx.Done():
			return nil, ctx.Err()
		default:
		}
		w, err := liveTryWatchers(ctx, dir, qs, share)
		if err == nil {
			return w, nil
		}
		last = err
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func liveTryWatchers(ctx context.Context, dir string, qs []liveQuery, share float64) (*liveWatchers, error) {
	if _, err := os.Stat(ViewFile(filepath.Dir(dir))); err != nil {
		return nil, err
	}
	db, err := query.OpenDir(dir, query.Options{})
	if err != nil {
		return nil, err
	}
	live, err := query.NewLive(db, query.LiveOptions{Share: share})
	if err != nil {
		db.Close()
		return nil, err
	}
	subs, err := liveSubscribe(ctx, live, qs)
	if err != nil {
		live.Close()
		db.Close()
		return nil, err
	}
	return &liveWatchers{db: db, live: live, qs: qs, subs: subs, opened: time.Now()}, nil
}

func (w *liveWatchers) close() {
	w.live.Close()
	w.db.Close()
}

// final runs each query once on the final views and waits, up to limit
// in all, for every live query to deliver that result. It returns, per
// query that did, the time from end to the delivery (0 if before), and how
// many did not.
func (w *liveWatchers) final(ctx context.Context, end time.Time, limit time.Duration) ([]time.Duration, int, error) {
	deadline := time.Now().Add(limit)
	var after []time.Duration
	missed := 0
	for i, q := range w.qs {
		want, err := liveOnce(ctx, w.db, q)
		if err != nil {
			return nil, 0, err
		}
		for {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			r, err := w.subs[i].Next(dctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				missed++
				break
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", q.Kind, err)
			}
			if liveRows(r.Rows) == want {
				after = append(after, max(0, r.Time.Sub(end)))
				break
			}
		}
	}
	return after, missed, nil
}

// liveOnce runs q once and renders its rows as liveRows does.
func liveOnce(ctx context.Context, db *query.DB, q liveQuery) (string, error) {
	rows, err := db.Query(ctx, q.SQL, q.Args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		all = append(all, vals)
	}
	return liveRows(all), rows.Err()
}

// liveRows renders rows for comparison.
func liveRows(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		for _, v := range r {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%T:%v\x1f", v, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
