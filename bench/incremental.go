package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// IncrementalConfig configures RunIncremental.
type IncrementalConfig struct {
	// Binary is the sluice executable for the setup (import, first
	// index); "" means os.Executable().
	Binary string
	// Log is the SSB log.offset the native log starts as a copy of.
	Log string
	// Sizes are the numbers of entries appended at a time; default 1,
	// 100 and 10000. 0 measures a call with nothing new.
	Sizes []int
	// Reps is how many times each size is measured; default 5.
	Reps int
	// Authors of the synthetic messages; default 5.
	Authors int
	// Seed of the synthetic messages; default 1.
	Seed uint64
	// TempDir is where the native log and its views go ("" means
	// os.TempDir()); removed at the end.
	TempDir string
	// Logf receives progress; nil discards.
	Logf func(format string, args ...any)
}

// Modes of RunIncremental.
const (
	// ModeSynchronize appends k entries, then times one
	// Indexer.SynchronizeUpTo call to the log's last seq.
	ModeSynchronize = "SynchronizeUpTo"
	// ModeFollow has the indexer running (Indexer.Run) and times from the
	// first Append of k entries until WaitFor(last seq) returns: what an
	// application embedding sluice sees.
	ModeFollow = "Run + WaitFor"
)

// IncrementalReport is what RunIncremental measured.
type IncrementalReport struct {
	Machine Machine
	// Command is the command line that made the report (set by the
	// caller).
	Command string
	// Log is the base log.offset; Messages its entries, Bytes its size.
	Log             string
	Messages, Bytes int64
	// Import is sluice import of the base log into a native log; Index
	// the first sluice index over it.
	Import, Index SyncProc
	// OpenViews is view.OpenFile of the caught-up view file, with its
	// PRAGMA quick_check.
	OpenViews time.Duration
	// Results per mode and size, in the order measured.
	Results []IncrementalResult
	// Authors of the synthetic messages.
	Authors int
	// Rows in the views at the end: the base log's plus every appended
	// message.
	Rows SSBRows
}

// IncrementalResult holds the repetitions of one mode and size.
type IncrementalResult struct {
	Mode string
	K    int
	// Index is the timed part of each repetition (see the modes).
	Index []time.Duration
	// Append is how long the appends took (SyncNone), in each.
	Append []time.Duration
}

func (c IncrementalConfig) withDefaults() (IncrementalConfig, error) {
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1, 100, 10000}
	}
	for _, k := range c.Sizes {
		if k < 0 {
			return c, fmt.Errorf("incremental: size %d is negative", k)
		}
	}
	if c.Reps <= 0 {
		c.Reps = 5
	}
	if c.Authors <= 0 {
		c.Authors = 5
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Log == "" {
		return c, errors.New("incremental: no base log")
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("find the sluice binary: %w", err)
		}
		c.Binary = exe
	}
	return c, nil
}

