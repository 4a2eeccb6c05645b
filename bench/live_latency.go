package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// How the live queries of a latency run hear of changes.
const (
	// LiveNotifier: the in-process Indexer's commit notices
	// (query.LiveOptions.Notifier), besides the watch and the slow poll.
	LiveNotifier = "notifier"
	// LiveWatch: the default, an inotify watch of the views directory and
	// a poll of PRAGMA data_version every 100 ms.
	LiveWatch = "watch"
	// LivePoll: PRAGMA data_version every 1 ms, no watch (NoWatch).
	LivePoll = "poll"
)

// LiveLatencyRun is one latency run: live queries open over caught-up
// views, one local post appended every Interval, and the time from Append
// returning to the measured query's Next returning a result that shows it.
type LiveLatencyRun struct {
	Round int
	// InProcess: the indexer runs in this process (index.Indexer.Run);
	// otherwise it is a child process, sluice index --follow.
	InProcess bool
	// Detect is LiveNotifier, LiveWatch or LivePoll.
	Detect string
	// Queries is how many live queries were open: the measured one, and
	// the rest of the mix.
	Queries int
	// Appends were made every Interval.
	Appends  int
	Interval time.Duration
	// Samples are the latencies, Stats their percentiles.
	Samples []time.Duration
	Stats   LocalStats
	// IdleCPU is the cores this process used, its queries open and
	// nothing appended (runs across processes only, where this process
	// does nothing else; -1 otherwise).
	IdleCPU float64
	// Runs and Results count the Live's query runs and delivered results
	// during the appends, RunTime the time the runs took.
	Runs, Results uint64
	RunTime       time.Duration
}

// Name describes the run's setup.
func (r *LiveLatencyRun) Name() string {
	where := "across processes"
	if r.InProcess {
		where = "in process"
	}
	return fmt.Sprintf("%s, %s, %d queries, every %v", where, r.Detect, r.Queries, r.Interval)
}

// liveLatencySetups are the setups of a latency round: one live query,
// then cfg.Watchers at a user's pace, then at the pace of the first.
func liveLatencySetups(cfg LiveConfig) []LiveLatencyRun {
	var out []LiveLatencyRun
	for _, pace := range []struct {
		queries, appends int
		interval         time.Duration
	}{{1, cfg.Appends, cfg.Interval}, {cfg.Watchers, cfg.SlowAppends, cfg.SlowInterval}, {cfg.Watchers, cfg.Appends, cfg.Interval}} {
		for _, where := range []struct {
			in      bool
			detects []string
		}{{true, []string{LiveNotifier, LiveWatch, LivePoll}}, {false, []string{LiveWatch, LivePoll}}} {
			for _, d := range where.detects {
				out = append(out, LiveLatencyRun{InProcess: where.in, Detect: d, Queries: pace.queries, Appends: pace.appends, Interval: pace.interval})
			}
		}
	}
	return out
}

// liveLatency prepares a caught-up copy of the source as a native log and
// runs the latency setups, LatencyRounds times each.
func liveLatency(ctx context.Context, cfg LiveConfig, res *LiveResult, work string, mix []liveQuery) error {
	prepared := cfg.Prepared
	if prepared == "" {
		prepared = filepath.Join(work, "prepared")
	}
	prep, err := localPrepare(ctx, cfg.Sluice, cfg.Source, prepared, cfg.Logf)
	if err != nil {
		return err
	}
	dir, err := liveRunDir(work, "latency")
	if err != nil {
		return err
	}
	if err := prep.clone(filepath.Join(dir, "log")); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	p, err := runMeasured(tctx, "", cfg.Sluice, "--dir", dir, "index")
	cancel()
	if err != nil {
		return fmt.Errorf("bench live: index the latency runs' log: %w", err)
	}
	cfg.Logf("live: indexed %d entries for the latency runs in %.1f s", prep.last, p.Wall.Seconds())
	for round := range cfg.LatencyRounds {
		for _, setup := range liveLatencySetups(cfg) {
			run := setup
			run.Round = round
			if err := liveLatencyOnce(ctx, cfg, dir, &run, mix); err != nil {
				return fmt.Errorf("bench live: %s: %w", run.Name(), err)
			}
			cfg.Logf("live: round %d, %s: p50 %s ms, p99 %s ms, max %s ms", round+1, run.Name(), localMs(run.Stats.P50), localMs(run.Stats.P99), localMs(run.Stats.Max))
			res.Latency = append(res.Latency, &run)
		}
	}
	return nil
}

