package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// syncColumns are the columns of the main table of a sync report.
var syncColumns = []string{"what", "runs", "wall s", "entries/s", "MB/s", "peak RSS MB", "CPU s", "view files MB"}

// WriteMarkdown writes the whole report: a section per log and, with more
// than one log, the memory comparison.
func (r *SyncReport) WriteMarkdown(w io.Writer) error {
	mw := &mdWriter{w: w}
	r.header(mw)
	for _, lr := range r.Logs {
		lr.section(mw, "##", r.QuietWait)
	}
	if len(r.Logs) > 1 {
		r.memorySection(mw)
	}
	return mw.err
}

// WriteLogMarkdown writes the report's header and the section of its i-th
// log: the content of bench/results/sync-N.md.
func (r *SyncReport) WriteLogMarkdown(w io.Writer, i int) error {
	mw := &mdWriter{w: w}
	r.header(mw)
	r.Logs[i].section(mw, "##", r.QuietWait)
	return mw.err
}

// WriteMemoryMarkdown writes the header and the comparison of the logs'
// peak RSS.
func (r *SyncReport) WriteMemoryMarkdown(w io.Writer) error {
	mw := &mdWriter{w: w}
	r.header(mw)
	r.memorySection(mw)
	return mw.err
}

func (r *SyncReport) header(mw *mdWriter) {
	mw.printf("# sluice bench sync: initial sync of the SSB view set\n\n")
	mw.printf("Machine: %s.\n", r.Machine)
	if r.Command != "" {
		mw.printf("Command: `%s`.\n", r.Command)
	}
	mw.printf("\nMedians over the runs. MB = 10^6 bytes. entries/s and MB/s are the log's entries and bytes over the wall time. " +
		"Every run is a child process; peak RSS is the kernel's ru_maxrss for it.\n\n")
}

func (lr *SyncLogReport) section(mw *mdWriter, h string, quietWait time.Duration) {
	mw.printf("%s %s SSB messages, %s MB log.offset\n\n", h, groupInt(lr.Messages), megabytes(lr.Bytes))
	mw.printf("Log: `%s`.\n\n", displayPath(lr.Path))
	mw.table(syncColumns, lr.summaryRows())
	mw.printf("\n")
	lr.findings(mw)
	if len(lr.Sluice) > 0 {
		mw.printf("![entries indexed and entries/s over time](%s)\n\n", SyncPlotName(lr.Messages))
	}
	lr.notes(mw, quietWait)
	mw.printf("%s# Every run\n\n", h)
	lr.runsTable(mw)
	mw.printf("\n")
}

func (lr *SyncLogReport) summaryRows() [][]string {
	var rows [][]string
	if n := len(lr.Sluice); n > 0 {
		wall := medianOf(pick(lr.Sluice, func(r SluiceRun) time.Duration { return r.Wall }))
		rows = append(rows, []string{
			"sluice index --ssb (SSB view set, from empty)", strconv.Itoa(n), seconds(wall),
			perSecond(lr.Messages, wall), mbPerSecond(lr.Bytes, wall),
			megabytes(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.MaxRSS }))),
			seconds(medianOf(pick(lr.Sluice, func(r SluiceRun) time.Duration { return r.CPU }))),
			megabytes(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.ViewBytes }))),
		})
	}
	floor := func(name string, runs []FloorRun, withCPU bool) {
		if len(runs) == 0 {
			return
		}
		t := medianOf(pick(runs, func(r FloorRun) time.Duration { return r.Timed() }))
		cpu := "–"
		if withCPU {
			cpu = seconds(medianOf(pick(runs, func(r FloorRun) time.Duration { return r.CPU })))
		}
		rows = append(rows, []string{
			name, strconv.Itoa(len(runs)), seconds(t), perSecond(lr.Messages, t), mbPerSecond(lr.Bytes, t),
			megabytes(medianOf(pick(runs, func(r FloorRun) int64 { return r.MaxRSS }))), cpu, "–",
		})
	}
	floor("floor (a): read + decode only, no SQLite", lr.Decode, true)
	floor("floor (b): SQLite writes + index builds only, no parsing", lr.Insert, false)
	if n := len(lr.JS); n > 0 {
		wall := medianOf(pick(lr.JS, func(r JSRun) time.Duration { return r.Wall }))
		rows = append(rows, []string{
			lr.JS[0].System + " (JavaScript, flumedb + 6 LevelDB views)", strconv.Itoa(n), seconds(wall),
			perSecond(lr.Messages, wall), mbPerSecond(lr.Bytes, wall),
			megabytes(medianOf(pick(lr.JS, func(r JSRun) int64 { return r.PeakRSS }))),
			seconds(medianOf(pick(lr.JS, func(r JSRun) time.Duration { return r.CPU }))), "–",
		})
	}
	return rows
}

