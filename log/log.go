package log

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/wal"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// Log is a native sluice log opened for writing. Only one Log per directory
// may be open at a time, across processes (a file lock enforces it).
//
// All methods are safe for concurrent use: many goroutines may Append, Get,
// Iter and Wait at once.
type Log struct {
	dir  string
	opts Options
	lock *fsutil.FileLock
	node NodeID

	// mu serializes writes: it is held while a batch is framed, written and
	// (in SyncAlways) fsynced. It also guards w's Read, which tidwall/wal
	// does not make safe for concurrent use (its issue #34).
	mu        sync.Mutex
	w         *wal.Log
	batch     wal.Batch
	buf       []byte
	tailFirst Seq   // first seq of the tail segment
	tailSize  int   // bytes in the tail segment, mirroring tidwall/wal's count
	broken    error // set when a failed write could not be undone; the log must be reopened
	closed    bool
	head      *head // the durable mark
	headErr   error // the last failure to write the mark; Close reports it

	// tailLastLen is the length of the tail segment's last frame, 0 if
	// not known (see closedFile). mu must be held.
	tailLastLen int

	last      atomic.Uint64 // highest seq written (and, except in SyncNone, synced)
	rollbacks atomic.Uint64 // failed writes undone: iterators drop bytes read past last

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced when last grows

	group *committer // non-nil in SyncGroup
	seek  seekIndex  // shared by the iterators

	repairs []Repair
	lost    *Loss

	// waiting, if set, is called each time Wait is about to block (tests
	// use it to know a Wait is waiting).
	waiting func()
}

var _ Source = (*Log)(nil)

// lockWaiting, if set, is called when Open starts waiting for the lock
// (tests).
var lockWaiting func()

// Open opens the log in dir for writing, creating it if dir is missing or
// empty, and upgrading a format 1 log to format 2. It cuts a torn tail and
// an incomplete Append off (see Repairs), after recording what it cuts in
// LASTOPEN. It fails with ErrLocked if another Log holds dir (after waiting
// Options.LockWait), with ErrNotLog if dir holds something else, with a
// *CorruptError if a record before the tail is damaged or segments are
// missing or overlap, and with a *LostError if the log ends before its
// durable mark (unless Options.AcceptLoss).
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	lock, err := fsutil.LockWait(filepath.Join(dir, lockFile), opts.LockWait, lockWaiting)
	if err != nil {
		if errors.Is(err, fsutil.ErrLocked) {
			waited := ""
			if opts.LockWait > 0 {
				waited = fmt.Sprintf(" for %v", opts.LockWait)
			}
			return nil, fmt.Errorf("open log %s: %w (waited%s; only one writer may have a log open at a time, readers need no lock)", dir, ErrLocked, waited)
		}
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	l, err := open(dir, opts, lock)
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return l, nil
}

