package bench

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ReplicateReportName is the report's file name for a log of n entries.
func ReplicateReportName(n int64) string { return fmt.Sprintf("replicate-%d.md", n) }

// ReplicateSummary is the initial sync's medians over the runs.
type ReplicateSummary struct {
	Index, Sync, Pull, Import, Wire time.Duration
	// Ratio is the median over the rounds of Sync / Index, each pair
	// measured one after the other.
	Ratio float64
	// PullMBs is the raw pull's rate: the server's log bytes over the
	// median Pull time; WireMBs the same for Wire.
	PullMBs, WireMBs float64
}

// Summary returns the medians of the initial-sync runs.
func (r *ReplicateResult) Summary() ReplicateSummary {
	var s ReplicateSummary
	if len(r.Runs) == 0 {
		return s
	}
	wall := func(f func(ReplicateRun) procRun) time.Duration {
		return medianOf(pick(r.Runs, func(x ReplicateRun) time.Duration { return f(x).Wall }))
	}
	s.Index = wall(func(x ReplicateRun) procRun { return x.Index })
	s.Sync = wall(func(x ReplicateRun) procRun { return x.Sync })
	s.Pull = wall(func(x ReplicateRun) procRun { return x.Pull })
	s.Import = wall(func(x ReplicateRun) procRun { return x.Import })
	s.Wire = medianOf(pick(r.Runs, func(x ReplicateRun) time.Duration { return x.Wire }))
	s.Ratio = medianOf(pick(r.Runs, func(x ReplicateRun) float64 { return x.Sync.Wall.Seconds() / x.Index.Wall.Seconds() }))
	s.PullMBs = float64(r.LogBytes) / 1e6 / s.Pull.Seconds()
	s.WireMBs = float64(medianOf(pick(r.Runs, func(x ReplicateRun) int64 { return x.WireBytes }))) / 1e6 / s.Wire.Seconds()
	return s
}

// WriteMarkdown writes the report; command is the command line that ran it.
func (r *ReplicateResult) WriteMarkdown(w io.Writer, command string) error {
	mw := &mdWriter{w: w}
	if r.Entries > 0 {
		mw.printf("# sluice bench replicate: %s entries\n\n", groupInt(int64(r.Entries)))
	} else {
		mw.printf("# sluice bench replicate\n\n")
	}
	mw.printf("Machine: %s.\n\nCommand: `%s`\n\n", r.Machine, command)
	if len(r.Runs) > 0 {
		r.initialSection(mw)
	}
	if len(r.Fanout) > 0 {
		fanoutSection(mw, r.Fanout)
	}
	return mw.err
}

func (r *ReplicateResult) initialSection(mw *mdWriter) {
	s := r.Summary()
	mw.printf("## Initial sync over HTTP\n\n")
	mw.printf("A server (`sluice serve --no-index`, a child process) serves the native log imported from `%s`: %s entries, %s MB of segments. "+
		"Each measurement is a child process from an empty directory; a round runs each once, in the order of the table, %d rounds. "+
		"Medians; every run's time in the last column.\n\n",
		displayPath(r.Source), groupInt(int64(r.Entries)), megabytes(r.LogBytes), len(r.Runs))
	views := strings.Join(r.Views, ", ")
	type row struct {
		name string
		med  time.Duration
		runs func(ReplicateRun) procRun
	}
	rows := []row{
		{"`sluice index --ssb SOURCE` (the same log indexed locally; views: " + views + ")", s.Index, func(x ReplicateRun) procRun { return x.Index }},
		{"`sluice sync --from URL` (pulled over HTTP and indexed, overlapping)", s.Sync, func(x ReplicateRun) procRun { return x.Sync }},
		{"`sluice sync --no-index --from URL` (raw pull into the device's log)", s.Pull, func(x ReplicateRun) procRun { return x.Pull }},
		{"`sluice import SOURCE` (the same entries from the local file: each checked first, then appended)", s.Import, func(x ReplicateRun) procRun { return x.Import }},
	}
	srvCPU := func(i int) string {
		return seconds(medianOf(pick(r.Runs, func(x ReplicateRun) time.Duration { return x.ServerCPU[i] })))
	}
	serverCPU := map[string]string{rows[1].name: srvCPU(0), rows[2].name: srvCPU(1)}
	var cells [][]string
	for _, rw := range rows {
		ps := pick(r.Runs, rw.runs)
		walls := pick(ps, func(p procRun) string { return seconds(p.Wall) })
		cpu := medianOf(pick(ps, func(p procRun) time.Duration { return p.CPU() }))
		rss := medianOf(pick(ps, func(p procRun) int64 { return p.MaxRSS }))
		other := medianOf(pick(ps, func(p procRun) float64 { return p.OtherCores }))
		cells = append(cells, []string{rw.name, seconds(rw.med), mbPerSecond(r.LogBytes, rw.med), seconds(cpu), serverCPU[rw.name], megabytes(rss), cores(other), strings.Join(walls, " ")})
	}
	cells = append(cells, []string{"GET /v1/entries read to /dev/null by the benchmark (the server and HTTP alone)", seconds(s.Wire),
		fmt.Sprintf("%.0f", s.WireMBs), "", srvCPU(2), "", "", strings.Join(pick(r.Runs, func(x ReplicateRun) string { return seconds(x.Wire) }), " ")})
	mw.table([]string{"measurement", "wall s", "MB/s", "CPU s", "server CPU s", "peak RSS MB", "other cores busy", "runs (s)"}, cells)

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	mw.printf("\n- **sync with views / index --ssb: %.2f×** (median of the rounds' ratios; target ≤ %.1f×: %s).\n",
		s.Ratio, ReplicateTargetRatio, verdict(s.Ratio <= ReplicateTargetRatio))
	mw.printf("- **raw pull: %.0f MB/s** (target ≥ %d MB/s: %s); the wire alone (server and HTTP): %.0f MB/s; `sluice import` of the same entries from the local file: %.0f MB/s.\n",
		s.PullMBs, ReplicateTargetPullMBs, verdict(s.PullMBs >= ReplicateTargetPullMBs), s.WireMBs, float64(r.LogBytes)/1e6/s.Import.Seconds())
	mw.printf("- CPU s is the measured process's user and system time; server CPU s the server's during it (another process on the same 2 cores); " +
		"\"other cores busy\" how many cores every other process (the server included) kept busy meanwhile, from /proc/stat: the machine is shared.\n\n")
}

