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
	dir string

	mu   sync.Mutex
	tail *iter // follows the last segment to answer Last
	last Seq

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
// dir is not a sluice log and with an error wrapping os.ErrNotExist if dir
// does not exist.
func OpenReader(dir string) (*Reader, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open log %s: %w: a sluice log is a directory, this is a file", dir, ErrNotLog)
	}
	if err := checkFormat(dir, false); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return &Reader{dir: dir, wait: watch.NewWaiter(dir, DefaultPollInterval)}, nil
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

// Last returns the highest seq whose record is complete on disk now.
func (r *Reader) Last() (Seq, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tail == nil {
		segs, err := listSegments(r.dir)
		if err != nil {
			return 0, err
		}
		if len(segs) == 0 {
			return 0, nil
		}
		r.tail = newIter(r.dir, segs[len(segs)-1].first, nil, &r.seek)
		r.last = segs[len(segs)-1].first - 1
	}
	for r.tail.Next() {
		r.last = r.tail.cur.Seq
		r.tail.cur = Entry{}
	}
	if err := r.tail.Err(); err != nil {
		return r.last, fmt.Errorf("log %s: %w", r.dir, err)
	}
	return r.last, nil
}

// Iter implements Source.
func (r *Reader) Iter(from Seq) (Iterator, error) {
	return newIter(r.dir, from, nil, &r.seek), nil
}

// Get returns the entry at seq, ErrNotFound if the log does not hold it.
func (r *Reader) Get(seq Seq) (Entry, error) {
	it := newIter(r.dir, seq, nil, &r.seek)
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
	return nil
}
