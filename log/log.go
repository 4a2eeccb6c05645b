package log

import (
	"context"
	"encoding/json"
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

// Record is one entry to append: who wrote it and its payload.
type Record struct {
	Origin  Origin
	Payload []byte
}

// Log is a native sluice log opened for writing. Only one Log per directory
// may be open at a time, across processes (a file lock enforces it).
//
// All methods are safe for concurrent use: many goroutines may Append, Get,
// Iter and Wait at once.
type Log struct {
	dir  string
	opts Options
	lock *fsutil.FileLock

	// mu serializes writes: it is held while a batch is framed, written and
	// (in SyncAlways) fsynced. It also guards w's Read, which tidwall/wal
	// does not make safe for concurrent use (its issue #34).
	mu       sync.Mutex
	w        *wal.Log
	batch    wal.Batch
	buf      []byte
	tailSize int   // bytes in the tail segment, mirroring tidwall/wal's count
	broken   error // set when a write failed part-way; the log must be reopened
	closed   bool

	last atomic.Uint64 // highest seq written (and, except in SyncNone, synced)

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced when last grows

	group *committer // non-nil in SyncGroup
	seek  seekIndex  // shared by the iterators

	repairs []Repair
}

var _ Source = (*Log)(nil)

// Open opens the log in dir for writing, creating it if dir is missing or
// empty. It cuts a torn tail off (see Repairs) and fails with ErrLocked if
// another Log holds dir, with ErrNotLog if dir holds something else, and
// with a *CorruptError if a record before the tail is damaged.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	lock, err := fsutil.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		if errors.Is(err, fsutil.ErrLocked) {
			return nil, fmt.Errorf("open log %s: %w (only one writer may open a log; readers use OpenReader)", dir, ErrLocked)
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

func open(dir string, opts Options, lock *fsutil.FileLock) (*Log, error) {
	if err := checkFormat(dir, true); err != nil {
		return nil, err
	}
	repairs, err := repairTail(dir)
	if err != nil {
		return nil, err
	}
	if err := writeLastOpen(dir, repairs); err != nil {
		return nil, err
	}
	w, err := wal.Open(dir, &wal.Options{
		NoSync:           true, // we sync ourselves, once per commit
		SegmentSize:      opts.SegmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 2,
		NoCopy:           true, // Get copies under mu
		DirPerms:         0o755,
		FilePerms:        0o644,
	})
	if err != nil {
		return nil, fmt.Errorf("open segments: %w", err)
	}
	last, err := w.LastIndex()
	if err != nil {
		w.Close()
		return nil, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		w.Close()
		return nil, err
	}
	fi, err := os.Stat(segs[len(segs)-1].path)
	if err != nil {
		w.Close()
		return nil, err
	}
	// wal.Open may have created the first segment.
	if err := fsutil.SyncDir(dir); err != nil {
		w.Close()
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, lock: lock, w: w, tailSize: int(fi.Size()), notify: make(chan struct{}), repairs: repairs}
	l.last.Store(last)
	if opts.Durability == SyncGroup {
		l.group = newCommitter(l)
	}
	return l, nil
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Repairs returns what Open cut off the tail of the log, if anything.
func (l *Log) Repairs() []Repair { return append([]Repair(nil), l.repairs...) }

// Last returns the highest seq in the log, 0 if it is empty. The error is
// always nil; it is there to satisfy Source.
func (l *Log) Last() (Seq, error) { return Seq(l.last.Load()), nil }

// Append appends recs as consecutive entries and returns their seqs. It
// returns once they are as durable as Options.Durability asks. Every payload
// must be non-empty and at most Options.MaxRecordSize bytes; otherwise
// Append fails with ErrEmpty or ErrTooLarge and appends nothing. An Append
// that has started writing is not interrupted by ctx.
func (l *Log) Append(ctx context.Context, recs ...Record) ([]Seq, error) {
	if err := l.check(recs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.group != nil {
		return l.group.append(recs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	first, err := l.write(recs, time.Now())
	if err != nil {
		return nil, err
	}
	if l.opts.Durability == SyncAlways {
		if err := l.sync(); err != nil {
			return nil, err
		}
	}
	l.publish(first + Seq(len(recs)) - 1)
	return seqRange(first, len(recs)), nil
}

func seqRange(first Seq, n int) []Seq {
	seqs := make([]Seq, n)
	for i := range seqs {
		seqs[i] = first + Seq(i)
	}
	return seqs
}

func (l *Log) check(recs []Record) error {
	if len(recs) == 0 {
		return fmt.Errorf("append: %w: no records", ErrEmpty)
	}
	for i, r := range recs {
		if len(r.Payload) == 0 {
			return fmt.Errorf("append: record %d of %d: %w: payload is empty", i+1, len(recs), ErrEmpty)
		}
		if len(r.Payload) > l.opts.MaxRecordSize {
			return fmt.Errorf("append: record %d of %d: %w: %d bytes, limit %d", i+1, len(recs), ErrTooLarge, len(r.Payload), l.opts.MaxRecordSize)
		}
		if r.Origin != Local && r.Origin != Remote {
			return fmt.Errorf("append: record %d of %d: unknown origin %d", i+1, len(recs), r.Origin)
		}
	}
	return nil
}

// write frames recs and writes them to the tail segment, without syncing.
// It returns the seq of the first. mu must be held.
func (l *Log) write(recs []Record, now time.Time) (Seq, error) {
	if l.closed {
		return 0, ErrClosed
	}
	if l.broken != nil {
		return 0, fmt.Errorf("append: log unusable after an earlier write error, reopen it: %w", l.broken)
	}
	first := Seq(l.last.Load()) + 1
	t := now.UnixNano()
	l.batch.Clear()
	cycled := l.tailSize > l.opts.SegmentSize
	if cycled {
		l.tailSize = 0
	}
	for i, r := range recs {
		l.buf = appendRecord(l.buf[:0], first+Seq(i), r.Origin, t, r.Payload)
		l.batch.Write(uint64(first)+uint64(i), l.buf)
		// Mirror tidwall/wal's writeBatch: it starts a new segment as soon
		// as the tail reaches SegmentSize, without syncing the directory.
		l.tailSize += frameLen(len(l.buf))
		if l.tailSize >= l.opts.SegmentSize {
			cycled = true
			l.tailSize = 0
		}
	}
	if err := l.w.WriteBatch(&l.batch); err != nil {
		l.broken = err
		return 0, fmt.Errorf("append: %w", err)
	}
	if cycled && l.opts.Durability != SyncNone {
		if err := fsutil.SyncDir(l.dir); err != nil {
			l.broken = err
			return 0, fmt.Errorf("append: %w", err)
		}
	}
	return first, nil
}

// sync fsyncs the tail segment. mu must be held.
func (l *Log) sync() error {
	if err := l.w.Sync(); err != nil {
		l.broken = err
		return fmt.Errorf("append: sync: %w", err)
	}
	return nil
}

// publish makes entries up to last visible to Last, Iter and Wait.
func (l *Log) publish(last Seq) {
	l.last.Store(uint64(last))
	l.notifyMu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.notifyMu.Unlock()
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
// ErrNotFound for a seq outside 1..Last and a *CorruptError for a damaged
// record.
func (l *Log) Get(seq Seq) (Entry, error) {
	if seq == 0 || seq > Seq(l.last.Load()) {
		return Entry{}, fmt.Errorf("get seq %d: %w (log holds 1..%d)", seq, ErrNotFound, l.last.Load())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Entry{}, ErrClosed
	}
	rec, err := l.w.Read(uint64(seq))
	if err != nil {
		return Entry{}, fmt.Errorf("get seq %d: %w", seq, err)
	}
	e, why := decodeRecord(rec)
	if why == "" && e.Seq != seq {
		why = fmt.Sprintf("record holds seq %d", e.Seq)
	}
	if why != "" {
		return Entry{}, &CorruptError{Path: l.dir, Offset: -1, Seq: seq, Reason: why}
	}
	e.Payload = append([]byte(nil), e.Payload...)
	return e, nil
}

// Iter returns an iterator over the entries with seq >= from. It reads the
// segment files directly, so it never holds up appends; it yields only
// entries that Append has made visible.
func (l *Log) Iter(from Seq) (Iterator, error) {
	if l.isClosed() {
		return nil, ErrClosed
	}
	return newIter(l.dir, from, func() Seq { return Seq(l.last.Load()) }, &l.seek), nil
}

// Close flushes and closes the log and releases its lock. It is idempotent.
// Appends after Close fail with ErrClosed.
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
	err := l.w.Sync()
	if cerr := l.w.Close(); err == nil {
		err = cerr
	}
	if derr := fsutil.SyncDir(l.dir); err == nil {
		err = derr
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

// LastOpen is what the LASTOPEN file records about the last Open for
// writing.
type LastOpen struct {
	Time    time.Time `json:"time"`
	Repairs []Repair  `json:"repairs"`
}

func writeLastOpen(dir string, repairs []Repair) error {
	b, err := json.Marshal(LastOpen{Time: time.Now().UTC(), Repairs: repairs})
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, lastOpenFile), append(b, '\n'), 0o644)
}

// ReadLastOpen returns what the last Open for writing of the log in dir
// recorded (when, and what it repaired). It takes no lock.
func ReadLastOpen(dir string) (LastOpen, error) {
	var lo LastOpen
	b, err := os.ReadFile(filepath.Join(dir, lastOpenFile))
	if err != nil {
		return lo, fmt.Errorf("read last open: %w", err)
	}
	if err := json.Unmarshal(b, &lo); err != nil {
		return lo, fmt.Errorf("read last open: %s: %w", filepath.Join(dir, lastOpenFile), err)
	}
	return lo, nil
}
