package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/bench"
)

func init() { benchCommands = append(benchCommands, newBenchLiveCmd) }

type benchLiveOptions struct {
	log               benchLogFlags
	work              string
	out               string
	watchers          int
	kinds             []string
	latencyRounds     int
	appends           int
	interval, idleFor time.Duration
	slowAppends       int
	slowInterval      time.Duration
	syncRounds        int
	shares            []float64
	finalWait         time.Duration
	quietWait         time.Duration
	timeout           time.Duration
}

func newBenchLiveCmd(e *env) *cobra.Command {
	var o benchLiveOptions
	c := &cobra.Command{
		Use:   "live [--ssb PATH | --messages N] [--latency-rounds 3] [--sync-rounds 3]",
		Short: "Measure live queries: append-to-result latency, and 1,000 of them during an initial sync",
		Long: `Two experiments over an SSB log (the generated one of --messages, or --ssb):

Latency: over a native log holding the log's messages, indexed and caught up,
this process appends one local post every --interval and measures the time
from Append returning to a live query's next result showing it, with the
indexer in this process (commit notices, watch, or poll) or in a child
process (sluice index --follow: watch or poll), with 1 live query open, then
--watchers of them (at a user's pace, --slow-interval, and at --interval);
--latency-rounds times each.

Initial sync: sluice index --ssb LOG in a child process from empty views,
without live queries and with --watchers of them open in this process (for
each --share), --sync-rounds times each; the sync's slowdown, and the time
every live query takes to deliver the final result after the sync ends.

A Markdown report goes to stdout and to --out.`,
		Example: `  sluice bench live
  sluice bench live --messages 100000 --sync-rounds 5
  sluice bench live --ssb testdata/ssb --watchers 50 --appends 20 --out ''`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runBenchLive(c.Context(), e, &o, benchCommandLine(c))
		},
	}
	f := c.Flags()
	o.log.add(f, "log")
	f.StringVar(&o.work, "work", "", "directory for the runs (default: a temporary directory)")
	f.StringVar(&o.out, "out", filepath.Join("bench", "results", "live.md"), `also write the Markdown here ("" for none)`)
	f.IntVar(&o.watchers, "watchers", 1000, "live queries open in the runs with many")
	f.StringSliceVar(&o.kinds, "kinds", nil, "kinds of live queries in the mix (default feed,thread,latest,followers,name)")
	f.IntVar(&o.latencyRounds, "latency-rounds", 3, "runs of each latency setup (0: none)")
	f.IntVar(&o.appends, "appends", 200, "appends per latency run")
	f.DurationVar(&o.interval, "interval", 10*time.Millisecond, "time between two appends")
	f.IntVar(&o.slowAppends, "slow-appends", 20, "appends per latency run with --watchers queries at a user's pace")
	f.DurationVar(&o.slowInterval, "slow-interval", 500*time.Millisecond, "time between two appends at a user's pace")
	f.DurationVar(&o.idleFor, "idle", time.Second, "how long to measure the CPU use of idle live queries")
	f.IntVar(&o.syncRounds, "sync-rounds", 3, "runs of each initial-sync setup (0: none)")
	f.Float64SliceVar(&o.shares, "share", []float64{0, -1}, "LiveOptions.Share of the sync runs with live queries (0: the default; negative: no bound)")
	f.DurationVar(&o.finalWait, "final-wait", 2*time.Minute, "how long after the sync every live query may take to deliver the final result")
	f.DurationVar(&o.quietWait, "quiet-wait", time.Minute, "before each sync run, wait up to this long for other processes to calm down (0: never)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit of each child process")
	return c
}

func runBenchLive(ctx context.Context, e *env, o *benchLiveOptions, command string) error {
	switch {
	case o.watchers < 1:
		return usagef("--watchers %d: want at least 1", o.watchers)
	case o.latencyRounds < 0 || o.syncRounds < 0:
		return usagef("--latency-rounds and --sync-rounds: want 0 or more")
	case o.latencyRounds == 0 && o.syncRounds == 0:
		return usagef("--latency-rounds 0 and --sync-rounds 0: nothing to run")
	case o.appends <= 0 || o.interval <= 0 || o.idleFor <= 0 || o.slowAppends <= 0 || o.slowInterval <= 0:
		return usagef("--appends, --interval, --slow-appends, --slow-interval and --idle: want positive values")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	source, prepared, err := o.log.resolve(ctx, e)
	if err != nil {
		return err
	}
	rounds := func(n int) int {
		if n == 0 {
			return -1
		}
		return n
	}
	quiet := o.quietWait
	if quiet == 0 {
		quiet = -1
	}
	res, err := bench.RunLive(ctx, bench.LiveConfig{
		Sluice: self, Source: source, Prepared: prepared, WorkDir: o.work, Watchers: o.watchers, Kinds: o.kinds,
		LatencyRounds: rounds(o.latencyRounds), Appends: o.appends, Interval: o.interval, SlowAppends: o.slowAppends, SlowInterval: o.slowInterval, IdleFor: o.idleFor,
		SyncRounds: rounds(o.syncRounds), Shares: o.shares, FinalWait: o.finalWait, QuietWait: quiet, Timeout: o.timeout,
		Logf: func(format string, args ...any) { e.notef(format, args...) },
	})
	if err != nil {
		return err
	}
	return benchReport(e, o.out, func(w io.Writer) error { return res.WriteMarkdown(w, command) })
}