func open(dir string, opts Options, lock *fsutil.FileLock) (_ *Log, err error) {
	meta, err := prepareDir(dir)
	if err != nil {
		return nil, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	// The durable mark first: what it covers is kept when damage after it
	// cuts an Append short. Without a mark, nothing is known acknowledged.
	h, herr := openHeadWriter(dir)
	var mark Seq
	if herr == nil {
		mark = h.mark
	}
	// A log closed cleanly and untouched since needs no scan (closedFile).
	plan, lastLen, clean := cleanPlan(dir, segs)
	if !clean {
		plan, err = planRepair(segs, mark)
		lastLen = plan.tailLastLen
	}
	if err != nil {
		if h != nil {
			h.close()
		}
		return nil, err
	}
	err = herr
	if err != nil && opts.AcceptLoss && errors.Is(err, ErrLost) {
		// A missing or unreadable mark: start a new one at the end.
		if err = writeHeadFile(dir, plan.last); err == nil {
			h, err = openHeadWriter(dir)
		}
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	var lost *Loss
	if plan.last < h.mark {
		reason := fmt.Sprintf("the log ends at seq %d", plan.last)
		if len(plan.repairs) > 0 {
			reason += "; what follows is damaged: " + plan.repairs[0].String()
		}
		if !opts.AcceptLoss {
			return nil, &LostError{Dir: dir, From: plan.last + 1, To: h.mark, Reason: reason}
		}
		lost = &Loss{From: plan.last + 1, To: h.mark, Reason: reason}
	}
	if err := writeLastOpen(dir, LastOpen{Time: time.Now().UTC(), Repairs: plan.repairs, Lost: lost}); err != nil {
		return nil, err
	}
	if err := plan.apply(dir); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, lock: lock, node: meta.node, head: h, notify: make(chan struct{}), repairs: plan.repairs, lost: lost}
	if err := l.openWAL(); err != nil {
		return nil, err
	}
	l.tailLastLen = lastLen
	defer func() {
		if err != nil {
			l.w.Close()
		}
	}()
	last := Seq(l.last.Load())
	if last != plan.last {
		return nil, fmt.Errorf("open segments: tidwall/wal says the log ends at seq %d, the scan found %d", last, plan.last)
	}
	// wal.Open may have created the first segment; and what the log holds
	// is made durable before the mark covers it.
	if err := fsutil.SyncDir(dir); err != nil {
		return nil, err
	}
	if last > h.mark {
		if err := l.w.Sync(); err != nil {
			return nil, fmt.Errorf("sync segments: %w", err)
		}
		if err := h.set(last, true); err != nil {
			return nil, err
		}
	}
	if lost != nil {
		if err := l.fillLost(lost); err != nil {
			return nil, err
		}
	}
	if opts.Durability == SyncGroup {
		l.group = newCommitter(l)
	}
	return l, nil
}

// openWAL opens the segments with tidwall/wal and mirrors its tail state.
// The caller has repaired the tail (tidwall/wal refuses a torn one).
func (l *Log) openWAL() error {
	w, err := wal.Open(l.dir, &wal.Options{
		NoSync:           true, // we sync ourselves, once per commit
		SegmentSize:      l.opts.SegmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 2,
		NoCopy:           true, // Get copies under mu
		DirPerms:         0o755,
		FilePerms:        0o644,
	})
	if err != nil {
		return fmt.Errorf("open segments: %w", err)
	}
	last, err := w.LastIndex()
	if err == nil {
		var segs []segment
		if segs, err = listSegments(l.dir); err == nil {
			tail := segs[len(segs)-1]
			var fi os.FileInfo
			if fi, err = os.Stat(tail.path); err == nil {
				l.w, l.tailFirst, l.tailSize = w, tail.first, int(fi.Size())
				l.last.Store(last)
				return nil
			}
		}
	}
	w.Close()
	return fmt.Errorf("open segments: %w", err)
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Node returns the log's node id: the Node of the ID of every entry first
// appended here.
func (l *Log) Node() NodeID { return l.node }

// Repairs returns what Open cut off the tail of the log, if anything.
func (l *Log) Repairs() []Repair { return append([]Repair(nil), l.repairs...) }

// Lost returns the loss of acknowledged entries Open accepted
// (Options.AcceptLoss), or nil.
func (l *Log) Lost() *Loss {
	if l.lost == nil {
		return nil
	}
	c := *l.lost
	return &c
}

// Last returns the highest seq in the log, 0 if it is empty. The error is
// always nil; it is there to satisfy Source.
func (l *Log) Last() (Seq, error) { return Seq(l.last.Load()), nil }

// Mark returns the log's durable mark: the highest seq known to be on
// stable storage and recorded as such in the HEAD file (see doc.go).
func (l *Log) Mark() Seq {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head.mark
}

// Wait blocks until the log holds an entry with seq > after and returns
// Last, or returns ctx.Err() when ctx ends first, or ErrClosed.
func (l *Log) Wait(ctx context.Context, after Seq) (Seq, error) {
	for {
		l.notifyMu.Lock()
		ch := l.notify
		l.notifyMu.Unlock()
		if last := Seq(l.last.Load()); last > after {
			return last, nil
		}
		if l.waiting != nil {
			l.waiting()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Seq(l.last.Load()), ctx.Err()
		}
		if l.isClosed() {
			return Seq(l.last.Load()), ErrClosed
		}
	}
}

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Get returns the entry at seq, with a payload the caller owns. It returns
// ErrNotFound for a seq outside 1..Last or one kept as lost, and a
// *CorruptError for a damaged record.
func (l *Log) Get(seq Seq) (Entry, error) {
	if seq == 0 || seq > Seq(l.last.Load()) {
		return Entry{}, fmt.Errorf("get seq %d: %w (log holds 1..%d)", seq, ErrNotFound, l.last.Load())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Entry{}, ErrClosed
	}
	if l.w == nil {
		return Entry{}, fmt.Errorf("get seq %d: log unusable after an earlier write error, reopen it: %w", seq, l.broken)
	}
	rec, err := l.w.Read(uint64(seq))
	if err != nil {
		return Entry{}, fmt.Errorf("get seq %d: %w", seq, err)
	}
	e, flags, why := decodeRecord(rec)
	if why == "" && e.Seq != seq {
		why = fmt.Sprintf("record holds seq %d", e.Seq)
	}
	if why != "" {
		return Entry{}, &CorruptError{Path: l.dir, Offset: -1, Seq: seq, Reason: why}
	}
	if flags&flagLost != 0 {
		return Entry{}, fmt.Errorf("get seq %d: %w: the entry was lost and the loss accepted", seq, ErrNotFound)
	}
	e.Payload = append([]byte(nil), e.Payload...)
	if e.ID.IsZero() {
		e.ID = ID{Node: l.node, Seq: seq}
	}
	return e, nil
}

// Iter returns an iterator over the entries with seq >= from. It reads the
// segment files directly, so it never holds up appends; it yields only
// entries that Append has made visible.
func (l *Log) Iter(from Seq) (Iterator, error) {
	if l.isClosed() {
		return nil, ErrClosed
	}
	return newIter(l.dir, l.node, from, l, &l.seek), nil
}

// Sync makes every entry appended so far durable, and the durable mark
// cover them: what SyncNone appends leave to Close.
func (l *Log) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.w == nil {
		return fmt.Errorf("sync: log unusable after an earlier write error, reopen it: %w", l.broken)
	}
	if err := l.syncAll(); err != nil {
		return fmt.Errorf("sync log %s: %w", l.dir, err)
	}
	return nil
}

// syncAll fsyncs the tail segment and the directory, then moves the mark
// to Last and fsyncs it. mu must be held.
func (l *Log) syncAll() error {
	if err := l.w.Sync(); err != nil {
		return err
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		return err
	}
	return l.head.set(Seq(l.last.Load()), true)
}

// Close flushes and closes the log and releases its lock. It is idempotent.
// Appends after Close fail with ErrClosed. It reports a failure to write
// the durable mark since Open, if there was one.
func (l *Log) Close() error {
	if l.group != nil {
		l.group.stop()
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.headErr
	if l.w != nil {
		if serr := l.syncAll(); err == nil {
			err = serr
		}
		if cerr := l.w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			l.writeClosed()
		}
	} else if err == nil {
		err = l.broken
	}
	if herr := l.head.close(); err == nil {
		err = herr
	}
	l.mu.Unlock()
	l.notifyMu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.notifyMu.Unlock()
	if uerr := l.lock.Unlock(); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("close log %s: %w", l.dir, err)
	}
	return nil
}
