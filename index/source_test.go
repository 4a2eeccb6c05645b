package index_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// overclaiming is a source whose Last stays ahead of what its iterators
// yield (as a log whose segments overlap may be), counting the calls the
// indexer makes.
type overclaiming struct {
	*log.Log
	ahead log.Seq
	waits atomic.Int64
}

func (s *overclaiming) Last() (log.Seq, error) {
	last, err := s.Log.Last()
	return last + s.ahead, err
}

func (s *overclaiming) Wait(ctx context.Context, after log.Seq) (log.Seq, error) {
	s.waits.Add(1)
	if last, _ := s.Last(); last > after {
		return last, nil
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestNoSpinOnASourceAhead: over a source that claims more than it yields,
// Run and SynchronizeUpTo neither spin (their reader and tail loops back
// off) nor ignore cancellation.
func TestNoSpinOnASourceAhead(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 300, 7, log.Remote)
	src := &overclaiming{Log: l, ahead: 5}
	f := openView(t, filepath.Join(dir, "v.db"), kvView("a"))
	ix, err := index.New(src, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Run", ix.Run},
		{"SynchronizeUpTo", func(ctx context.Context) error { return ix.SynchronizeUpTo(ctx, 0) }},
	} {
		t.Run(run.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- run.fn(ctx) }()
			wctx, wcancel := context.WithTimeout(ctx, time.Minute)
			defer wcancel()
			if err := ix.WaitFor(wctx, 300); err != nil {
				t.Fatal(err)
			}
			// Measure how often the loops ask the source over half a
			// second: backing off up to 100 ms, a few dozen times; a
			// spinning loop, hundreds of thousands.
			before := src.waits.Load()
			window := time.NewTimer(500 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("%s returned early: %v", run.name, err)
			case <-window.C:
			}
			if n := src.waits.Load() - before; n > 100 {
				t.Fatalf("%d calls to Wait in 500 ms: a loop spins", n)
			}
			cancel()
			stop := time.NewTimer(5 * time.Second)
			defer stop.Stop()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s after cancel: %v", run.name, err)
				}
			case <-stop.C:
				t.Fatalf("%s ignored the cancellation for 5 s", run.name)
			}
		})
	}
}

// failingSource is a log whose Last or iterators fail with err once it is
// set (as a log that lost acknowledged entries does, with log.ErrLost).
type failingSource struct {
	*log.Log
	lastErr, iterErr atomic.Pointer[error]
}

func (s *failingSource) Last() (log.Seq, error) {
	if err := s.lastErr.Load(); err != nil {
		return 0, *err
	}
	return s.Log.Last()
}

func (s *failingSource) Iter(from log.Seq) (log.Iterator, error) {
	if err := s.iterErr.Load(); err != nil {
		return failedIter{*err}, nil
	}
	return s.Log.Iter(from)
}

type failedIter struct{ err error }

func (it failedIter) Next() bool       { return false }
func (it failedIter) Entry() log.Entry { return log.Entry{} }
func (it failedIter) Err() error       { return it.err }
func (it failedIter) Close() error     { return nil }

// TestSourceErrorsAreFatal: an error from the source's Last or iterator
// stops the indexer with that error; the views are never rebuilt or
// dropped for it.
func TestSourceErrorsAreFatal(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 500, 7, log.Remote)
	path := filepath.Join(dir, "v.db")
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	f := openViewLogf(t, path, logf, kvView("a"))
	src := &failingSource{Log: l}
	ix, err := index.New(src, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	lost := fmt.Errorf("log lost acknowledged entries 480-500: %w", errors.New("lost"))
	for _, c := range []struct {
		name string
		set  func()
	}{
		{"Last", func() { src.lastErr.Store(&lost) }},
		{"iterator", func() { src.iterErr.Store(&lost) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			src.lastErr.Store(nil)
			src.iterErr.Store(nil)
			c.set()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			for _, run := range []func() error{
				func() error { return ix.Run(cctx) },
				func() error { return ix.SynchronizeUpTo(cctx, 0) },
			} {
				if err := run(); !errors.Is(err, lost) {
					t.Fatalf("indexing over a failing source: %v, want the source's error", err)
				}
				if err := ix.WaitFor(cctx, 501); !errors.Is(err, lost) {
					t.Fatalf("WaitFor after the failure: %v, want the source's error", err)
				}
			}
			if st := f.Status()[0]; st.Since != 500 || len(notes) != 0 {
				t.Fatalf("since %d, notices %q: the view was touched", st.Since, notes)
			}
		})
	}
}
