package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Subscription.Next once the subscription (or its
// Live) was closed, by Live.Subscribe after Live.Close, and by the query
// methods of a closed DB.
var ErrClosed = errors.New("query: closed")

// Notifier tells of commits to view files made in this process: an
// *index.Indexer is one. Changed returns a channel that is closed after the
// next commit following the call.
type Notifier interface {
	Changed() <-chan struct{}
}

// LiveOptions configure a Live. The zero value is the default.
type LiveOptions struct {
	// Poll is how often each watched view file's PRAGMA data_version is
	// read when nothing else wakes the watcher: the bound on how late a
	// change is noticed if the watch misses it. Default 100 ms, or 1 ms
	// with NoWatch.
	Poll time.Duration
	// NoWatch turns off the watch (inotify, on Linux) of the directories
	// of the view files read, which wakes the watcher when another
	// process writes to them; without it, it only polls.
	NoWatch bool
	// Notifier, if set, wakes the watcher at once after a commit made in
	// this process, such as an index.Indexer's.
	Notifier Notifier
	// Workers is how many goroutines re-run queries, each on a
	// connection of its own; default 1.
	Workers int
	// Share bounds the time spent re-running queries (summed over the
	// workers) to this share of the wall time, averaged over about a
	// second, so that live queries cannot starve an indexer of CPU: while
	// changes keep coming faster than the queries can follow, results come
	// less often. Default 0.25; negative means no bound.
	Share float64
	// OnRun, if set, is called after each successful run of a query with
	// its result and whether the result was delivered (its rows differ
	// from the last delivered): to trace what live queries do, such as
	// why nothing was delivered. It is called on the goroutine that ran
	// the query, one call at a time per worker; it must return quickly,
	// must not modify r, and must not close a subscription or the Live.
	OnRun func(s *Subscription, r *Result, delivered bool)
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
		if o.NoWatch {
			o.Poll = time.Millisecond
		}
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Share == 0 {
		o.Share = 0.25
	}
	return o
}

// Live runs live queries over the view files of a DB: each subscription
// receives its query's result at once and again whenever a view file it
// reads has changed and the result with it.
//
// A view file's changes are noticed through its PRAGMA data_version, read
// on one connection shared by every subscription, woken by a watch of the
// file's directory (the indexer may be another process), by the Notifier
// and by a slow poll. A change queues each subscription reading the file
// once: a subscription already queued stays queued, and one being re-run
// is re-run once more after, so a burst of commits costs at most one
// re-run in flight and one after it. Re-runs run on Workers connections
// of Live's own, each in a read transaction that also reads the views'
// progress, so a result says which entries it reflects.
//
// While no subscription is open, Live runs no goroutine and holds one
// connection (the one that finds what a query reads). Its methods are safe
// for concurrent use. Close it before the DB.
type Live struct {
	db   *DB
	opts LiveOptions
	an   *analyzer

	mu     sync.Mutex
	closed bool
	subs   map[*Subscription]struct{}
	gen    *generation // nil while no subscription is open
	closes uint64      // counts closed subscriptions, for the workers' statement caches

	stats liveStats
}

// LiveStats counts what a Live has done since NewLive.
type LiveStats struct {
	// Checks counts data_version reads, one per watched file per look;
	// Changes those that found the file changed.
	Checks, Changes uint64
	// Runs counts query runs, first runs included; Results the results
	// delivered (the runs whose rows differed from the last ones).
	Runs, Results uint64
	// RunTime is the time the runs took, summed.
	RunTime time.Duration
}

type liveStats struct {
	checks, changes, runs, results, runNanos atomic.Uint64
}

// Stats returns what l has done so far.
func (l *Live) Stats() LiveStats {
	return LiveStats{Checks: l.stats.checks.Load(), Changes: l.stats.changes.Load(), Runs: l.stats.runs.Load(), Results: l.stats.results.Load(),
		RunTime: time.Duration(l.stats.runNanos.Load())}
}

// generation is the goroutines that serve subscriptions from the moment
// the first opens until the last closes.
type generation struct {
	ctx    context.Context // ends when the generation stops
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // cap 1: new subscriptions are pending for the watcher
	work   chan struct{} // cap Workers: the queue is not empty
	budget *budget       // the workers' running time

	// Guarded by Live.mu:
	pending []*Subscription            // not yet registered by the watcher
	files   map[string][]*Subscription // file name → open subscriptions reading it
	queue   []*Subscription            // waiting for a re-run, each once
}

// NewLive returns a Live over db's view files.
func NewLive(db *DB, opts LiveOptions) (*Live, error) {
	an, err := db.openAnalyzer(context.Background())
	if err != nil {
		return nil, err
	}
	return &Live{db: db, opts: opts.withDefaults(), an: an, subs: map[*Subscription]struct{}{}}, nil
}

// Subscribe starts a live query: query (one read-only statement) with
// args. A statement that would write is refused with ErrWrite, and one that
// does not compile with SQLite's error, before anything starts. The first
// result is computed at once; call Next to receive it and the later ones.
//
// The subscription ends when ctx ends or Close is called; Next then
// returns the context's error or ErrClosed.
func (l *Live) Subscribe(ctx context.Context, query string, args ...any) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.db.Check(query); err != nil {
		return nil, err
	}
	nargs, err := namedValues(args)
	if err != nil {
		return nil, fmt.Errorf("live query: %w", err)
	}
	reads, nparams, err := l.an.reads(query)
	if err != nil {
		return nil, fmt.Errorf("live query: %w", err)
	}
	if nparams >= 0 && nparams != len(nargs) {
		return nil, fmt.Errorf("live query: %d arguments for a statement with %d parameters", len(nargs), nparams)
	}
	s := newSubscription(l, query, nargs, reads)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.subs[s] = struct{}{}
	g := l.gen
	if g == nil {
		g = l.start()
	}
	g.pending = append(g.pending, s)
	l.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
	s.mu.Lock()
	s.stopAfter = context.AfterFunc(ctx, func() { s.end(context.Cause(ctx)) })
	s.mu.Unlock()
	return s, nil
}

