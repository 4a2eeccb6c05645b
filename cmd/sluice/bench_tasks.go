package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/bench"
	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
)

func init() { benchCommands = append(benchCommands, newBenchTasksCmd) }

type benchTasksOptions struct {
	dir, out, durability string
	runs, roundTrips     int
	tasks, queues        int
	batches              []int
}

func newBenchTasksCmd(e *env) *cobra.Command {
	var o benchTasksOptions
	c := &cobra.Command{
		Use:   "tasks [--runs N] [--tasks N --queues N] [--round-trips N]",
		Short: "Measure tasks: the round trip from task add to success visible, and throughput with and without batching",
		Long: `One server and one device in this process, over HTTP on 127.0.0.1, with
their logs and views on disk (--dir): the server applies tasks with the
accept handler in Indexer.Transact and keeps handled_tasks; the device
follows the server's log and keeps its tasks view.

Round trip: --round-trips tasks added one after the other, each from its
Append on the device to its success visible in the device's tasks view;
p50, p99, max. Throughput: --tasks tasks over --queues queues, appended
first, then sent with each --batch size; wall time to every success
visible, tasks/s and the ratio to batch size 1. Medians of --runs runs.
Results print as Markdown and are written to --out.`,
		Example: `  sluice bench tasks
  sluice bench tasks --runs 1 --tasks 2000 --out ''`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runBenchTasks(c.Context(), e, &o, benchCommandLine(c))
		},
	}
	f := c.Flags()
	f.StringVar(&o.dir, "dir-runs", os.TempDir(), "where the server's and device's files go")
	f.StringVar(&o.out, "out", filepath.Join("bench", "results", "tasks.md"), `also write the Markdown here ("" for none)`)
	f.StringVar(&o.durability, "durability", "sync", "both logs' durability: sync, group or none")
	f.IntVar(&o.runs, "runs", 3, "runs; the report gives medians")
	f.IntVar(&o.roundTrips, "round-trips", 500, "tasks of the round-trip phase")
	f.IntVar(&o.tasks, "tasks", 10000, "tasks of the throughput phase")
	f.IntVar(&o.queues, "queues", 20, "queues of the throughput phase")
	f.IntSliceVar(&o.batches, "batch", []int{5, 1}, "batch sizes of the throughput phase")
	return c
}

func runBenchTasks(ctx context.Context, e *env, o *benchTasksOptions, command string) error {
	d, err := log.ParseDurability(o.durability)
	if err != nil {
		return usageError{err}
	}
	if o.runs < 1 || o.tasks < 1 || o.queues < 1 || o.roundTrips < 0 {
		return usagef("--runs, --tasks and --queues must be positive, --round-trips not negative")
	}
	for _, b := range o.batches {
		if b < 1 || b > 5 {
			return usagef("--batch %d: want 1 to 5", b)
		}
	}
	// The server and the device follow and index as sluice serve and
	// sluice sync do: with their GOMAXPROCS.
	schedulePromptly()
	cfg := bench.TasksConfig{Dir: o.dir, RoundTrips: o.roundTrips, Tasks: o.tasks, Queues: o.queues, BatchSizes: o.batches, Durability: d}
	var runs []*bench.TasksResult
	for i := range o.runs {
		e.notef("run %d of %d", i+1, o.runs)
		r, err := bench.RunTasks(ctx, cfg)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	var md bytes.Buffer
	if err := bench.MedianTasks(runs).WriteMarkdown(&md, command); err != nil {
		return err
	}
	if _, err := e.out.Write(md.Bytes()); err != nil {
		return err
	}
	if o.out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(o.out, md.Bytes(), 0o644); err != nil {
		return err
	}
	e.notef("wrote %s", o.out)
	return nil
}