// fanoutStats is the median over runs of each statistic.
func fanoutStats(ss []LocalStats) LocalStats {
	return LocalStats{
		N:   int(medianOf(pick(ss, func(x LocalStats) int64 { return int64(x.N) }))),
		P50: medianOf(pick(ss, func(x LocalStats) time.Duration { return x.P50 })),
		P99: medianOf(pick(ss, func(x LocalStats) time.Duration { return x.P99 })),
		Max: medianOf(pick(ss, func(x LocalStats) time.Duration { return x.Max })),
	}
}

func fanoutSection(mw *mdWriter, runs []FanoutResult) {
	f := runs[0]
	var configs []int
	byViews := map[int][]FanoutResult{}
	for _, r := range runs {
		if _, ok := byViews[r.ViewDevices]; !ok {
			configs = append(configs, r.ViewDevices)
		}
		byViews[r.ViewDevices] = append(byViews[r.ViewDevices], r)
	}
	mw.printf("## Fan-out: one server, %d following devices\n\n", f.Devices)
	mw.printf("The server is a `sluice serve` child process keeping its SSB views indexed. The devices are in-process clients of the benchmark "+
		"(`replicate.Client.Follow`, each with its own log and HTTP connection; some of them also keep the SSB views indexed, an indexer each), "+
		"their files in %s (each device stands for a machine with its own disk). The server appends one SSB post every %v through its local socket, "+
		"%d in all. Latency is from the server's `Append` returning (its clock, in its answer) to the entry being in a device's log "+
		"(the device's `Append` returned) and to its being visible in the device's views (`index.WaitFor` returned), over every entry and device; "+
		"the figures are the medians over the runs of each run's percentiles, and every run's p99 follows. All of it shares the 2 cores: "+
		"the devices' CPU is this process's.\n\n",
		displayPath(filepath.Dir(f.DeviceDir))+"/…", f.Interval, f.Appends)
	verdict := func(d, target time.Duration) string {
		if d <= target {
			return "met"
		}
		return fmt.Sprintf("not met (%.1f×)", float64(d)/float64(target))
	}
	var rows [][]string
	for _, vd := range configs {
		rs := byViews[vd]
		toLog := fanoutStats(pick(rs, func(x FanoutResult) LocalStats { return x.ToLog }))
		toView := fanoutStats(pick(rs, func(x FanoutResult) LocalStats { return x.ToView }))
		missing := 0
		for _, r := range rs {
			missing += r.Missing + r.MissingViews
		}
		rows = append(rows, []string{fmt.Sprintf("%d of %d", vd, f.Devices), "log", localMs(toLog.P50), localMs(toLog.P99), localMs(toLog.Max),
			strings.Join(pick(rs, func(x FanoutResult) string { return localMs(x.ToLog.P99) }), " "), fmt.Sprint(missing),
			"≤ " + localMs(ReplicateTargetLogP99) + ": " + verdict(toLog.P99, ReplicateTargetLogP99)})
		if vd > 0 {
			rows = append(rows, []string{"", "views", localMs(toView.P50), localMs(toView.P99), localMs(toView.Max),
				strings.Join(pick(rs, func(x FanoutResult) string { return localMs(x.ToView.P99) }), " "), "",
				"≤ " + localMs(ReplicateTargetViewP99) + ": " + verdict(toView.P99, ReplicateTargetViewP99)})
		}
	}
	mw.table([]string{"devices with views", "entry in", "p50 ms", "p99 ms", "max ms", "p99 of each run", "missing", "target (p99)"}, rows)
	rss := slices.Max(pick(runs, func(x FanoutResult) int64 { return x.ServerRSS }))
	rssVerdict := "met"
	if rss > ReplicateTargetRSS {
		rssVerdict = "not met"
	}
	mw.printf("\nServer: peak RSS **%.1f MB** at most over the runs, while %d devices followed (target ≤ %d MB: %s); per run: %s MB. "+
		"Its CPU: %s s per run; the devices' (this process): %s s. An append through its socket took p50 %s ms, p99 %s ms (median of runs; its fsync included).\n\n",
		float64(rss)/1e6, f.Devices, ReplicateTargetRSS>>20, rssVerdict,
		strings.Join(pick(runs, func(x FanoutResult) string { return megabytes(x.ServerRSS) }), " "),
		strings.Join(pick(runs, func(x FanoutResult) string { return seconds(x.ServerCPU) }), " "),
		strings.Join(pick(runs, func(x FanoutResult) string { return seconds(x.DevicesCPU) }), " "),
		localMs(medianOf(pick(runs, func(x FanoutResult) time.Duration { return x.AppendTook.P50 }))),
		localMs(medianOf(pick(runs, func(x FanoutResult) time.Duration { return x.AppendTook.P99 }))))
}
