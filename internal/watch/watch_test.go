package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestPoll checks Poll's loop with no watch: it checks until done, passes
// check's error on, and ends with its context.
func TestPoll(t *testing.T) {
	ctx := t.Context()
	n := 0
	if err := Poll(ctx, nil, time.Millisecond, func() (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Fatalf("Poll = %v after %d checks, want nil after 3", err, n)
	}
	boom := errors.New("boom")
	if err := Poll(ctx, nil, time.Millisecond, func() (bool, error) { return false, boom }); err != boom {
		t.Fatalf("Poll = %v, want check's error", err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := Poll(short, nil, time.Millisecond, func() (bool, error) { return false, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll = %v, want the context's deadline", err)
	}
}

// TestWatchFile checks that a write to a watched file, and to a file in a
// watched directory, wakes Poll, whose poll interval is an hour.
func TestWatchFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify, on Linux only")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, watched := range []string{path, dir} {
		w, err := Open(watched)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		checks := 0
		err = Poll(ctx, w, time.Hour, func() (bool, error) {
			checks++
			if checks == 1 { // the first check found nothing: write now
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					return false, err
				}
				_, err = f.Write([]byte("x"))
				return false, errors.Join(err, f.Close())
			}
			return true, nil
		})
		cancel()
		w.Close()
		if err != nil || checks != 2 {
			t.Fatalf("watching %s: Poll = %v after %d checks, want nil after 2", watched, err, checks)
		}
	}
}