// RunIncremental measures indexing of new entries into views that have
// caught up: it imports Log into a native log (sluice import, a child
// process), indexes it (sluice index, a child), then in this process
// opens the log and the view file and, Reps times for each size k,
// appends k synthetic SSB messages and times the views taking them in:
// first with one SynchronizeUpTo call per batch (ModeSynchronize), then
// with the indexer running (ModeFollow). One warm-up batch of 100 before
// each mode is not counted.
func RunIncremental(ctx context.Context, cfg IncrementalConfig) (*IncrementalReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.Log)
	if err != nil {
		return nil, err
	}
	rep := &IncrementalReport{Machine: readMachine(), Log: path, Authors: cfg.Authors}
	keys, feeds, lastTS, err := baseLinks(path)
	if err != nil {
		return nil, err
	}
	if rep.Messages, rep.Bytes, _, err = inspectLog(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "sluice-bench-incremental-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	p, err := runMeasured(ctx, "", cfg.Binary, "--dir", tmp, "import", path)
	if err != nil {
		return nil, fmt.Errorf("incremental: %w", err)
	}
	rep.Import = syncProcOf(p)
	cfg.Logf("incremental: imported %s messages into a native log in %s s", groupInt(rep.Messages), seconds(p.Wall))
	if p, err = runMeasured(ctx, "", cfg.Binary, "--dir", tmp, "index"); err != nil {
		return nil, fmt.Errorf("incremental: %w", err)
	}
	rep.Index = syncProcOf(p)
	cfg.Logf("incremental: indexed the native log in %s s (peak RSS %s MB)", seconds(p.Wall), megabytes(p.MaxRSS))

	l, err := log.Open(filepath.Join(tmp, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start := time.Now()
	f, err := view.OpenFile(ViewFile(tmp), []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep.OpenViews = time.Since(start)
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		return nil, err
	}
	r := &incrRunner{cfg: cfg, l: l, ix: ix, gen: newSynthGen(cfg.Seed, cfg.Authors, keys, feeds, lastTS)}
	if err := r.synchronize(ctx, rep); err != nil {
		return nil, err
	}
	if err := r.follow(ctx, rep); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if rep.Rows, err = CountSSBRows(ViewFile(tmp)); err != nil {
		return nil, err
	}
	if want := rep.Messages + r.appended; rep.Rows.Messages != want {
		return nil, fmt.Errorf("incremental: the views hold %d messages, want %d (%d from the base log and %d appended)",
			rep.Rows.Messages, want, rep.Messages, r.appended)
	}
	return rep, nil
}

// baseLinks reads the first messages of the base log for keys and feeds
// the synthetic messages link to, and the log's last receive timestamp.
func baseLinks(path string) (keys, feeds []string, lastTS float64, err error) {
	l, err := offset.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer l.Close()
	it, err := l.Iter(1)
	if err != nil {
		return nil, nil, 0, err
	}
	defer it.Close()
	seen := map[string]bool{}
	var m ssb.Message
	for n := 0; n < 2000 && it.Next(); n++ {
		if ssb.Decode(it.Entry().Payload, &m) != nil {
			continue
		}
		keys = append(keys, m.Key)
		if !seen[m.Author] {
			seen[m.Author] = true
			feeds = append(feeds, m.Author)
		}
		if m.ReceivedTS.Valid {
			lastTS = max(lastTS, m.ReceivedTS.Float64)
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, 0, err
	}
	if lastTS == 0 {
		lastTS = float64(time.Now().UnixMilli())
	}
	return keys, feeds, lastTS + 1e9, nil
}

// incrRunner appends synthetic messages and times their indexing.
type incrRunner struct {
	cfg      IncrementalConfig
	l        *log.Log
	ix       *index.Indexer
	gen      *synthGen
	appended int64
}

// appendK appends k synthetic messages, in Appends of up to 1000.
func (r *incrRunner) appendK(ctx context.Context, k int) (log.Seq, error) {
	var last log.Seq
	for k > 0 {
		n := min(k, 1000)
		recs := make([]log.Record, n)
		for i := range recs {
			recs[i] = log.Record{Origin: log.Remote, Payload: r.gen.next()}
		}
		seqs, err := r.l.Append(ctx, recs...)
		if err != nil {
			return 0, err
		}
		last = seqs[len(seqs)-1]
		r.appended += int64(n)
		k -= n
	}
	if last == 0 {
		return r.l.Last()
	}
	return last, nil
}

// synchronize times Indexer.SynchronizeUpTo after each append.
func (r *incrRunner) synchronize(ctx context.Context, rep *IncrementalReport) error {
	return r.measure(ctx, rep, ModeSynchronize, false, r.ix.SynchronizeUpTo)
}

// follow runs the indexer (Indexer.Run) and times each append until
// Indexer.WaitFor returns.
func (r *incrRunner) follow(ctx context.Context, rep *IncrementalReport) error {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	waitCtx, stopWait := context.WithCancelCause(ctx)
	defer stopWait(nil)
	done := make(chan error, 1)
	go func() {
		err := r.ix.Run(runCtx)
		stopWait(fmt.Errorf("indexer stopped: %w", err))
		done <- err
	}()
	err := r.measure(ctx, rep, ModeFollow, true, func(_ context.Context, seq log.Seq) error {
		if err := r.ix.WaitFor(waitCtx, seq); err != nil {
			if c := context.Cause(waitCtx); c != nil {
				return c
			}
			return err
		}
		return nil
	})
	stopRun()
	if runErr := <-done; err == nil && runErr != nil && !errors.Is(runErr, context.Canceled) {
		err = runErr
	}
	return err
}

// measure appends 100 messages and indexes them, then, Reps times for each
// size k, appends k messages and times index up to the last of them: from
// the end of the appends, or with fromAppend from their start (a running
// indexer may index while they are appended).
func (r *incrRunner) measure(ctx context.Context, rep *IncrementalReport, mode string, fromAppend bool, index func(context.Context, log.Seq) error) error {
	last, err := r.appendK(ctx, 100)
	if err != nil {
		return err
	}
	if err := index(ctx, last); err != nil {
		return err
	}
	res := r.results(rep, mode)
	for n := range r.cfg.Reps {
		for i, k := range r.cfg.Sizes {
			start := time.Now()
			last, err := r.appendK(ctx, k)
			if err != nil {
				return err
			}
			appended := time.Since(start)
			if !fromAppend {
				start = time.Now()
			}
			if err := index(ctx, last); err != nil {
				return err
			}
			res[i].Index = append(res[i].Index, time.Since(start))
			res[i].Append = append(res[i].Append, appended)
			r.cfg.Logf("incremental: %s, %d entries, rep %d/%d: %s ms (append %s ms)",
				mode, k, n+1, r.cfg.Reps, millis(res[i].Index[n]), millis(appended))
		}
	}
	return nil
}

// results adds a result per size for mode to rep and returns them.
func (r *incrRunner) results(rep *IncrementalReport, mode string) []*IncrementalResult {
	first := len(rep.Results)
	for _, k := range r.cfg.Sizes {
		rep.Results = append(rep.Results, IncrementalResult{Mode: mode, K: k})
	}
	out := make([]*IncrementalResult, len(r.cfg.Sizes))
	for i := range out {
		out[i] = &rep.Results[first+i]
	}
	return out
}

// incrementalColumns are the columns of the incremental table.
var incrementalColumns = []string{"entries appended", "mode", "reps", "median ms", "min ms", "max ms", "entries/s", "append ms"}

// WriteMarkdown writes the report.
func (rep *IncrementalReport) WriteMarkdown(w io.Writer) error {
	mw := &mdWriter{w: w}
	mw.printf("# sluice bench sync --incremental: new entries into caught-up views\n\n")
	mw.printf("Machine: %s.\n", rep.Machine)
	if rep.Command != "" {
		mw.printf("Command: `%s`.\n", rep.Command)
	}
	mw.printf("\nBase: `%s` (%s messages, %s MB), imported into a native log (`sluice import`, %s s) and indexed (`sluice index`, %s s, peak RSS %s MB). "+
		"Opening the caught-up view file (with its quick_check) took %s ms.\n\n",
		displayPath(rep.Log), groupInt(rep.Messages), megabytes(rep.Bytes), seconds(rep.Import.Wall), seconds(rep.Index.Wall), megabytes(rep.Index.MaxRSS), millis(rep.OpenViews))
	var rows [][]string
	for _, r := range rep.Results {
		if len(r.Index) == 0 {
			continue
		}
		med := medianOf(r.Index)
		rate := "–"
		if r.K > 0 {
			rate = perSecond(int64(r.K), med)
		}
		rows = append(rows, []string{groupInt(int64(r.K)), r.Mode, strconv.Itoa(len(r.Index)), millis(med),
			millis(minDur(r.Index)), millis(maxDur(r.Index)), rate, millis(medianOf(r.Append))})
	}
	mw.table(incrementalColumns, rows)
	mw.printf("\n- **%s**: append k synthetic SSB messages (remote origin, log durability SyncNone, in Appends of up to 1,000), then time one `Indexer.SynchronizeUpTo(ctx, last)`.\n", ModeSynchronize)
	mw.printf("- **%s**: `Indexer.Run` follows the log; time from the first Append of k messages until `WaitFor(ctx, last)` returns (appends included: the indexer starts while they go on).\n", ModeFollow)
	mw.printf("- Sizes go in rounds (every size once per repetition); one warm-up batch of 100 before each mode is not counted. "+
		"The synthetic messages (%d authors of their own; posts, votes, contacts, abouts, other and private messages) link to keys and feeds of the base log.\n", rep.Authors)
	mw.printf("- At the end the views held %v: the base log's messages plus every appended one.\n\n", rep.Rows)
	mw.printf("## Every repetition (ms)\n\n")
	cols := []string{"entries appended", "mode"}
	for i := range rep.maxReps() {
		cols = append(cols, "rep "+strconv.Itoa(i+1))
	}
	rows = nil
	for _, r := range rep.Results {
		row := []string{groupInt(int64(r.K)), r.Mode}
		for _, d := range r.Index {
			row = append(row, millis(d))
		}
		for len(row) < len(cols) {
			row = append(row, "")
		}
		rows = append(rows, row)
	}
	mw.table(cols, rows)
	return mw.err
}

// SaveIncremental writes the report into dir as incremental-N.md and
// returns its path.
func SaveIncremental(dir string, rep *IncrementalReport) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		return "", err
	}
	path := filepath.Join(dir, IncrementalReportName(rep.Messages))
	return path, fsutil.WriteFileAtomic(path, b.Bytes(), 0o644)
}

func (rep *IncrementalReport) maxReps() int {
	n := 0
	for _, r := range rep.Results {
		n = max(n, len(r.Index))
	}
	return n
}

// IncrementalReportName is the file name of the report over a base log
// of n messages.
func IncrementalReportName(n int64) string { return fmt.Sprintf("incremental-%d.md", n) }

func minDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

func maxDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