// findings writes the ratios the table implies.
func (lr *SyncLogReport) findings(mw *mdWriter) {
	if len(lr.Sluice) == 0 {
		return
	}
	wall := medianOf(pick(lr.Sluice, func(r SluiceRun) time.Duration { return r.Wall }))
	rss := medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.MaxRSS }))
	if len(lr.JS) > 0 {
		jw := medianOf(pick(lr.JS, func(r JSRun) time.Duration { return r.Wall }))
		jr := medianOf(pick(lr.JS, func(r JSRun) int64 { return r.PeakRSS }))
		mw.printf("- **sluice is %s faster than %s** (%s s against %s s), with %s its peak RSS (%s MB against %s MB).\n",
			ratio(jw.Seconds(), wall.Seconds()), lr.JS[0].System, seconds(wall), seconds(jw), ratio(float64(rss), float64(jr)), megabytes(rss), megabytes(jr))
	}
	if len(lr.Decode) > 0 && len(lr.Insert) > 0 {
		a := medianOf(pick(lr.Decode, func(r FloorRun) time.Duration { return r.Timed() }))
		b := medianOf(pick(lr.Insert, func(r FloorRun) time.Duration { return r.Timed() }))
		bound, which := a, "(a), reading and decoding"
		if b > a {
			bound, which = b, "(b), the SQLite writes"
		}
		mw.printf("- The indexer reads and decodes on one goroutine while another writes to SQLite, so it can go no faster than the slower of its two floors: "+
			"max(a, b) = %s s, set by %s. sluice index takes **%s that bound**; a + b = %s s would be no overlap at all (%s).\n",
			seconds(bound), which, ratio(wall.Seconds(), bound.Seconds()), seconds(a+b), ratio(wall.Seconds(), (a+b).Seconds()))
	}
	if in := pick(lr.Sluice, func(r SluiceRun) time.Duration { return rowsIn(r.Samples, lr.Messages) }); minDur(in) > 0 {
		at := medianOf(in)
		mw.printf("- Every entry was in the views (the indexer's since reached the log's end) after %s s, median; the remaining %s s of the wall time (%.0f%%) went on the secondary index builds, the final checkpoint and close (the shaded band in the plot).\n",
			seconds(at), seconds(wall-at), 100*(wall-at).Seconds()/wall.Seconds())
	}
	if len(lr.Insert) > 0 && lr.Insert[0].RowsInNS > 0 {
		b := medianOf(pick(lr.Insert, func(r FloorRun) time.Duration { return r.Timed() }))
		in := medianOf(pick(lr.Insert, func(r FloorRun) time.Duration { return time.Duration(r.RowsInNS) }))
		mw.printf("- In floor (b), the rows were all written after %s s (%s entries/s), median; the index builds, checkpoint and close took the other %s s.\n",
			seconds(in), perSecond(lr.Messages, in), seconds(b-in))
	}
	if len(lr.Insert) > 0 {
		mw.printf("- Rows after every sluice run (and every floor (b) run): %v.", lr.Rows)
	} else {
		mw.printf("- Rows after every sluice run: %v.", lr.Rows)
	}
	if lr.Decoded.Kind != "" {
		mw.printf(" Floor (a) decoded %s messages with %s links (%s rejected)", groupInt(lr.Decoded.Messages), groupInt(lr.Decoded.Links), groupInt(lr.Decoded.Rejected))
		if lr.Decoded.Messages == lr.Rows.Messages && lr.Decoded.Links == lr.Rows.Links {
			mw.printf(": the same.")
		} else {
			mw.printf(": the views hold fewer (copies of a message are indexed once).")
		}
	}
	mw.printf("\n")
	other := pick(lr.Sluice, func(r SluiceRun) float64 { return r.OtherCores })
	mw.printf("- Noise: other processes kept %.2f cores busy on average during the median sluice run (%.2f at most).\n\n",
		medianOf(other), maxOf(other))
}