// start starts a generation. l.mu must be held.
func (l *Live) start() *generation {
	ctx, cancel := context.WithCancel(context.Background())
	g := &generation{ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), work: make(chan struct{}, l.opts.Workers), budget: newBudget(l.opts.Share, time.Now), files: map[string][]*Subscription{}}
	l.gen = g
	g.wg.Add(1 + l.opts.Workers)
	go l.watch(g)
	for range l.opts.Workers {
		go l.work(g)
	}
	return g
}

// remove takes s out of the live set and returns the generation to wait
// for if s was the last subscription (nil otherwise).
func (l *Live) remove(s *Subscription) *generation {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.subs[s]; !ok {
		return nil
	}
	delete(l.subs, s)
	l.closes++
	g := l.gen
	for _, f := range s.files {
		g.files[f] = deleteSub(g.files[f], s)
		if len(g.files[f]) == 0 {
			delete(g.files, f)
		}
	}
	g.pending = deleteSub(g.pending, s)
	g.queue = deleteSub(g.queue, s)
	if len(l.subs) > 0 {
		return nil
	}
	l.gen = nil
	g.cancel()
	return g
}

func deleteSub(list []*Subscription, s *Subscription) []*Subscription {
	for i, x := range list {
		if x == s {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// enqueue queues s for a re-run: once, however often it is called before
// the re-run starts; during a re-run it asks for one more after it. l.mu
// must be held.
func (g *generation) enqueue(s *Subscription) {
	switch {
	case s.running:
		s.again = true
	case !s.queued:
		s.queued = true
		g.queue = append(g.queue, s)
		select {
		case g.work <- struct{}{}:
		default:
		}
	}
}

// Close ends every subscription (their Next returns ErrClosed) and waits
// for Live's goroutines to return. It is idempotent.
func (l *Live) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	subs := make([]*Subscription, 0, len(l.subs))
	for s := range l.subs {
		subs = append(subs, s)
	}
	l.mu.Unlock()
	for _, s := range subs {
		s.end(ErrClosed)
	}
	l.an.close()
	return nil
}

// namedValues converts query arguments as database/sql does for a driver
// without a converter of its own.
func namedValues(args []any) ([]driver.NamedValue, error) {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv := driver.NamedValue{Ordinal: i + 1, Value: a}
		if n, ok := a.(sql.NamedArg); ok {
			nv.Name, nv.Value = n.Name, n.Value
		}
		v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		nv.Value = v
		out[i] = nv
	}
	return out, nil
}
