package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// LocalFollow is the follower experiment for one way of noticing new
// entries: an index.Indexer over a log.Reader in this process, caught up
// with a small log, and local entries appended every Interval by a log.Log
// in this process too (the Reader sees them through the files, as across
// processes).
type LocalFollow struct {
	// Poll is the Reader's poll interval. With Watch, the Reader was left
	// to watch the log's directory too (log.Reader.SetWatch), and Watched
	// says whether it did (false where inotify is not available: it only
	// polled).
	Poll           time.Duration
	Watch, Watched bool
	// Samples are the appended entries (all after catch-up).
	Samples []LocalSample
	// IdleCPU is the CPU time this process used per second of wall time
	// while the indexer followed an idle log (1 means one core busy);
	// BusyCPU the same while entries were appended.
	IdleCPU, BusyCPU float64
}

// Name says how the follower noticed new entries: "poll 1ms", "inotify".
func (f LocalFollow) Name() string {
	switch {
	case f.Watched:
		return "inotify + poll " + f.Poll.String()
	case f.Watch:
		return "no inotify: poll " + f.Poll.String()
	}
	return "poll " + f.Poll.String()
}

// localFollow runs the follower experiment with the Reader polling every
// poll, or watching the log's directory if watch is set.
func localFollow(ctx context.Context, cfg LocalConfig, prep *localPrepared, work string, poll time.Duration, watch bool) (*LocalFollow, error) {
	res := &LocalFollow{Poll: poll, Watch: watch}
	small, err := localSmallLog(ctx, prep, filepath.Join(work, "follow-log"), log.Seq(cfg.FollowEntries))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, "follow-"+strings.NewReplacer("µ", "u", " ", "", ":", "", "+", "-").Replace(res.Name()))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logDir := filepath.Join(dir, "log")
	if err := small.clone(logDir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	r, err := log.OpenReader(logDir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	r.SetPollInterval(poll)
	r.SetWatch(watch)
	if err := os.MkdirAll(filepath.Join(dir, "views"), 0o755); err != nil {
		return nil, err
	}
	viewPath := filepath.Join(dir, "views", ssb.Name+".db")
	f, err := view.OpenFile(viewPath, []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ix, err := index.New(r, []*view.File{f}, index.Options{})
	if err != nil {
		return nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = ix.Run(runCtx)
	}()
	stop := func() error {
		stopRun()
		<-done
		if errors.Is(runErr, context.Canceled) {
			return nil
		}
		return runErr
	}
	exitErr := func() error { return fmt.Errorf("index.Run: %w", runErr) }

	// Catch up, then measure an idle follower.
	o := newLocalObserver(cfg, viewPath, small.last, done, exitErr)
	close(o.appended)
	if err := o.run(ctx); err != nil {
		return nil, errors.Join(err, stop())
	}
	cpu0, wall0 := localCPUTime(), time.Now()
	select {
	case <-time.After(cfg.FollowIdle): // the workload: nothing happens
	case <-done:
		return nil, exitErr()
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), stop())
	}
	res.IdleCPU = (localCPUTime() - cpu0).Seconds() / time.Since(wall0).Seconds()
	res.Watched = r.Watching()

	w, err := log.Open(logDir, log.Options{Durability: cfg.Durability})
	if err != nil {
		return nil, errors.Join(err, stop())
	}
	defer w.Close()
	o = newLocalObserver(cfg, viewPath, small.last, done, exitErr)
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	cpu0, wall0 = localCPUTime(), time.Now()
	go func() {
		defer wg.Done()
		werr = localWrite(ctx, cfg.Interval, cfg.FollowAppends, w, o, "follow-"+res.Name())
	}()
	oerr := o.run(ctx)
	if oerr != nil {
		cancel()
	}
	wg.Wait()
	res.BusyCPU = (localCPUTime() - cpu0).Seconds() / time.Since(wall0).Seconds()
	if err := errors.Join(oerr, werr, stop()); err != nil {
		return nil, err
	}
	for _, s := range o.samples {
		res.Samples = append(res.Samples, LocalSample{
			Seq: s.seq, Append: s.appendDur, At: s.appended.Sub(wall0),
			Row: s.rowAt.Sub(s.appended), Meta: s.metaAt.Sub(s.appended),
		})
	}
	return res, nil
}

