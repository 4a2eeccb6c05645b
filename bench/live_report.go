package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// LiveLatencySummary is the medians of a latency setup's runs.
type LiveLatencySummary struct {
	Setup *LiveLatencyRun // the first run of the setup
	Runs  int
	// Stats and CallStats are the medians of each percentile over the
	// runs, from Append returning and from Append called.
	Stats, CallStats LocalStats
	// IdleCPU is the median idle CPU (cores), -1 where not measured.
	IdleCPU float64
	// RunsPerAppend is the median of the Live's query runs per append,
	// RunTimePerAppend of the time they took.
	RunsPerAppend    float64
	RunTimePerAppend time.Duration
}

// LatencySummary groups the latency runs by setup, in the order the
// setups first ran.
func (res *LiveResult) LatencySummary() []LiveLatencySummary {
	var out []LiveLatencySummary
	seen := map[string]int{}
	var stats [][]LocalStats
	var idle, per [][]float64
	var perTime [][]time.Duration
	for _, r := range res.Latency {
		i, ok := seen[r.Name()]
		if !ok {
			i = len(out)
			seen[r.Name()] = i
			out = append(out, LiveLatencySummary{Setup: r})
			stats, idle, per, perTime = append(stats, nil), append(idle, nil), append(per, nil), append(perTime, nil)
		}
		out[i].Runs++
		stats[i] = append(stats[i], r.Stats)
		if r.IdleCPU >= 0 {
			idle[i] = append(idle[i], r.IdleCPU)
		}
		if len(r.Samples) > 0 {
			per[i] = append(per[i], float64(r.Runs)/float64(len(r.Samples)))
			perTime[i] = append(perTime[i], r.RunTime/time.Duration(len(r.Samples)))
		}
	}
	for i := range out {
		out[i].Stats = localMedianStats(stats[i])
		if len(perTime[i]) > 0 {
			out[i].RunTimePerAppend = medianOf(perTime[i])
		}
		out[i].IdleCPU = -1
		if len(idle[i]) > 0 {
			out[i].IdleCPU = localMedian(idle[i])
		}
		out[i].RunsPerAppend = localMedian(per[i])
	}
	return out
}

// LiveSyncSummary is the medians of a sync setup's runs.
type LiveSyncSummary struct {
	Setup *LiveSyncRun
	Runs  int
	Walls []time.Duration
	// Wall, CPU, BenchCPU and OtherCores are medians.
	Wall, CPU, BenchCPU time.Duration
	OtherCores          float64
	// Ratio is the median, over the rounds, of the run's wall over the
	// wall of the run without live queries in the same round.
	Ratio float64
	// Final is the median of each percentile; Missed the total.
	Final     LocalStats
	Missed    int
	Opened    time.Duration
	QueryRuns float64 // median query runs
	Results   float64 // median results delivered
	Watchers  int
}

// SyncSummary groups the sync runs by setup.
func (res *LiveResult) SyncSummary() []LiveSyncSummary {
	base := map[int]time.Duration{} // round → wall without live queries
	for _, r := range res.Sync {
		if r.Watchers == 0 {
			base[r.Round] = r.Wall
		}
	}
	var out []LiveSyncSummary
	seen := map[string]int{}
	type acc struct {
		cpu, bench, opened []time.Duration
		other, ratio       []float64
		runs, results      []float64
		final              []LocalStats
	}
	var accs []*acc
	for _, r := range res.Sync {
		i, ok := seen[r.Name()]
		if !ok {
			i = len(out)
			seen[r.Name()] = i
			out = append(out, LiveSyncSummary{Setup: r, Watchers: r.Watchers})
			accs = append(accs, &acc{})
		}
		s, a := &out[i], accs[i]
		s.Runs++
		s.Walls = append(s.Walls, r.Wall)
		s.Missed += r.Missed
		a.cpu, a.bench, a.opened = append(a.cpu, r.CPU), append(a.bench, r.BenchCPU), append(a.opened, r.Opened)
		a.other = append(a.other, r.OtherCores)
		a.runs, a.results = append(a.runs, float64(r.Runs)), append(a.results, float64(r.Results))
		a.final = append(a.final, r.Final)
		if b, ok := base[r.Round]; ok && b > 0 {
			a.ratio = append(a.ratio, r.Wall.Seconds()/b.Seconds())
		}
	}
	for i := range out {
		s, a := &out[i], accs[i]
		s.Wall, s.CPU, s.BenchCPU, s.Opened = medianOf(s.Walls), medianOf(a.cpu), medianOf(a.bench), medianOf(a.opened)
		s.OtherCores, s.Ratio = localMedian(a.other), localMedian(a.ratio)
		s.QueryRuns, s.Results = localMedian(a.runs), localMedian(a.results)
		s.Final = localMedianStats(a.final)
	}
	return out
}