// notes explains how each row was measured.
func (lr *SyncLogReport) notes(mw *mdWriter, quietWait time.Duration) {
	mw.printf("How each row is measured:\n\n")
	mw.printf("- **sluice index**: `sluice --dir TMP index --ssb LOG --stats-file TMP/stats.jsonl` in a child process, TMP empty. " +
		"Wall time is from the child's start to its exit (opening, indexing, building the secondary indexes, the final checkpoint, close). " +
		"View files: every file in TMP/views afterwards (the database with its -wal and -shm).\n")
	if len(lr.Decode) > 0 {
		mw.printf("- **floor (a)**: `sluice bench sync-floor --floor decode`: the log/offset iterator and `ssb.Decode` into one reused message, on one goroutine, nothing written. " +
			"Timed inside the child, from opening the log to the last message.\n")
		mw.printf("- **floor (b)**: `sluice bench sync-floor --floor insert`: the child first reads the whole log and decodes every message into memory (untimed), " +
			"then times `view.OpenFile` + `index.Indexer.SynchronizeUpTo` + `Close` — the same indexer, view/ssb writer, transactions and index builds as sluice index — " +
			"over an in-memory source whose view hands out the messages decoded beforehand. The Go GC is off while it is timed. " +
			"Its peak RSS holds the preloaded log and means nothing.\n")
	}
	if len(lr.JS) > 0 {
		mw.printf("- **%s**: `bench/js/run.sh --log LOG` (see bench/js/README.md): a copy of the log, the six views built from nothing; its wall time runs from opening the database to every view having caught up, "+
			"so it leaves out node's start-up, module loading and close, which sluice's includes. Peak RSS is the runner's `peak_rss_bytes`.\n", lr.JS[0].System)
	}
	kinds := "sluice"
	if len(lr.Decode) > 0 {
		kinds += ", floor (a), floor (b)"
	}
	if len(lr.JS) > 0 {
		kinds += ", JavaScript"
	}
	mw.printf("- Runs go in rounds (%s), after one read of the log to warm the page cache.", kinds)
	if quietWait > 0 {
		mw.printf(" Before each run the harness waited (up to %s) for other processes to keep less than %.1f cores busy.", quietWait, quietThreshold)
	}
	mw.printf("\n\n")
}

func (lr *SyncLogReport) runsTable(mw *mdWriter) {
	cols := []string{"round", "sluice wall s", "all entries in at s", "sluice peak RSS MB", "sluice CPU s", "other cores busy", "view files MB"}
	if len(lr.Decode) > 0 {
		cols = append(cols, "floor (a) s", "floor (b) s", "floor (b) rows in at s", "floor (b) prepare s")
	}
	if len(lr.JS) > 0 {
		cols = append(cols, "ssb-db wall s", "ssb-db peak RSS MB", "ssb-db CPU s", "ssb-db other cores busy")
	}
	var rows [][]string
	for i := range max(len(lr.Sluice), len(lr.JS)) {
		row := []string{strconv.Itoa(i + 1)}
		if i < len(lr.Sluice) {
			r := lr.Sluice[i]
			in := "–"
			if t := rowsIn(r.Samples, lr.Messages); t > 0 {
				in = seconds(t)
			}
			row = append(row, seconds(r.Wall), in, megabytes(r.MaxRSS), seconds(r.CPU), cores(r.OtherCores), megabytes(r.ViewBytes))
		} else {
			row = append(row, "", "", "", "", "", "")
		}
		if len(lr.Decode) > 0 {
			if i < len(lr.Decode) && i < len(lr.Insert) {
				row = append(row, seconds(lr.Decode[i].Timed()), seconds(lr.Insert[i].Timed()),
					seconds(time.Duration(lr.Insert[i].RowsInNS)), seconds(time.Duration(lr.Insert[i].PrepareNS)))
			} else {
				row = append(row, "", "", "", "")
			}
		}
		if len(lr.JS) > 0 {
			if i < len(lr.JS) {
				r := lr.JS[i]
				row = append(row, seconds(r.Wall), megabytes(r.PeakRSS), seconds(r.CPU), cores(r.OtherCores))
			} else {
				row = append(row, "", "", "", "")
			}
		}
		rows = append(rows, row)
	}
	mw.table(cols, rows)
}