// localSmallLog makes (once) a log in dir holding the first n entries of
// the prepared log.
func localSmallLog(ctx context.Context, prep *localPrepared, dir string, n log.Seq) (*localPrepared, error) {
	n = min(n, prep.last)
	if l, err := log.OpenReader(dir); err == nil {
		last, err := l.Last()
		l.Close()
		if err == nil && last == n {
			return &localPrepared{dir: dir, last: n}, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	src, err := log.OpenReader(prep.dir)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	it, err := src.Iter(1)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out, err := log.Open(dir, log.Options{Durability: log.SyncNone})
	if err != nil {
		return nil, err
	}
	defer out.Close()
	var recs []log.Record
	for len(recs) < int(n) && it.Next() {
		recs = append(recs, log.Record{Origin: it.Entry().Origin, Payload: it.Entry().Payload})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if _, err := out.Append(ctx, recs...); err != nil {
		return nil, err
	}
	return &localPrepared{dir: dir, last: n}, out.Close()
}

// LocalCLI is the experiment a CLI user meets: "sluice index --follow" in
// one process indexing the backlog from empty views, and "sluice append
// --local --wait" run again and again in others, back to back, during the
// backlog and after. Runs without --wait alternate with them, to show
// what starting the process and appending cost alone.
type LocalCLI struct {
	// Backlog and CaughtUp are when the indexer had applied the backlog
	// and built its indexes, from its start.
	Backlog, CaughtUp time.Duration
	// Wait and NoWait are the runs with and without --wait.
	Wait, NoWait []LocalCLIRun
	// NotVisible counts --wait runs after which a read of the view file
	// did not find the entry's row (must be 0).
	NotVisible int
}

// LocalCLIRun is one "sluice append" process.
type LocalCLIRun struct {
	Seq log.Seq
	// At is when it started, from the start of the indexer.
	At time.Duration
	// Took is the time from starting the process to reading the seq it
	// printed.
	Took time.Duration
}

// Phase says when the run started: during the backlog, the index build
// or once caught up.
func (r LocalCLIRun) Phase(c *LocalCLI) string { return localPhase(r.At, c.Backlog, c.CaughtUp) }

// localCLI runs the CLI experiment over a fresh copy of the prepared log.
func localCLI(ctx context.Context, cfg LocalConfig, prep *localPrepared, work string) (*LocalCLI, error) {
	dir := filepath.Join(work, "cli")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := prep.clone(filepath.Join(dir, "log")); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	child, err := localStartIndexer(cfg, dir)
	if err != nil {
		return nil, err
	}
	defer child.kill()
	viewPath := filepath.Join(dir, "views", ssb.Name+".db")
	o := newLocalObserver(cfg, viewPath, prep.last, child.done, child.exitError)
	close(o.appended)
	oerr := make(chan error, 1)
	go func() { oerr <- o.run(ctx) }()

	res := &LocalCLI{}
	err = func() error {
		select {
		case <-o.ready:
		case err := <-oerr:
			return fmt.Errorf("the indexer did not start: %w", err)
		}
		check, err := query.Open([]string{viewPath}, query.Options{})
		if err != nil {
			return err
		}
		defer check.Close()
		after := 0
		prev := ""
		for i := 1; after < 2*cfg.CLIAppends; i++ {
			caught := false
			select {
			case <-o.caught:
				caught = true
			default:
			}
			wait := i%2 == 1
			payload, key := localMessage("cli", i, prev, time.Now())
			prev = key
			args := []string{"--dir", dir, "append", "--local", "--json", string(payload)}
			if wait {
				args = append(args, "--wait", "--timeout", cfg.Timeout.String())
			}
			run, err := localTimeAppend(ctx, cfg.Sluice, args, child.start)
			if err != nil {
				return err
			}
			if wait {
				res.Wait = append(res.Wait, run)
				var n int
				if err := check.SQL().QueryRowContext(ctx, `SELECT count(*) FROM ssb.messages WHERE seq = ?`, int64(run.Seq)).Scan(&n); err != nil {
					return err
				}
				if n != 1 {
					res.NotVisible++
				}
			} else {
				res.NoWait = append(res.NoWait, run)
			}
			if caught {
				after++
			}
		}
		return nil
	}()
	if err != nil {
		cancel()
		<-oerr
		return nil, err
	}
	if err := <-oerr; err != nil {
		return nil, err
	}
	if err := child.stop(30 * time.Second); err != nil {
		return nil, err
	}
	res.Backlog, res.CaughtUp = o.backlogAt.Sub(child.start), o.caughtAt.Sub(child.start)
	return res, nil
}

// localTimeAppend runs one "sluice append" and times it from its start to
// the seq it prints.
func localTimeAppend(ctx context.Context, sluice string, args []string, origin time.Time) (LocalCLIRun, error) {
	cmd := exec.CommandContext(ctx, sluice, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return LocalCLIRun{}, err
	}
	localSysProcAttr(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return LocalCLIRun{}, err
	}
	line, rerr := bufio.NewReader(out).ReadString('\n')
	took := time.Since(start)
	werr := cmd.Wait()
	if werr != nil || rerr != nil {
		return LocalCLIRun{}, fmt.Errorf("sluice %s: %w %v: %s", strings.Join(args[:4], " "), errors.Join(werr, rerr), line, stderr.String())
	}
	seq, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return LocalCLIRun{}, fmt.Errorf("sluice append printed %q, not a seq", line)
	}
	return LocalCLIRun{Seq: log.Seq(seq), At: start.Sub(origin), Took: took}, nil
}
