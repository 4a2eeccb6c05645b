package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	sluicedb "github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

type indexOptions struct {
	src        sourceFlags
	views      []string
	follow     bool
	batch      int
	txEntries  int
	noPriority bool
	share      float64
	statsFile  string
	statsEvery time.Duration
	poll       time.Duration
	noWatch    bool
	// replace lets a SQL view take over a view file indexed from another
	// .sql file (sluice rebuild --view).
	replace bool
}

func newIndexCmd(e *env) *cobra.Command {
	var o indexOptions
	c := &cobra.Command{
		Use:   "index [--log PATH | --ssb PATH] [--view ssb|FILE.sql]... [--follow]",
		Short: "Index views from the log",
		Long: `Bring views up to date with a log: DIR/log by default, another sluice log
(--log), or an SSB flumelog-offset file read in place (--ssb). Each view is
kept in its own SQLite file, DIR/views/NAME.db, which the sqlite3 shell and
sluice query can read while indexing runs.

--view is "ssb" (the built-in SSB view set: authors, messages, links,
contacts, abouts; the default), "lattice" (the built-in lattice view, see
sluice lattice --help) or a SQL view file (see testdata/views). A
view whose definition changed, or whose file is foreign or damaged, is
rebuilt from the log. Indexing resumes where it stopped.

With --follow, sluice keeps indexing as the log grows (Ctrl-C to stop),
applying entries appended with --local ahead of any backlog. A progress bar
shows on a terminal, then a summary.`,
		Example: `  sluice index --ssb ~/.ssb/flume/log.offset
  sluice index --view ssb --view testdata/views/posts.sql
  sluice index --follow`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.checkTuning(); err != nil {
				return err
			}
			return runIndex(c.Context(), e, &o)
		},
	}
	f := c.Flags()
	o.src.add(f)
	f.StringArrayVar(&o.views, "view", nil, `view to index: "ssb", "lattice" or a .sql view file (repeatable; default ssb)`)
	f.BoolVarP(&o.follow, "follow", "f", false, "keep indexing as the log grows")
	f.IntVar(&o.batch, "batch", 0, "entries per batch read from the log (default 1000)")
	f.IntVar(&o.txEntries, "tx-entries", 0, "entries per transaction while catching up (default 20000)")
	f.BoolVar(&o.noPriority, "no-priority", false, "do not apply local entries ahead of the backlog")
	f.Float64Var(&o.share, "backlog-share", 0.5, "least share of the writer's time the backlog keeps while local entries go first (more than 0, at most 1)")
	f.BoolVar(&o.noWatch, "no-watch", false, "with --follow, only poll the log every --poll, without also waking on the file system's notices (inotify, Linux)")
	f.DurationVar(&o.poll, "poll", log.DefaultPollInterval, "with --follow, how often to look for new entries (also when watching the log)")
	f.StringVar(&o.statsFile, "stats-file", "", "write progress samples (JSON lines, every 100 ms) to this file, for benchmarks")
	f.MarkHidden("stats-file")
	f.DurationVar(&o.statsEvery, "stats-every", 100*time.Millisecond, "with --stats-file, the interval between samples")
	f.MarkHidden("stats-every")
	return c
}

// checkTuning checks the flags only sluice index has (sluice rebuild shares
// indexOptions and leaves them zero: the defaults).
func (o *indexOptions) checkTuning() error {
	switch {
	case o.batch < 0:
		return usagef("--batch %d: want a positive number of entries", o.batch)
	case o.txEntries < 0:
		return usagef("--tx-entries %d: want a positive number of entries", o.txEntries)
	case !(o.share > 0 && o.share <= 1): // NaN too
		return usagef("--backlog-share %v: want more than 0 and at most 1", o.share)
	case o.poll <= 0:
		return usagef("--poll %v: want a positive duration", o.poll)
	case o.statsEvery <= 0:
		return usagef("--stats-every %v: want a positive duration", o.statsEvery)
	}
	return nil
}

