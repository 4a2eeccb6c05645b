package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/bench"
)

func init() { benchCommands = append(benchCommands, newBenchSyncCmd, newBenchSyncFloorCmd) }

type benchSyncOptions struct {
	messages    []int
	authors     int
	logs        []string
	runs        int
	noFloors    bool
	js          bool
	jsRuns      int
	jsRunner    string
	out         string
	noSave      bool
	tmp         string
	quietWait   time.Duration
	incremental bool
	sizes       []int
	reps        int
}

func newBenchSyncCmd(e *env) *cobra.Command {
	var o benchSyncOptions
	c := &cobra.Command{
		Use:   "sync [--messages N[,N...] | --log PATH...] [--runs 5] [--js] [--incremental]",
		Short: "Time the initial sync of the SSB view set, beside its floors and the JavaScript stack",
		Long: `Index the SSB view set from an empty state over an SSB log (sluice index
--ssb, in a child process per run) and report the median wall time,
entries/s, MB/s, peak RSS and view file size, with two floors measured the
same way: (a) reading and decoding the log with no SQLite, (b) the SQLite
writes and index builds with no parsing. With --js, also time the
JavaScript ssb-db@20 stack on the same log (bench/js/run.sh; needs node).

--messages N takes the generated log of N messages (bench/ssbgen/gen.sh N
[AUTHORS], cached in bench/.data); several sizes show whether memory grows
with the log. --log takes any log.offset instead.

A Markdown report goes to stdout; bench/results/sync-N.md and sync-N.svg
(progress and entries/s over time) are written too, and sync-memory.md with
more than one log.

With --incremental, measure instead how fast views that have caught up
with the log (imported into a native log) take in 1, 100 and 10,000 new
entries (--sizes), and write bench/results/incremental-N.md.

See bench/README.md.`,
		Example: `  sluice bench sync --messages 600000 --runs 5 --js --js-runs 3
  sluice bench sync --messages 100000,600000
  sluice bench sync --log ~/.ssb/flume/log.offset --runs 3 --no-save
  sluice bench sync --messages 600000 --incremental`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runBenchSync(c.Context(), e, &o, benchCommandLine(c))
		},
	}
	f := c.Flags()
	f.IntSliceVar(&o.messages, "messages", nil, "sizes of generated SSB logs to measure (default 600000)")
	f.IntVar(&o.authors, "authors", 0, "authors of generated logs (default: gen.sh's, messages/400)")
	f.StringArrayVar(&o.logs, "log", nil, "an SSB log.offset (or a directory holding flume/log.offset) to measure instead of a generated one (repeatable)")
	f.IntVar(&o.runs, "runs", 5, "runs of sluice index and of each floor, per log")
	f.BoolVar(&o.noFloors, "no-floors", false, "skip the floors")
	f.BoolVar(&o.js, "js", false, "also time JavaScript ssb-db@20 on the same log (bench/js/run.sh; needs node and npm)")
	f.IntVar(&o.jsRuns, "js-runs", 1, "runs of the JavaScript side, per log")
	f.StringVar(&o.jsRunner, "js-runner", "", "the JavaScript runner (default bench/js/run.sh in the repository)")
	f.StringVar(&o.out, "out", "", "directory for the result files (default bench/results in the repository)")
	f.BoolVar(&o.noSave, "no-save", false, "print the report only; write no result files")
	f.StringVar(&o.tmp, "tmp", "", "directory for the runs' temporary directories (default $TMPDIR or /tmp)")
	f.DurationVar(&o.quietWait, "quiet-wait", time.Minute, "before each run, wait up to this long for other processes to calm down (0: never wait)")
	f.BoolVar(&o.incremental, "incremental", false, "measure indexing of new entries into caught-up views instead")
	f.IntSliceVar(&o.sizes, "sizes", []int{1, 100, 10000}, "with --incremental: entries appended at a time")
	f.IntVar(&o.reps, "reps", 5, "with --incremental: repetitions of each size")
	return c
}

