package sluice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
)

// AppFile is the name of the view file, in DIR/views, that holds the Go
// views of a program (Options.Views that are not declared in SQL).
const AppFile = "app"

// ErrClosed is returned by the methods of a closed DB, and by WaitFor
// calls that the DB's Close ended.
var ErrClosed = errors.New("sluice: closed")

// ErrLocked is returned (wrapped) by Open when another process, or
// another DB of this one, writes the views of the directory: a sluice
// index, or another instance of the program.
var ErrLocked = errors.New("another process writes the views")

// ErrReadOnly is returned by Append and AppendAndWait of a DB opened on a
// log it only reads (Options.Source).
var ErrReadOnly = errors.New("sluice: the log is read only here (Options.Source)")

// Options configure Open. The zero value is valid: no views, the log's
// default durability (an fsync per Append).
type Options struct {
	// Views are the views to keep: Go views (see package view) share
	// DIR/views/app.db; views declared in SQL (view/sqlview) each have
	// DIR/views/NAME.db. A view whose definition changed is rebuilt from
	// the log when the DB opens. Names must differ in more than case,
	// whatever the views are written in, and no view declared in SQL may
	// be named app: Open refuses them, naming both.
	Views []view.View
	// FilePerView keeps every view in a file of its own, DIR/views/NAME.db,
	// the Go views too, as the sluice command keeps its built-in views:
	// then each file can be copied, queried or rebuilt (sluice rebuild
	// NAME) alone, and a view failing to open keeps no other from it.
	FilePerView bool
	// Source, if set, is the log the views are indexed from, read only:
	// the DB does not open DIR/log, and Append returns ErrReadOnly. It is
	// for a log another process appends to (a log.Reader over its
	// directory), or one read in place (an SSB log.offset, package
	// log/offset). Local entries appended to it after Open are applied
	// ahead of its backlog too. The caller closes it after the DB.
	Source log.Source
	// PrepareFile, if set, is called with each view file once it is
	// open, before indexing starts, while the DB holds the directory's
	// lock: a program records there what it keeps with its views
	// (view.File.SetInfo), as the sluice command records the .sql file a
	// view was loaded from. An error fails Open.
	PrepareFile func(f *view.File) error
	// OnApplyError says what a failing Writer.Apply does: stop the
	// indexer (view.StopOnError, the default) or reject the entry for
	// that view and go on (view.RejectOnError).
	OnApplyError view.ErrorPolicy
	// Log configures the log (durability, sizes); unused with Source.
	Log log.Options
	// Index tunes the indexer; its Logger defaults to Logger.
	Index index.Options
	// Logger receives notices: a view rebuilt and why, a file moved aside,
	// a full disk waited out, the indexer stopping. nil means a text
	// logger on stderr.
	Logger *slog.Logger
}

// DB is a log and its views, indexed in the background from Open to Close.
// Its methods are safe for concurrent use.
type DB struct {
	dir    string
	logger *slog.Logger
	log    *log.Log
	lock   *fsutil.FileLock // DIR/views/LOCK, which sluice index takes too
	files  []*view.File
	ix     *index.Indexer
	q      *query.DB

	// mu guards the indexer's run: Rebuild stops it and starts it again,
	// Close stops it for good.
	mu      sync.Mutex
	closed  atomic.Bool
	stop    context.CancelFunc // ends the current run
	stopped chan struct{}      // closed when the current run has returned

	done     chan struct{} // closed when indexing has stopped for good
	doneOnce sync.Once
	life     context.Context // ended when done is closed
	endLife  context.CancelFunc
	errMu    sync.Mutex
	err      error // why indexing stopped, if it failed

	closeOnce sync.Once
	closeErr  error
}