// liveLatencyOnce runs one latency setup over the caught-up views in dir.
func liveLatencyOnce(ctx context.Context, cfg LiveConfig, dir string, run *LiveLatencyRun, mix []liveQuery) (err error) {
	// Durability none: the time measured is the indexer's and the live
	// query's, not the disk's (an fsync on this shared disk varies by
	// tens of milliseconds).
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		return err
	}
	defer l.Close()
	var notifier query.Notifier
	if run.InProcess {
		f, err := view.OpenFile(ViewFile(dir), []view.View{ssb.View{}}, view.Options{})
		if err != nil {
			return err
		}
		defer f.Close()
		ix, err := index.New(l, []*view.File{f}, index.Options{})
		if err != nil {
			return err
		}
		if run.Detect == LiveNotifier {
			notifier = ix
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- ix.Run(runCtx) }()
		defer func() {
			stop()
			if e := <-done; e != nil && !errors.Is(e, context.Canceled) && err == nil {
				err = fmt.Errorf("indexer: %w", e)
			}
		}()
	} else {
		child, err := localStartIndexer(LocalConfig{Sluice: cfg.Sluice}, dir)
		if err != nil {
			return err
		}
		defer func() {
			if e := child.stop(30 * time.Second); e != nil && err == nil {
				err = e
			}
		}()
	}
	db, err := query.OpenDir(filepath.Join(dir, "views"), query.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	live, err := query.NewLive(db, query.LiveOptions{Notifier: notifier, NoWatch: run.Detect == LivePoll})
	if err != nil {
		return err
	}
	defer live.Close()
	// The measured query last: it is queued after all the others.
	qs := append(mix[:run.Queries-1:run.Queries-1], liveMeasured())
	subs, err := liveSubscribe(ctx, live, qs)
	if err != nil {
		return err
	}
	for _, s := range subs { // every first result, before anything is measured
		if _, err := liveNext(ctx, s, 30*time.Second); err != nil {
			return err
		}
	}
	measured := subs[len(subs)-1]
	name := fmt.Sprintf("live-%d-%t-%s-%d-%d", run.Round, run.InProcess, run.Detect, run.Queries, time.Now().UnixNano())
	prev := ""
	appendOne := func(i int) (log.Seq, time.Time, error) {
		payload, key := localMessage(name, i, prev, time.Now())
		prev = key
		called := time.Now()
		seqs, err := l.Append(ctx, log.Record{Origin: log.Local, Payload: payload})
		if err != nil {
			return 0, called, err
		}
		return seqs[0], called, nil
	}
	await := func(seq log.Seq) error {
		for {
			r, err := liveNext(ctx, measured, 30*time.Second)
			if err != nil {
				return fmt.Errorf("await seq %d: %w", seq, err)
			}
			if r.Shows(ssb.Name, seq) {
				return nil
			}
		}
	}
	// Warm-up appends (the child may still be starting), not counted.
	const warmUp = 5
	for i := 1; i <= warmUp; i++ {
		seq, _, err := appendOne(i)
		if err == nil {
			err = await(seq)
		}
		if err != nil {
			return err
		}
	}
	run.IdleCPU = -1
	if !run.InProcess {
		cpu0, t0 := localCPUTime(), time.Now()
		if err := sleepCtx(ctx, cfg.IdleFor); err != nil {
			return err
		}
		run.IdleCPU = (localCPUTime() - cpu0).Seconds() / time.Since(t0).Seconds()
	}
	st0 := live.Stats()
	tick := time.NewTicker(run.Interval)
	defer tick.Stop()
	for i := warmUp + 1; i <= warmUp+run.Appends; i++ {
		seq, called, err := appendOne(i)
		if err != nil {
			return err
		}
		if err := await(seq); err != nil {
			return err
		}
		run.Samples = append(run.Samples, time.Since(called))
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	st := live.Stats()
	run.Runs, run.Results, run.RunTime = st.Runs-st0.Runs, st.Results-st0.Results, st.RunTime-st0.RunTime
	run.Stats = localStatsOf(run.Samples)
	return nil
}

// liveSubscribe subscribes to every query; on an error it closes those
// it had opened.
func liveSubscribe(ctx context.Context, live *query.Live, qs []liveQuery) ([]*query.Subscription, error) {
	subs := make([]*query.Subscription, 0, len(qs))
	for _, q := range qs {
		s, err := live.Subscribe(ctx, q.SQL, q.Args...)
		if err != nil {
			for _, s := range subs {
				s.Close()
			}
			return nil, fmt.Errorf("subscribe to %s: %w", q.Kind, err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// liveNext is Next bounded by limit.
func liveNext(ctx context.Context, s *query.Subscription, limit time.Duration) (*query.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return s.Next(ctx)
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