// memoryColumns are the columns of the memory comparison.
var memoryColumns = []string{"messages", "log MB", "runs", "wall s", "entries/s", "MB/s", "peak RSS MB", "RSS before all entries are in MB", "view files MB", "ssb-db wall s", "ssb-db peak RSS MB"}

func (r *SyncReport) memorySection(mw *mdWriter) {
	mw.printf("## Peak memory against log size\n\n")
	var rows [][]string
	for _, lr := range r.Logs {
		wall := medianOf(pick(lr.Sluice, func(r SluiceRun) time.Duration { return r.Wall }))
		row := []string{groupInt(lr.Messages), megabytes(lr.Bytes), strconv.Itoa(len(lr.Sluice)), seconds(wall),
			perSecond(lr.Messages, wall), mbPerSecond(lr.Bytes, wall),
			megabytes(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.MaxRSS }))),
			megabytes(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return rssBeforeIn(r.Samples, lr.Messages) }))),
			megabytes(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.ViewBytes })))}
		if len(lr.JS) > 0 {
			row = append(row, seconds(medianOf(pick(lr.JS, func(r JSRun) time.Duration { return r.Wall }))),
				megabytes(medianOf(pick(lr.JS, func(r JSRun) int64 { return r.PeakRSS }))))
		} else {
			row = append(row, "–", "–")
		}
		rows = append(rows, row)
	}
	mw.table(memoryColumns, rows)
	first, last := r.Logs[0], r.Logs[len(r.Logs)-1]
	rss := func(lr *SyncLogReport) float64 {
		return float64(medianOf(pick(lr.Sluice, func(r SluiceRun) int64 { return r.MaxRSS })))
	}
	mw.printf("\nPeak RSS with %s messages is %s that with %s messages, for a log %s the size. "+
		"\"RSS before all entries are in\" is the highest RSS sampled (every 100 ms, by sluice index --stats-file) while entries were still coming in, i.e. before the secondary index builds; the peak comes during those builds.\n\n",
		groupInt(last.Messages), ratio(rss(last), rss(first)), groupInt(first.Messages), ratio(float64(last.Bytes), float64(first.Bytes)))
}

// SyncPlotName is the file name of the plot of a log of n messages.
func SyncPlotName(n int64) string { return fmt.Sprintf("sync-%d.svg", n) }

// SyncReportName is the file name of the report of a log of n messages.
func SyncReportName(n int64) string { return fmt.Sprintf("sync-%d.md", n) }

// mdWriter writes Markdown, keeping the first error.
type mdWriter struct {
	w   io.Writer
	err error
}

func (m *mdWriter) printf(format string, args ...any) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, format, args...)
	}
}

// table writes a GitHub-flavoured Markdown table; every column but the
// first is right-aligned.
func (m *mdWriter) table(cols []string, rows [][]string) {
	m.printf("| %s |\n|", strings.Join(cols, " | "))
	for i := range cols {
		if i == 0 {
			m.printf(" --- |")
		} else {
			m.printf(" ---: |")
		}
	}
	m.printf("\n")
	for _, r := range rows {
		m.printf("| %s |\n", strings.Join(r, " | "))
	}
}

// rowsIn returns the time of the first sample with every entry in the
// views, 0 if none.
func rowsIn(samples []Sample, total int64) time.Duration {
	for _, s := range samples {
		if s.Entries >= total {
			return s.T
		}
	}
	return 0
}

// rssBeforeIn returns the highest RSS sampled before every entry was in
// the views.
func rssBeforeIn(samples []Sample, total int64) int64 {
	var m int64
	for _, s := range samples {
		if s.Entries >= total {
			break
		}
		m = max(m, s.RSS)
	}
	return m
}

func pick[R, T any](rs []R, f func(R) T) []T {
	out := make([]T, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func cores(x float64) string {
	if x < 0 {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// displayPath shows path relative to the working directory when it is
// below it.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
