package offset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/internal/watch"
	"github.com/sluicedb/sluice/log"
)

var _ log.Source = (*Log)(nil)

// Log is a read-only flumelog-offset file. It implements log.Source: seq N
// is the N-th frame of the file, deleted frames included, so seqs are
// stable but an iterator skips the seqs of deleted frames.
//
// The file may grow while it is open (an ssb-server appending to it): Last,
// Wait and iterators see the frames appended since. All methods are safe
// for concurrent use.
type Log struct {
	path   string
	f      *os.File
	closed atomic.Bool
	once   sync.Once

	wait *watch.Waiter
	// sleeping, if set, is called each time Wait is about to sleep
	// (tests).
	sleeping func()

	// walkMu serializes header walks, which extend the frontier; it is
	// held during I/O.
	walkMu sync.Mutex

	// mu guards the fields below. It is held only briefly, never during
	// I/O.
	mu sync.Mutex
	// w is the trailer width, 0 until the first frame is complete.
	w int
	// next is the seq of the first frame not known to be valid, and end
	// its offset: frames 1 to next-1 have passed their checks.
	next log.Seq
	end  int64
	// index[k] is the offset of frame k*indexEvery+1; it holds every such
	// frame up to next.
	index []int64
	// walked is the file size a header walk last reached the end of (-1
	// before the first): Last at that size needs no I/O beyond a stat.
	walked int64
}

// Open opens the flumelog-offset file at path for reading. An empty file
// is an empty log. A file that is not a flumelog-offset file (its first
// frame is not valid) gives a *FormatError, which matches log.ErrNotLog;
// Open only checks the first frame, damage further on is reported by Last
// and by iterators as a *log.CorruptError.
func Open(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open flumelog %q: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open flumelog %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &FormatError{Path: path, Reason: notRegular(path, fi)}
	}
	l := &Log{path: path, f: f, next: 1, index: []int64{0}, walked: -1, wait: watch.NewWaiter(path, log.DefaultPollInterval)}
	if _, err := l.width(fi.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// notRegular says what the file at path is instead of a regular file.
func notRegular(path string, fi os.FileInfo) string {
	if !fi.IsDir() {
		return fmt.Sprintf("it is not a regular file (mode %s)", fi.Mode())
	}
	// People pass an SSB directory (~/.ssb) for its log.
	if _, err := os.Stat(filepath.Join(path, "flume", "log.offset")); err == nil {
		return "it is a directory; the SSB log in it is flume/log.offset"
	}
	return "it is a directory"
}

// Close closes the file. Iterators still open fail with log.ErrClosed, but
// payloads they returned stay valid. Close is idempotent: calls after the
// first return nil.
func (l *Log) Close() error {
	var err error
	l.once.Do(func() {
		l.closed.Store(true)
		l.wait.Close()
		if cerr := l.f.Close(); cerr != nil {
			err = fmt.Errorf("close flumelog %q: %w", l.path, cerr)
		}
	})
	return err
}

// Path returns the path the log was opened with.
func (l *Log) Path() string { return l.path }

// Last returns the number of complete frames in the file now, deleted ones
// included: the seq of the last frame. A torn last frame is not counted.
// The file may have grown since the last call: Last walks the headers of
// the frames appended since, and returns a *log.CorruptError if one of
// them is damaged.
func (l *Log) Last() (log.Seq, error) {
	size, err := l.size()
	if err != nil {
		return 0, err
	}
	next, err := l.walk(size, 0)
	return next - 1, err
}

// SetPollInterval sets how often Wait looks at the file size, whether or
// not it also watches the file (see SetWatch); d <= 0 means
// log.DefaultPollInterval. Call it before the first Wait.
func (l *Log) SetPollInterval(d time.Duration) { l.wait.SetPollInterval(d) }

// SetWatch chooses whether Wait also wakes as soon as the file is written
// to (inotify, on Linux; on by default), as log.Reader.SetWatch does. Call
// it before the first Wait.
func (l *Log) SetWatch(on bool) { l.wait.SetWatch(on) }

// Wait blocks until the file holds a frame with seq > after, then returns
// Last. It looks at the file size every poll interval and, unless told
// not to, whenever the file is written to (see SetWatch); when ctx ends
// first it returns Last and ctx.Err(). Like Last, it counts deleted
// frames: a following iterator may find nothing new to yield.
func (l *Log) Wait(ctx context.Context, after log.Seq) (log.Seq, error) {
	var last log.Seq
	err := l.wait.Wait(ctx, func() (bool, error) {
		var err error
		last, err = l.Last()
		if err == nil && last <= after && l.sleeping != nil {
			l.sleeping()
		}
		return last > after, err
	})
	return last, err
}

// size returns the current size of the file.
func (l *Log) size() (int64, error) {
	if l.closed.Load() {
		return 0, fmt.Errorf("read flumelog %q: %w", l.path, log.ErrClosed)
	}
	fi, err := l.f.Stat()
	if err != nil {
		return 0, readErr(l.path, 0, err)
	}
	return fi.Size(), nil
}

// width returns the trailer width, detecting it from the first frame of a
// file of size bytes if that was not done yet; 0 while the file holds no
// complete frame.
func (l *Log) width(size int64) (int, error) {
	l.mu.Lock()
	w := l.w
	l.mu.Unlock()
	if w != 0 {
		return w, nil
	}
	w, err := detectWidth(l.f, l.path, size)
	if err != nil || w == 0 {
		return 0, err
	}
	l.mu.Lock()
	l.w = w
	l.mu.Unlock()
	return w, nil
}
