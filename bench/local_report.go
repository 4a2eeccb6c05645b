package bench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Targets of the local-first benchmark, for the priority mode with the
// writer: latency while the backlog is indexed, and the backlog's slowdown.
const (
	LocalTargetP99      = 10 * time.Millisecond
	LocalTargetMax      = 50 * time.Millisecond
	LocalTargetSlowdown = 1.10
)

// LocalStats summarises latencies.
type LocalStats struct {
	N             int
	P50, P99, Max time.Duration
}

// localStatsOf returns the nearest-rank percentiles of ds.
func localStatsOf(ds []time.Duration) LocalStats {
	if len(ds) == 0 {
		return LocalStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return LocalStats{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// Latency returns the row-visible latencies of the run's samples appended
// in the given phases (all phases if none is given).
func (r *LocalRun) Latency(phases ...string) LocalStats {
	var ds []time.Duration
	for _, s := range r.Samples {
		if len(phases) == 0 || slices.Contains(phases, s.Phase(r)) {
			ds = append(ds, s.Row)
		}
	}
	return localStatsOf(ds)
}

// catchUp is the phases before the indexer caught up.
var localCatchUp = []string{localPhaseBacklog, localPhaseBuild}

// localMedian is medianOf, NaN for no values (shown as "–").
func localMedian(fs []float64) float64 {
	if len(fs) == 0 {
		return math.NaN()
	}
	return medianOf(fs)
}

// LocalModeSummary is the median over the rounds of one mode.
type LocalModeSummary struct {
	Mode LocalMode
	Runs int
	// Backlog and CaughtUp are the median times (see LocalRun).
	Backlog, CaughtUp time.Duration
	// BacklogRatio and CaughtUpRatio are the medians, over the rounds, of
	// this mode's time divided by the same priority's time without the
	// writer in the same round; NaN without such a pair.
	BacklogRatio, CaughtUpRatio float64
	// DuringBacklog, DuringBuild, CatchUp (both) and Idle are the medians
	// over the runs of each run's percentiles.
	DuringBacklog, DuringBuild, CatchUp, Idle LocalStats
	// WorstCatchUp is the highest latency of any run while catching up.
	WorstCatchUp time.Duration
}

// Summary returns the per-mode medians, in the order of Config.Modes.
func (res *LocalResult) Summary() []LocalModeSummary {
	var out []LocalModeSummary
	for _, m := range res.Config.Modes {
		sum := LocalModeSummary{Mode: m, BacklogRatio: math.NaN(), CaughtUpRatio: math.NaN()}
		var backlog, caught []time.Duration
		var bRatio, cRatio []float64
		var stats [4][]LocalStats
		for i := range res.Runs {
			r := &res.Runs[i]
			if r.Mode != m {
				continue
			}
			sum.Runs++
			backlog = append(backlog, r.Backlog)
			caught = append(caught, r.CaughtUp)
			if base := res.run(LocalMode{Priority: m.Priority}, r.Round); base != nil && m.Writer {
				bRatio = append(bRatio, r.Backlog.Seconds()/base.Backlog.Seconds())
				cRatio = append(cRatio, r.CaughtUp.Seconds()/base.CaughtUp.Seconds())
			}
			for j, ph := range [][]string{{localPhaseBacklog}, {localPhaseBuild}, localCatchUp, {localPhaseIdle}} {
				stats[j] = append(stats[j], r.Latency(ph...))
			}
			sum.WorstCatchUp = max(sum.WorstCatchUp, stats[2][len(stats[2])-1].Max)
		}
		sum.Backlog, sum.CaughtUp = medianOf(backlog), medianOf(caught)
		if len(bRatio) > 0 {
			sum.BacklogRatio, sum.CaughtUpRatio = localMedian(bRatio), localMedian(cRatio)
		}
		for j, dst := range []*LocalStats{&sum.DuringBacklog, &sum.DuringBuild, &sum.CatchUp, &sum.Idle} {
			*dst = localMedianStats(stats[j])
		}
		out = append(out, sum)
	}
	return out
}

func (res *LocalResult) run(m LocalMode, round int) *LocalRun {
	for i := range res.Runs {
		if res.Runs[i].Mode == m && res.Runs[i].Round == round {
			return &res.Runs[i]
		}
	}
	return nil
}

// localMedianStats is the median of each field over the runs that had
// samples.
func localMedianStats(ss []LocalStats) LocalStats {
	var n []float64
	var p50, p99, mx []time.Duration
	for _, s := range ss {
		if s.N == 0 {
			continue
		}
		n = append(n, float64(s.N))
		p50, p99, mx = append(p50, s.P50), append(p99, s.P99), append(mx, s.Max)
	}
	if len(n) == 0 {
		return LocalStats{}
	}
	return LocalStats{N: int(localMedian(n)), P50: medianOf(p50), P99: medianOf(p99), Max: medianOf(mx)}
}

func localMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.2f", ms)
}

func localStatsCells(s LocalStats) string {
	if s.N == 0 {
		return "– | – | – | 0"
	}
	return fmt.Sprintf("%s | %s | %s | %d", localMs(s.P50), localMs(s.P99), localMs(s.Max), s.N)
}

func localRatio(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return fmt.Sprintf("%.3f", f)
}

// WriteMarkdown writes the results as Markdown: the medians, the targets,
// every run's numbers, the follower and CLI experiments. command is the
// command line that produced them.
func (res *LocalResult) WriteMarkdown(w io.Writer, command string) error {
	var b strings.Builder
	cfg := res.Config
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# sluice bench local: %d-entry backlog\n\n", res.Backlog)
	p("A user's own entry must be visible in milliseconds even while a big backlog is indexed.\n\n")
	p("    %s\n\n", command)
	p("%s, %s/%s, %d CPUs, %s; took %.0f s. Runs per mode: %d (medians below; every run under \"Raw\").\n",
		res.Started.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), res.Elapsed.Seconds(), cfg.Runs)
	p("The indexer is a child process, `sluice --dir D index --follow [--no-priority]`, over a fresh copy of a native log\n")
	p("holding the %d messages of `%s` as remote entries, from empty views. With the writer, this process\n", res.Backlog, cfg.Source)
	p("holds the log open for writing and appends one local SSB post every %v (durability %s), from when the indexer\n", cfg.Interval, cfg.Durability)
	p("has started (its since > 0) until it has caught up and %d more. Latency is from `Append` returning to the first read\n", cfg.After)
	p("of `views/ssb.db` (a separate read-only `query.Open` connection, polled every %v while an entry is awaited, every %v\n", cfg.Probe, cfg.MetaPoll)
	p("otherwise) that sees the entry's row in `messages`. Backlog = child start until the view's since reaches %d;\n", res.Backlog)
	p("caught up = until it has also built its secondary indexes. Ratios compare with\n")
	p("the same priority without the writer,")
	p(" run by run in the same round.\n\n")

	sum := res.Summary()
	p("## Medians\n\n")
	p("| mode | backlog s | ratio | caught up s | ratio | catching up: p50 ms | p99 ms | max ms | n | caught up: p50 ms | p99 ms | max ms | n |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range sum {
		p("| %s | %.2f | %s | %.2f | %s | %s | %s |\n", s.Mode, s.Backlog.Seconds(), localRatio(s.BacklogRatio), s.CaughtUp.Seconds(), localRatio(s.CaughtUpRatio),
			localStatsCells(s.CatchUp), localStatsCells(s.Idle))
	}
	var onOff, onOffW []float64
	for i := range res.Runs {
		r := &res.Runs[i]
		if !r.Mode.Priority {
			continue
		}
		if off := res.run(LocalMode{Priority: false, Writer: r.Mode.Writer}, r.Round); off != nil {
			ratio := r.Backlog.Seconds() / off.Backlog.Seconds()
			if r.Mode.Writer {
				onOffW = append(onOffW, ratio)
			} else {
				onOff = append(onOff, ratio)
			}
		}
	}
	if len(onOff) > 0 || len(onOffW) > 0 {
		p("\nPriority on versus off, backlog time, same round (median): ×%s without the writer, ×%s with it.\n",
			localRatio(localMedian(onOff)), localRatio(localMedian(onOffW)))
	}
	p("\nCatching up, by phase (appended while the backlog's entries were applied; while the indexes were built and the file\n")
	p("checkpointed after them):\n\n")
	p("| mode | backlog: p50 ms | p99 ms | max ms | n | index build: p50 ms | p99 ms | max ms | n | worst of all runs ms |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range sum {
		if !s.Mode.Writer {
			continue
		}
		p("| %s | %s | %s | %s |\n", s.Mode, localStatsCells(s.DuringBacklog), localStatsCells(s.DuringBuild), localMs(s.WorstCatchUp))
	}
	p("\n")
	for _, s := range sum {
		if !s.Mode.Writer || !s.Mode.Priority {
			continue
		}
		check := func(st LocalStats, limit time.Duration, v time.Duration) string {
			switch {
			case st.N == 0:
				return "no samples"
			case v <= limit:
				return "met"
			}
			return "**not met**"
		}
		p("Targets (%s, medians): p99 ≤ %v: %s ms while the backlog is applied (%s), %s ms while catching up, index build included (%s). ",
			s.Mode, LocalTargetP99, localMs(s.DuringBacklog.P99), check(s.DuringBacklog, LocalTargetP99, s.DuringBacklog.P99),
			localMs(s.CatchUp.P99), check(s.CatchUp, LocalTargetP99, s.CatchUp.P99))
		p("Max ≤ %v: %s ms during the backlog (%s), %s ms catching up (%s). ",
			LocalTargetMax, localMs(s.DuringBacklog.Max), check(s.DuringBacklog, LocalTargetMax, s.DuringBacklog.Max),
			localMs(s.CatchUp.Max), check(s.CatchUp, LocalTargetMax, s.CatchUp.Max))
		slow := "met"
		if !(s.BacklogRatio <= LocalTargetSlowdown && s.CaughtUpRatio <= LocalTargetSlowdown) {
			slow = "**not met**"
		}
		p("Backlog slowed by ≤ %.0f%%: ×%s to apply the backlog, ×%s to catch up (%s).\n\n", (LocalTargetSlowdown-1)*100,
			localRatio(s.BacklogRatio), localRatio(s.CaughtUpRatio), slow)
	}

	p("## Raw\n\n")
	p("Latency cells are p50 / p99 / max ms (n). Meta ≠ row counts reads where the row and the meta (since, sluice_ahead)\n")
	p("disagreed about an entry (they change in one transaction: must be 0); |row − meta| is the largest difference of the two\n")
	p("latencies. Append is the median / max time `Append` took (fsync included).\n\n")
	p("| round | mode | ready s | backlog s | caught up s | during backlog | during index build | caught up | meta ≠ row | \\|row − meta\\| ms | append ms | ahead applied | peak RSS MB | indexer summary |\n")
	p("|---:|---|---:|---:|---:|---|---|---|---:|---:|---|---:|---:|---|\n")
	for i := range res.Runs {
		r := &res.Runs[i]
		var diff time.Duration
		var appends []time.Duration
		for _, s := range r.Samples {
			diff = max(diff, (s.Row - s.Meta).Abs())
			appends = append(appends, s.Append)
		}
		ap := localStatsOf(appends)
		p("| %d | %s | %.3f | %.3f | %.3f | %s | %s | %s | %d | %s | %s / %s | %d | %.0f | %s |\n", r.Round+1, r.Mode,
			r.Ready.Seconds(), r.Backlog.Seconds(), r.CaughtUp.Seconds(),
			localCell(r.Latency(localPhaseBacklog)), localCell(r.Latency(localPhaseBuild)), localCell(r.Latency(localPhaseIdle)),
			r.MetaMismatch, localMs(diff), localMs(ap.P50), localMs(ap.Max), r.AheadApplied, float64(r.PeakRSSKiB)/1024,
			strings.ReplaceAll(r.Summary, "|", "\\|"))
	}
	p("\n")

	if len(res.Follow) > 0 {
		p("## How the follower notices new entries\n\n")
		p("An `index.Indexer` over a `log.Reader` in this process (`Reader.SetPollInterval`), caught up with a %d-entry\n", cfg.FollowEntries)
		p("log; %d local entries appended every %v by a `log.Log` in this process (the Reader sees them through the files,\n", cfg.FollowAppends, cfg.Interval)
		p("as across processes). CPU is this process's CPU time per wall second (1.0 = one core), idle for %v, then\n", cfg.FollowIdle)
		p("while appending (the writer and the polling reader included). The indexer may apply an entry while `Append` is still\n")
		p("syncing it (a Reader sees a record once written, before the fsync), so latency from `Append`'s start is shown too.\n")
		p("\"poll\": the Reader only polls (`Reader.SetWatch(false)`, `sluice index --no-watch`); \"inotify + poll\": it also\n")
		p("watches the log's directory and wakes when a segment is written to (the default).\n\n")
		p("| the follower | p50 ms | p99 ms | max ms | n | from Append's start: p50 ms | p99 ms | max ms | Append p50 ms | idle CPU | CPU while appending |\n")
		p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, f := range res.Follow {
			var ds, fromStart, appends []time.Duration
			for _, s := range f.Samples {
				ds = append(ds, s.Row)
				fromStart = append(fromStart, s.Append+s.Row)
				appends = append(appends, s.Append)
			}
			st := localStatsOf(fromStart)
			p("| %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", f.Name(), localStatsCells(localStatsOf(ds)),
				localMs(st.P50), localMs(st.P99), localMs(st.Max), localMs(localStatsOf(appends).P50), f.IdleCPU, f.BusyCPU)
		}
		p("\n")
	}
	if c := res.CLI; c != nil {
		p("## `sluice append --local --wait` end to end\n\n")
		p("`sluice index --follow` indexing the backlog in one process; `sluice append --local --json MSG --wait` run back to back\n")
		p("in others, alternating with runs without `--wait`: time from starting the process to reading the seq it prints.\n")
		p("The indexer applied the backlog in %.2f s and caught up in %.2f s. Runs after which the entry's row was not\n", c.Backlog.Seconds(), c.CaughtUp.Seconds())
		p("readable: %d.\n\n", c.NotVisible)
		p("| command | started during | p50 ms | p99 ms | max ms | n |\n")
		p("|---|---|---:|---:|---:|---:|\n")
		for _, k := range []struct {
			name string
			runs []LocalCLIRun
		}{{"append --local --wait", c.Wait}, {"append --local", c.NoWait}} {
			for _, ph := range []string{localPhaseBacklog, localPhaseBuild, localPhaseIdle} {
				var ds []time.Duration
				for _, r := range k.runs {
					if r.Phase(c) == ph {
						ds = append(ds, r.Took)
					}
				}
				p("| %s | %s | %s |\n", k.name, ph, localStatsCells(localStatsOf(ds)))
			}
		}
		p("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func localCell(s LocalStats) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s (%d)", localMs(s.P50), localMs(s.P99), localMs(s.Max), s.N)
}
