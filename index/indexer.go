package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Options tune an Indexer. The zero value is the default.
type Options struct {
	// BatchSize is how many entries of the backlog go in one batch, one
	// transaction per view file. Default 1000. Smaller batches let a local
	// entry through sooner; bigger ones cost fewer commits.
	BatchSize int
	// BatchBytes caps a batch's payload bytes. Default 4 MiB.
	BatchBytes int
	// TxEntries is how many backlog entries may share one transaction:
	// several batches are committed together while the backlog lasts,
	// unless local entries are waiting. Default 20000.
	TxEntries int
	// TxAge bounds how long a transaction stays open, so readers see the
	// backlog progress. Default 250 ms.
	TxAge time.Duration
	// NoPriority turns local-first off: local entries wait behind the
	// backlog like any other entry.
	NoPriority bool
	// BacklogShare is the least share of the writer's time the backlog
	// keeps while local entries keep arriving, so a flood of local
	// entries cannot starve it. Between 0 and 1; default 0.5.
	BacklogShare float64
	// BulkLag: a view file that lags the log by more than this many
	// entries is written in bulk mode (no fsync, see view.File.SetBulk)
	// until it catches up. Default 10000; negative never.
	BulkLag int
	// Logger receives notices, such as Run waiting for a full disk, at
	// level Warn. nil means slog.Default().
	Logger *slog.Logger
	// SettleWithin bounds how long a view file stays unsettled after a
	// bulk catch-up (see view.File.Settle: until then an OS crash rebuilds
	// its views from the log). An idle indexer settles after 2 s; one kept
	// busy, for example by a steady stream of local entries, settles once
	// this much time has passed, by when the kernel has usually written
	// the pages back and the fsync is quick. Default 1 minute.
	SettleWithin time.Duration
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.TxEntries <= 0 {
		o.TxEntries = 20000
	}
	if o.TxAge <= 0 {
		o.TxAge = 250 * time.Millisecond
	}
	if o.BacklogShare <= 0 || o.BacklogShare > 1 {
		o.BacklogShare = 0.5
	}
	if o.BulkLag == 0 {
		o.BulkLag = 10000
	}
	if o.SettleWithin <= 0 {
		o.SettleWithin = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Indexer feeds the views of one or more view files from a log. It reads
// the log once, in batches, and applies each batch to every file; between
// batches of the backlog it applies new local entries first to the views
// that accept them.
//
// Run and SynchronizeUpTo must not run at the same time. WaitFor and
// Progress may be called from any goroutine at any time.
type Indexer struct {
	src   log.Source
	files []*view.File
	opts  Options

	running atomic.Bool

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit
	failed   error         // why the last run stopped, unless its context ended; notifyMu

	// newFrom is where the log ended when New returned: entries after it
	// are new, and local ones go ahead of the backlog in the first run.
	// Later runs take the log's end as they start. Guarded by running.
	newFrom log.Seq
	fromNew bool

	entries    atomic.Int64   // entries read from the log by this Indexer
	bytes      atomic.Int64   // their payload bytes
	started    atomic.Int64   // unix nanos of the last Run/SynchronizeUpTo start
	lastLocalN atomic.Int64   // local entries applied ahead
	phases     []atomic.Int32 // per file, its Phase; set by its writer

	expect atomic.Uint64 // see Expect (expect.go)

	// txMu is held by Transact while it uses the files, and by a run
	// while it sets up and ends: one or the other drives the files.
	txMu  sync.Mutex
	pipes []*pipe // the running writers, for Transact to pause; txMu
}

// New returns an Indexer feeding files from src. The files must stay open
// while the Indexer runs; the caller closes them.
//
// New notes where the log ends: local entries appended after New returns
// are new to the first Run, which applies them ahead of the backlog (to the
// views that accept them) even if they are appended before Run gets going.
func New(src log.Source, files []*view.File, opts Options) (*Indexer, error) {
	if len(files) == 0 {
		return nil, errors.New("index: no view files")
	}
	last, err := src.Last()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return &Indexer{src: src, files: files, opts: opts.withDefaults(), notify: make(chan struct{}),
		phases: make([]atomic.Int32, len(files)), newFrom: last, fromNew: true}, nil
}

// SynchronizeUpTo indexes until every view has applied every entry up to
// seq, waiting for the log to reach seq if it has not yet, or until ctx
// ends. seq 0 means the log's last entry now. When it has caught up with
// the log it also builds the views' secondary indexes.
func (ix *Indexer) SynchronizeUpTo(ctx context.Context, seq log.Seq) error {
	if seq == 0 {
		last, err := ix.src.Last()
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		seq = last
	}
	return ix.run(ctx, seq, false)
}

// Run indexes the log and then follows it as it grows, until ctx ends
// (then it returns ctx's error) or indexing fails. When the disk holding a
// view file is full, Run does not fail: it logs a notice, waits (1 s,
// doubling up to 30 s), recovers the files (view.File.Recover) and goes on.
func (ix *Indexer) Run(ctx context.Context) error {
	return ix.run(ctx, 0, true)
}

// WaitFor blocks until the entry at seq shows in the named views (every view
// of every file if none is named) or ctx ends. An entry shows in a view once
// the view's since reaches it or, for a local entry and a view that accepts
// local entries ahead, once it was applied ahead. With a backlog being
// indexed, views that do not accept local entries ahead show them only after
// the backlog: name the views you are going to read.
//
// If indexing stops with an error (a view's Apply failed, the log could not
// be read; see Err) before the entry shows, WaitFor returns that error at
// once, in every goroutine waiting. It keeps waiting when Run or
// SynchronizeUpTo returned because their context ended, or is not running:
// another run may come.
func (ix *Indexer) WaitFor(ctx context.Context, seq log.Seq, views ...string) error {
	for {
		ix.notifyMu.Lock()
		ch, failed := ix.notify, ix.failed
		ix.notifyMu.Unlock()
		ok, err := ix.shows(seq, views)
		if err != nil || ok {
			return err
		}
		if failed != nil {
			return failed
		}
		if testHookWaiting != nil {
			testHookWaiting()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// testHookWaiting, if set (by tests only), runs when WaitFor is about to
// block.
var testHookWaiting func()

// Err returns the error that stopped the last Run or SynchronizeUpTo, nil
// while one runs, after one ended well, or when its context ended. A view's
// failed Apply matches *view.ApplyError with errors.As.
func (ix *Indexer) Err() error {
	ix.notifyMu.Lock()
	defer ix.notifyMu.Unlock()
	return ix.failed
}

// shows reports whether every view named (all if none) shows the entry at
// seq; naming a view no file holds is an error.
func (ix *Indexer) shows(seq log.Seq, views []string) (bool, error) {
	found := 0
	for _, f := range ix.files {
		for _, name := range f.Names() {
			if len(views) == 0 || slices.Contains(views, name) {
				found++
			}
		}
	}
	if found < len(views) {
		return false, fmt.Errorf("index: wait for seq %d: no view named %v", seq, views)
	}
	for _, f := range ix.files {
		for _, name := range f.Names() {
			if (len(views) == 0 || slices.Contains(views, name)) && !f.Applied(name, seq) {
				return false, nil
			}
		}
	}
	return true, nil
}

// Changed returns a channel that is closed after the next commit to any of
// the Indexer's view files (a batch, local entries applied ahead, an index
// built) that follows the call. It may be called from any goroutine; it
// makes an Indexer a query.Notifier, so live queries in the same process
// hear of its commits at once.
func (ix *Indexer) Changed() <-chan struct{} {
	ix.notifyMu.Lock()
	defer ix.notifyMu.Unlock()
	return ix.notify
}

func (ix *Indexer) broadcast() {
	ix.notifyMu.Lock()
	close(ix.notify)
	ix.notify = make(chan struct{})
	ix.notifyMu.Unlock()
}

// Progress is a snapshot of an Indexer's work.
type Progress struct {
	// Entries and Bytes read from the log since Run or SynchronizeUpTo
	// started.
	Entries, Bytes int64
	// Elapsed since it started.
	Elapsed time.Duration
	// Since is the lowest since of all views; Last the log's last seq.
	Since, Last log.Seq
	// AheadApplied counts local entries applied ahead of the backlog.
	AheadApplied int64
	// Files is the state of each view file, in the order given to New.
	Files []FileProgress
}

// Lag is how many entries the slowest view is behind the log.
func (p Progress) Lag() log.Seq {
	if p.Last > p.Since {
		return p.Last - p.Since
	}
	return 0
}

// EntriesPerSec is the average read rate since the start.
func (p Progress) EntriesPerSec() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Entries) / p.Elapsed.Seconds()
}

// Progress returns a snapshot of the indexer's work.
func (ix *Indexer) Progress() Progress {
	p := Progress{Entries: ix.entries.Load(), Bytes: ix.bytes.Load(), AheadApplied: ix.lastLocalN.Load()}
	if s := ix.started.Load(); s != 0 {
		p.Elapsed = time.Since(time.Unix(0, s))
	}
	p.Since = ix.minSince()
	p.Last, _ = ix.src.Last()
	p.Files = make([]FileProgress, len(ix.files))
	for i := range ix.files {
		p.Files[i] = ix.fileProgress(i)
	}
	return p
}

func (ix *Indexer) minSince() log.Seq {
	var min log.Seq
	for i, f := range ix.files {
		if s := f.MinSince(); i == 0 || s < min {
			min = s
		}
	}
	return min
}