// WriteMarkdown writes the report: what ran, the medians against the
// targets, and every run. command is the command line that produced it.
func (res *LiveResult) WriteMarkdown(w io.Writer, command string) error {
	mw := &mdWriter{w: w}
	p := mw.printf
	p("# sluice bench live: live queries\n\n")
	p("    %s\n\n", command)
	p("%s. Took %.0f s.\n\n", res.Machine, res.Elapsed.Seconds())
	p("A live query (`query.Live.Subscribe`) delivers its result again when a view file it reads has changed and the result\n")
	p("with it. Changes are noticed through `PRAGMA data_version` on one connection for all live queries, woken by an inotify\n")
	p("watch of the views directory (then polled every 1 ms for 50 ms, since the watch fires before the commit is visible), by\n")
	p("an in-process `index.Indexer` (`LiveOptions.Notifier`), and by a poll (100 ms; 1 ms with `NoWatch`).\n\n")
	if len(res.Latency) > 0 {
		res.latencySection(mw)
	}
	if len(res.Sync) > 0 {
		res.syncSection(mw)
	}
	p("## The live queries\n\n")
	p("The measured query is `%s` with the local author's feed: every append changes it. The others, in turn:\n\n", liveMeasured().SQL)
	var rows [][]string
	for _, k := range liveKinds {
		rows = append(rows, []string{k.name, "`" + k.sql + "`"})
	}
	mw.table([]string{"kind", "statement"}, rows)
	p("\nArguments are feeds and message keys of the source log; `latest` cycles through post, vote, contact and about.\n")
	p("During an initial sync the view has no secondary index yet: `feed` and `thread` scan their table on every run until\n")
	p("the indexes are built at the end.\n")
	if len(res.Latency) > 0 {
		p("\n## Every latency run\n\n")
		var rows [][]string
		for _, r := range res.Latency {
			idle := "–"
			if r.IdleCPU >= 0 {
				idle = fmt.Sprintf("%.3f", r.IdleCPU)
			}
			rows = append(rows, []string{r.Name(), fmt.Sprint(r.Round + 1), localMs(r.Stats.P50), localMs(r.Stats.P99), localMs(r.Stats.Max),
				fmt.Sprint(r.Stats.N), idle, fmt.Sprint(r.Runs), fmt.Sprint(r.Results), localMs(r.RunTime)})
		}
		mw.table([]string{"setup", "round", "p50 ms", "p99 ms", "max ms", "n", "idle cores", "query runs", "results", "query time ms"}, rows)
	}
	if len(res.Sync) > 0 {
		p("\n## Every sync run\n\n")
		var rows [][]string
		for _, r := range res.Sync {
			rows = append(rows, []string{r.Name(), fmt.Sprint(r.Round + 1), seconds(r.Wall), seconds(r.CPU), seconds(r.BenchCPU), cores(r.OtherCores),
				liveOpened(r), liveFinal(r.Final, r.Watchers), fmt.Sprint(r.Missed), fmt.Sprint(r.Runs), fmt.Sprint(r.Results)})
		}
		mw.table([]string{"setup", "round", "wall s", "child CPU s", "this process CPU s", "other cores busy", "queries open at s", "final result after the end p50 / max ms", "missed", "query runs", "results"}, rows)
	}
	return mw.err
}