func runIndex(ctx context.Context, e *env, o *indexOptions) error {
	if o.follow && !o.noPriority {
		schedulePromptly()
	}
	views, err := resolveViews(o.views)
	if err != nil {
		return err
	}
	src, closer, srcName, err := o.src.open(e)
	if err != nil {
		return err
	}
	defer closer.Close()
	if f, ok := src.(follower); ok {
		f.SetPollInterval(o.poll)
		f.SetWatch(!o.noWatch)
	}
	iopts := index.Options{BatchSize: o.batch, TxEntries: o.txEntries, NoPriority: o.noPriority, BacklogShare: o.share}
	var (
		ix      *index.Indexer
		files   []*view.File
		db      *sluicedb.DB
		closeDB func() error
	)
	if o.follow {
		if db, closeDB, err = e.openFollowing(views, src, o.replace, iopts); err != nil {
			return err
		}
		defer closeDB()
		ix, files = db.Indexer(), db.Files()
	} else {
		var release func()
		if files, release, err = e.openViewFiles(views, o.replace, false); err != nil {
			return err
		}
		defer release()
		if ix, err = index.New(src, files, iopts); err != nil {
			return err
		}
	}
	last, err := src.Last()
	if err != nil {
		return err
	}
	start := time.Now()
	bar := newProgress(e, int64(last), "indexing", false)
	stats, err := newStatsWriter(o.statsFile, start)
	if err != nil {
		return err
	}
	defer stats.close()
	stopBar := make(chan struct{})
	barDone := make(chan struct{})
	go func() {
		defer close(barDone)
		every := 100 * time.Millisecond
		if o.statsFile != "" {
			every = o.statsEvery
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopBar:
				stats.sample(ix.Progress())
				return
			case <-t.C:
				p := ix.Progress()
				stats.sample(p)
				if bar.bar != nil {
					if int64(p.Last) > bar.bar.GetMax64() {
						bar.bar.ChangeMax64(int64(p.Last))
					}
					bar.set(int64(p.Since))
					if o.follow && p.Lag() == 0 {
						bar.describe("following")
					}
				}
			}
		}
	}()
	if o.follow {
		err = follow(ctx, db)
		if cerr := closeDB(); err == nil {
			err = cerr // indexing stopped: the summary below is final
		}
	} else {
		err = ix.SynchronizeUpTo(ctx, 0)
	}
	close(stopBar)
	<-barDone
	bar.done()
	if err != nil {
		return err
	}
	p := ix.Progress()
	el := time.Since(start)
	var names []string
	for _, f := range files {
		names = append(names, f.Path())
	}
	fmt.Fprintf(e.errOut, "indexed %d entries (%.1f MB) from %s in %.2fs: %s entries, %.1f MB/s; since %d; wrote %s\n",
		p.Entries, mb(p.Bytes), srcName, el.Seconds(), rate(float64(p.Entries), el), mb(p.Bytes)/max(el.Seconds(), 1e-9), p.Since, strings.Join(names, ", "))
	return nil
}

// follower is a source whose Wait can be tuned: a sluice log (log.Reader)
// or an SSB log.offset (offset.Log).
type follower interface {
	SetPollInterval(time.Duration)
	SetWatch(bool)
}

// minProcs is the least GOMAXPROCS a following indexer runs with.
const minProcs = 4

// schedulePromptly raises GOMAXPROCS to minProcs, unless the user set it.
// The indexer keeps two goroutines busy (decoding, and the writer, mostly
// in SQLite); with GOMAXPROCS at 2 (a 2-core machine) the goroutine that
// watches the log for local entries, once woken, could wait for Go's
// 10 ms time slice before it ran. Spare Ps let the operating system's
// scheduler run it at once instead (sluice bench local on 2 cores: p99
// latency of a local entry while the backlog is applied 11-19 ms with 2, 5-7
// ms with 4, the backlog's time unchanged).
func schedulePromptly() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