func runBenchSync(ctx context.Context, e *env, o *benchSyncOptions, cmdline string) error {
	if o.runs <= 0 || o.jsRuns <= 0 || o.reps <= 0 {
		return usagef("--runs, --js-runs and --reps must be positive")
	}
	if len(o.logs) > 0 && len(o.messages) > 0 {
		return usagef("--messages and --log both choose the logs; give one of them")
	}
	var repo string
	needRepo := len(o.logs) == 0 || (o.js && o.jsRunner == "") || (!o.noSave && o.out == "")
	if needRepo {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if repo, err = bench.FindRepo(wd); err != nil {
			return fmt.Errorf("%w: run it from the repository, or give --log, --out (or --no-save) and --js-runner", err)
		}
	}
	var logs []string
	for _, l := range o.logs {
		path, err := findOffsetLog(l)
		if err != nil {
			return err
		}
		logs = append(logs, path)
	}
	if len(logs) == 0 {
		sizes := o.messages
		if len(sizes) == 0 {
			sizes = []int{600000}
		}
		for _, n := range sizes {
			if n <= 0 {
				return usagef("--messages %d: want a positive number", n)
			}
			path, err := bench.GenerateSSBLog(ctx, filepath.Join(repo, "bench", "ssbgen", "gen.sh"), n, o.authors, e.errOut)
			if err != nil {
				return err
			}
			logs = append(logs, path)
		}
	}
	out := o.out
	if out == "" && !o.noSave {
		out = filepath.Join(repo, "bench", "results")
	}
	logf := func(format string, args ...any) { e.notef(format, args...) }

	if o.incremental {
		for _, path := range logs {
			rep, err := bench.RunIncremental(ctx, bench.IncrementalConfig{
				Log: path, Sizes: o.sizes, Reps: o.reps, TempDir: o.tmp, Logf: logf,
			})
			if err != nil {
				return err
			}
			rep.Command = cmdline
			if err := rep.WriteMarkdown(e.out); err != nil {
				return err
			}
			if !o.noSave {
				p, err := bench.SaveIncremental(out, rep)
				if err != nil {
					return err
				}
				e.notef("wrote %s", p)
			}
		}
		return nil
	}

	cfg := bench.SyncConfig{Logs: logs, Runs: o.runs, NoFloors: o.noFloors, TempDir: o.tmp, QuietWait: o.quietWait, Logf: logf}
	if o.js {
		cfg.JSRunner, cfg.JSRuns = o.jsRunner, o.jsRuns
		if cfg.JSRunner == "" {
			cfg.JSRunner = filepath.Join(repo, "bench", "js", "run.sh")
		}
		if _, err := os.Stat(cfg.JSRunner); err != nil {
			return fmt.Errorf("--js: %w", err)
		}
	}
	rep, err := bench.RunSync(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Command = cmdline
	if err := rep.WriteMarkdown(e.out); err != nil {
		return err
	}
	if !o.noSave {
		paths, err := bench.SaveSync(out, rep)
		if err != nil {
			return err
		}
		e.notef("wrote %s", strings.Join(paths, ", "))
	}
	return nil
}

// newBenchSyncFloorCmd is the child process that sluice bench sync runs
// for a floor: it prints a bench.FloorResult as JSON.
func newBenchSyncFloorCmd(e *env) *cobra.Command {
	var floor, ssbPath string
	c := &cobra.Command{
		Use:     "sync-floor --floor decode|insert --ssb PATH",
		Short:   "Run one floor of sluice bench sync (the benchmark's child process)",
		Long:    `Run one floor of the initial-sync benchmark in this process and print the result as JSON: decode (read and decode the log, no SQLite) or insert (the SQLite writes into DIR/views/ssb.db, with the log read and decoded beforehand, untimed).`,
		Example: `  sluice --dir /tmp/floor bench sync-floor --floor insert --ssb testdata/ssb`,
		Hidden:  true,
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if ssbPath == "" {
				return usagef("--ssb is required")
			}
			path, err := findOffsetLog(ssbPath)
			if err != nil {
				return err
			}
			res, err := bench.RunFloor(c.Context(), bench.FloorConfig{Kind: bench.FloorKind(floor), Log: path, Dir: e.dir})
			if err != nil {
				return err
			}
			return json.NewEncoder(e.out).Encode(res)
		},
	}
	c.Flags().StringVar(&floor, "floor", "", "decode or insert")
	c.Flags().StringVar(&ssbPath, "ssb", "", "the SSB log.offset (or a directory holding flume/log.offset)")
	return c
}
