package log

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestReaderWatch checks that Wait wakes on the file system's notice of an
// append, not on a timer: the Reader polls only every hour, longer than
// the test may take, so only the notice can end a wait.
// Two waiters share the watch, as the indexer's reader and tail watcher do.
func TestReaderWatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("watching is implemented with inotify, on Linux only")
	}
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	r := openReaderT(t, dir)
	r.SetPollInterval(time.Hour)
	asleep := make(chan struct{}, 2)
	r.sleeping = func() { asleep <- struct{}{} }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type result struct {
		last Seq
		err  error
	}
	for want := Seq(1); want <= 3; want++ {
		res := make(chan result, 2)
		for range 2 {
			go func() {
				last, err := r.Wait(ctx, want-1)
				res <- result{last, err}
			}()
		}
		for range 2 { // both asleep: only a notice wakes them now
			select {
			case <-asleep:
			case got := <-res:
				t.Fatalf("Wait(%d) = %d, %v before the append", want-1, got.last, got.err)
			}
		}
		appendN(t, l, int(want), int(want), Local)
		for range 2 {
			if got := <-res; got.err != nil || got.last != want {
				t.Fatalf("Wait(%d) = %d, %v; want %d", want-1, got.last, got.err, want)
			}
		}
		// A waiter may have looked once more after the notice.
		for len(asleep) > 0 {
			<-asleep
		}
	}
	if !r.Watching() {
		t.Error("Watching() = false after Waits on Linux")
	}

	// Closed, the Reader no longer watches, and an idle Wait still ends
	// with its context.
	r.sleeping = nil
	r.Close()
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	defer stop()
	if last, err := r.Wait(short, 3); !errors.Is(err, context.DeadlineExceeded) || last != 3 {
		t.Fatalf("Wait after Close = %d, %v; want 3 and the context's deadline", last, err)
	}
	if r.Watching() {
		t.Error("Watching() = true after Close")
	}
}

// TestReaderSetWatchFalse checks that a Reader told not to watch polls.
func TestReaderSetWatchFalse(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	r := openReaderT(t, dir)
	r.SetWatch(false)
	r.SetPollInterval(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := r.Wait(ctx, 0)
		res <- err
	}()
	appendN(t, l, 1, 1, Local)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if r.Watching() {
		t.Error("Watching() = true after SetWatch(false)")
	}
}

// openReaderT opens a Reader on dir, closed when the test ends.
func openReaderT(t *testing.T, dir string) *Reader {
	t.Helper()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
