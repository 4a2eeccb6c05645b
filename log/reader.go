package log

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sluicedb/sluice/internal/watch"
)

// Reader reads a native log without taking its lock and without writing
// anything, so it works while another process (or a Log in this one)
// appends. It sees an entry once its record is completely on disk; it never
// repairs a torn tail, it stops before it.
//
// All methods are safe for concurrent use.
type Reader struct {
	dir  string
	meta dirMeta

	mu    sync.Mutex
	tail  *iter // follows the last segment to answer Last
	last  Seq
	headF *os.File // the HEAD file, opened by the first Last

	wait *watch.Waiter

	seek seekIndex // shared by the iterators

	// sleeping, if set, is called each time Wait is about to sleep
	// (tests append then, to check what wakes it).
	sleeping func()
}

var _ Source = (*Reader)(nil)

// DefaultPollInterval is how often Reader.Wait looks for new entries, also
// when it watches the log's directory.
const DefaultPollInterval = time.Millisecond

// OpenReader opens the log in dir for reading. It fails with ErrNotLog if
// dir is not a sluice log, with an error wrapping os.ErrNotExist if dir
// does not exist, with a *CorruptError if its first segment does not start
// at seq 1, with an error naming a file in dir that is not a segment but
// has a segment-like name, and with an ErrLost error if the durable mark
// is unreadable. Last checks the rest (see Reader.Last).
func OpenReader(dir string) (*Reader, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open log %s: %w: a sluice log is a directory, this is a file", dir, ErrNotLog)
	}
	m, err := checkReadable(dir)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	segs, err := listSegments(dir)
	if err == nil {
		err = checkFirst(segs)
	}
	if err == nil && m.version > 1 {
		_, err = ReadMark(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return &Reader{dir: dir, meta: m, wait: watch.NewWaiter(dir, DefaultPollInterval)}, nil
}

// SetPollInterval sets how often Wait checks the files for new entries,
// whether or not it also watches them (see SetWatch); d <= 0 means
// DefaultPollInterval.
func (r *Reader) SetPollInterval(d time.Duration) { r.wait.SetPollInterval(d) }

// SetWatch chooses whether Wait also wakes when the file system reports a
// write to the log's directory (inotify, on Linux), between the checks it
// makes every poll interval. On is the default; where watching is not
// available (other systems, or when the user's inotify limits are reached)
// Wait only polls. A watch sees writes made on this machine only. Watching
// makes an entry seen as soon as it is written; the poll bounds how late a
// notice may come when the process is busy, and a longer poll interval
// (say 100 ms) makes an idle follower nearly free (bench/results/local-*.md
// compares them). Call it before the first Wait.
func (r *Reader) SetWatch(on bool) { r.wait.SetWatch(on) }

// Watching reports whether Wait sleeps on a watch of the log's directory
// (see SetWatch): false before the first Wait, and when it polls.
func (r *Reader) Watching() bool { return r.wait.Watching() }

// Dir returns the log's directory.
func (r *Reader) Dir() string { return r.dir }

// Node returns the log's node id: the Node of the ID of every entry first
// appended to it. It is zero for a format 1 log that no writer has opened
// since it was made (its entries get IDs with a zero node).
func (r *Reader) Node() NodeID { return r.meta.node }

// Last returns the highest seq whose Append is complete on disk now (its
// last record is there). It fails with a *LostError if the log ends before
// its durable mark, and with a *CorruptError if the last segment does not
// follow the one before it (missing seqs, or overlapping segments): the
// iterators fail the same way when they get there.
func (r *Reader) Last() (Seq, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The mark is read before the log: entries are on disk before the mark
	// covers them.
	mark, err := r.mark()
	if err != nil {
		return r.last, fmt.Errorf("log %s: %w", r.dir, err)
	}
	if r.tail == nil {
		if err := r.startTail(); err != nil {
			return r.last, fmt.Errorf("log %s: %w", r.dir, err)
		}
	}
	if r.tail != nil {
		for r.tail.Next() {
			r.tail.cur = Entry{}
		}
		r.last = max(r.last, r.tail.passed)
		if err := r.tail.Err(); err != nil {
			return r.last, fmt.Errorf("log %s: %w", r.dir, err)
		}
	}
	if r.last < mark {
		return r.last, &LostError{Dir: r.dir, From: r.last + 1, To: mark, Reason: fmt.Sprintf("the log ends at seq %d", r.last)}
	}
	return r.last, nil
}

// startTail sets up the iterator that follows the last segment for Last,
// and finds the last seq that ends an Append before it (the last segment
// may start in the middle of one). mu must be held.
func (r *Reader) startTail() error {
	segs, err := listSegments(r.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return nil
	}
	if err := checkFirst(segs); err != nil {
		return err
	}
	n := len(segs)
	r.last = 0
	for j := n - 2; j >= 0; j-- {
		s, err := scanFile(segs[j])
		if err != nil {
			return err
		}
		if j == n-2 {
			if err := checkBoundary(s, segs[n-1]); err != nil {
				return err
			}
		}
		if s.r.ends {
			r.last = s.r.batchLast
			break
		}
	}
	r.tail = newIter(r.dir, r.meta.node, segs[n-1].first, nil, &r.seek)
	return nil
}

// mark reads the durable mark: 0 for a format 1 log. mu must be held.
func (r *Reader) mark() (Seq, error) {
	if r.meta.version < 2 {
		return 0, nil
	}
	if r.headF == nil {
		f, err := openHead(r.dir, os.O_RDONLY)
		if err != nil {
			return 0, err
		}
		r.headF = f
	}
	seq, _, err := readHead(r.headF)
	return seq, err
}

// Iter implements Source.
func (r *Reader) Iter(from Seq) (Iterator, error) {
	return newIter(r.dir, r.meta.node, from, nil, &r.seek), nil
}

// Get returns the entry at seq, ErrNotFound if the log does not hold it.
func (r *Reader) Get(seq Seq) (Entry, error) {
	it := newIter(r.dir, r.meta.node, seq, nil, &r.seek)
	defer it.Close()
	if it.Next() && it.cur.Seq == seq {
		return it.cur, nil
	}
	if err := it.Err(); err != nil {
		return Entry{}, fmt.Errorf("get seq %d: %w", seq, err)
	}
	return Entry{}, fmt.Errorf("get seq %d: %w", seq, ErrNotFound)
}

// Wait blocks until the log holds an entry with seq > after, and returns
// Last. It looks every poll interval, and when the file system reports a
// change (see SetWatch). It returns ctx.Err() when ctx ends first.
func (r *Reader) Wait(ctx context.Context, after Seq) (Seq, error) {
	var last Seq
	err := r.wait.Wait(ctx, func() (bool, error) {
		var err error
		last, err = r.Last()
		if err == nil && last <= after && r.sleeping != nil {
			r.sleeping()
		}
		return last > after, err
	})
	return last, err
}

// Close releases the reader's resources. It is idempotent.
func (r *Reader) Close() error {
	r.wait.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tail != nil {
		r.tail.Close()
		r.tail = nil
	}
	if r.headF != nil {
		r.headF.Close()
		r.headF = nil
	}
	return nil
}