func (res *LiveResult) latencySection(mw *mdWriter) {
	cfg := res.Config
	p := mw.printf
	p("## Latency: append → live result\n\n")
	p("Over a native log holding the %s messages of `%s`, indexed and caught up (SSB views, secondary indexes built),\n", groupInt(res.Entries), displayPath(cfg.Source))
	p("this process holds the log open for writing and appends local SSB posts: %d per run, one every %v; with %s queries\n", cfg.Appends, cfg.Interval, groupInt(int64(cfg.Watchers)))
	p("open, also %d at a user's pace, one every %v.\n", cfg.SlowAppends, cfg.SlowInterval)
	p("the latency is from `Append` being called (durability none: the disk's fsync is not what is measured) to the\n")
	p("measured query's `Next` returning a result that shows the entry (`Result.Shows`). The indexer runs in this process\n")
	p("(`Indexer.Run`) or in a child (`sluice index --follow`). With %s queries open, the others are the mix below, subscribed\n", groupInt(int64(cfg.Watchers)))
	p("first: every append changes the one view file they all read, so all of them run again, on one worker, quickest first,\n")
	p("within the share bound (`LiveOptions.Share`, 0.25 of the wall time); query time per append is what those runs took.\n")
	p("Idle cores: this process's CPU over %v with its queries open and nothing appended (across processes only, where it\n", cfg.IdleFor)
	p("runs nothing else). Medians of %d rounds.\n\n", cfg.LatencyRounds)
	var rows [][]string
	for _, s := range res.LatencySummary() {
		where := "across processes"
		target := 25 * time.Millisecond
		if s.Setup.InProcess {
			where, target = "in process", 10*time.Millisecond
		}
		idle := "–"
		if s.IdleCPU >= 0 {
			idle = fmt.Sprintf("%.3f", s.IdleCPU)
		}
		met := "yes"
		if s.Stats.P99 > target {
			met = "**no**"
		}
		rows = append(rows, []string{where, s.Setup.Detect, groupInt(int64(s.Setup.Queries)), s.Setup.Interval.String(), localMs(s.Stats.P50), localMs(s.Stats.P99), localMs(s.Stats.Max),
			fmt.Sprintf("≤ %d ms: %s", target/time.Millisecond, met), idle, fmt.Sprintf("%.0f", s.RunsPerAppend), localMs(s.RunTimePerAppend)})
	}
	mw.table([]string{"indexer", "notice", "live queries", "append every", "p50 ms", "p99 ms", "max ms", "p99 target", "idle cores", "query runs per append", "query time per append ms"}, rows)
	p("\n")
}

func (res *LiveResult) syncSection(mw *mdWriter) {
	cfg := res.Config
	p := mw.printf
	p("## %s live queries during the initial sync\n\n", groupInt(int64(cfg.Watchers)))
	p("`sluice --dir D index --ssb %s` (%s messages) in a child process, from an empty D, without live queries and with\n", displayPath(cfg.Source), groupInt(res.Entries))
	p("%d open in this process (the mix below, subscribed as soon as the view file has its tables), each setup once per\n", cfg.Watchers)
	p("round, the order rotating, %d rounds. Wall is the child's, start to exit; the ratio is to the run without live queries\n", cfg.SyncRounds)
	p("of the same round (median over rounds). After the child exits, each query is run once on the final views, and the\n")
	p("live query must deliver that result: the time from the child's exit to its delivery (0 if it came before), and how\n")
	p("many did not within %v (missed). Before each run the harness waits (up to %v) for a quiet machine.\n\n", cfg.FinalWait, cfg.QuietWait)
	var rows [][]string
	for _, s := range res.SyncSummary() {
		ratio, target := "–", ""
		if s.Watchers > 0 && !math.IsNaN(s.Ratio) {
			ratio = fmt.Sprintf("%.3f", s.Ratio)
			target = "yes"
			if s.Ratio > 1.10 {
				target = "**no**"
			}
		}
		var walls []string
		for _, w := range s.Walls {
			walls = append(walls, seconds(w))
		}
		rows = append(rows, []string{s.Setup.Name(), seconds(s.Wall), strings.Join(walls, " "), ratio, target, seconds(s.CPU), seconds(s.BenchCPU),
			liveFinal(s.Final, s.Watchers), fmt.Sprint(s.Missed), liveCount(s.QueryRuns, s.Watchers), liveCount(s.Results, s.Watchers)})
	}
	mw.table([]string{"setup", "wall s (median)", "runs", "ratio", "≤ 1.10", "child CPU s", "this process CPU s", "final result after the end p50 / max ms", "missed", "query runs", "results"}, rows)
	p("\n")
}

func liveOpened(r *LiveSyncRun) string {
	if r.Watchers == 0 {
		return "–"
	}
	return seconds(r.Opened)
}

func liveFinal(s LocalStats, watchers int) string {
	if watchers == 0 {
		return "–"
	}
	if s.N == 0 {
		return "none"
	}
	return localMs(s.P50) + " / " + localMs(s.Max)
}

func liveCount(f float64, watchers int) string {
	if watchers == 0 || math.IsNaN(f) {
		return "–"
	}
	return fmt.Sprintf("%.0f", f)
}