// Open opens the log and views in dir, creating what is missing, and
// starts indexing. Only one DB (or sluice index) may write dir at a time.
// Close it when done.
func Open(dir string, opts Options) (*DB, error) {
	db := &DB{dir: dir, logger: opts.Logger, done: make(chan struct{})}
	db.life, db.endLife = context.WithCancel(context.Background())
	if db.logger == nil {
		db.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := db.open(opts); err != nil {
		db.closeParts()
		return nil, fmt.Errorf("sluice: open %s: %w", dir, err)
	}
	db.start()
	return db, nil
}

func (db *DB) open(opts Options) error {
	if err := checkNames(opts.Views); err != nil {
		return err
	}
	viewsDir := filepath.Join(db.dir, "views")
	if err := os.MkdirAll(viewsDir, 0o755); err != nil {
		return err
	}
	lock, err := fsutil.Lock(filepath.Join(viewsDir, "LOCK"))
	if errors.Is(err, fsutil.ErrLocked) {
		return fmt.Errorf("%w in %s (a sluice index, or another program)", ErrLocked, viewsDir)
	}
	if err != nil {
		return err
	}
	db.lock = lock
	src := opts.Source
	if src == nil {
		if db.log, err = log.Open(filepath.Join(db.dir, "log"), opts.Log); err != nil {
			return err
		}
		src = db.log
	}
	vopts := view.Options{Logger: db.logger, OnError: opts.OnApplyError}
	var goViews []view.View
	var paths []string
	openFile := func(name string, views []view.View) error {
		if err := checkFileNames(viewsDir, name); err != nil {
			return err
		}
		path := filepath.Join(viewsDir, name+".db")
		f, err := view.OpenFile(path, views, vopts)
		if err != nil {
			return err
		}
		db.files = append(db.files, f)
		paths = append(paths, path)
		if opts.PrepareFile != nil {
			if err := opts.PrepareFile(f); err != nil {
				return fmt.Errorf("prepare %s: %w", path, err)
			}
		}
		return nil
	}
	for _, v := range opts.Views {
		if isSQL(v) || opts.FilePerView {
			if err := openFile(v.Name(), []view.View{v}); err != nil {
				return err
			}
			continue
		}
		goViews = append(goViews, v)
	}
	if len(goViews) > 0 {
		if err := openFile(AppFile, goViews); err != nil {
			return err
		}
	}
	if len(db.files) == 0 {
		return errors.New("no views: give Options.Views")
	}
	iopts := opts.Index
	if iopts.Logger == nil {
		iopts.Logger = db.logger
	}
	if db.ix, err = index.New(src, db.files, iopts); err != nil {
		return err
	}
	db.q, err = query.Open(paths, query.Options{})
	return err
}

// start runs the indexer until stop, or until it fails: then the DB
// records why, says so, and closes Done.
func (db *DB) start() {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	db.stop, db.stopped = cancel, stopped
	go func() {
		defer close(stopped)
		err := db.ix.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return // stopped by Close or Rebuild
		}
		db.errMu.Lock()
		db.err = err
		db.errMu.Unlock()
		db.logger.Error("sluice: indexing stopped", "err", err)
		db.finish()
	}()
}

// finish closes Done.
func (db *DB) finish() {
	db.doneOnce.Do(func() {
		close(db.done)
		db.endLife()
	})
}

// halt stops the current run and waits for it. db.mu must be held.
func (db *DB) halt() {
	if db.stop != nil {
		db.stop()
		<-db.stopped
		db.stop = nil
	}
}

// Close stops indexing and closes the views, then the log, in order. It
// returns the first error of closing them (not why indexing stopped: see
// Err). It is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.closed.Store(true)
		db.halt()
		db.mu.Unlock()
		db.finish()
		db.closeErr = db.closeParts()
	})
	return db.closeErr
}

// closeParts closes what open opened, in order, and returns the first
// error.
func (db *DB) closeParts() error {
	var errs []error
	if db.q != nil {
		errs = append(errs, db.q.Close())
	}
	for _, f := range db.files {
		errs = append(errs, f.Close())
	}
	if db.log != nil {
		errs = append(errs, db.log.Close())
	}
	errs = append(errs, db.lock.Unlock())
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("sluice: close %s: %w", db.dir, err)
		}
	}
	return nil
}

// Done is closed when indexing has stopped: after Close, or when it
// failed (see Err).
func (db *DB) Done() <-chan struct{} { return db.done }

// Err returns why indexing stopped if it failed (a view's Apply, as a
// *view.ApplyError; the log unreadable), else nil.
func (db *DB) Err() error {
	db.errMu.Lock()
	defer db.errMu.Unlock()
	return db.err
}

// Dir returns the directory the DB was opened on.
func (db *DB) Dir() string { return db.dir }

// Log returns the DB's log, for what the DB does not wrap (Get, Iter,
// Wait), or nil if the DB reads Options.Source. Do not close it.
func (db *DB) Log() *log.Log { return db.log }

// Indexer returns the DB's indexer, for its Progress and what the DB does
// not wrap. Do not run it: the DB does.
func (db *DB) Indexer() *index.Indexer { return db.ix }

// Files returns the DB's view files (for Status). Do not close them.
func (db *DB) Files() []*view.File { return append([]*view.File(nil), db.files...) }

// QueryDB returns the DB's read-only connections over its view files
// (database/sql through its SQL method). Do not close it.
func (db *DB) QueryDB() *query.DB { return db.q }
