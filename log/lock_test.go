package log

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLockConflict(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	appendN(t, l, 1, 10, Local)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in the same process: err = %v, want ErrLocked", err)
	}
	l.Close()

	// Another process holds the log: Open fails, OpenReader works.
	cmd, stdin, out := startChild(t, "hold", dir)
	if line := expectLine(t, out); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds the log: err = %v, want ErrLocked", err)
	}
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatalf("OpenReader while locked: %v", err)
	}
	defer r.Close()
	if got := readAll(t, r, 1); len(got) != 10 {
		t.Fatalf("reader saw %d entries, want 10", len(got))
	}
	stdin.Close() // the child closes the log and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	l2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	l2.Close()
}

// TestLockWait: with Options.LockWait, Open waits for another process to
// release the log (and takes it then), or fails with ErrLocked after
// waiting that long, with a message that names no Go API.
func TestLockWait(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin, out := startChild(t, "hold", dir)
	if line := expectLine(t, out); line != "ready" {
		t.Fatalf("child said %q", line)
	}
	start := time.Now()
	_, err := Open(dir, Options{LockWait: 150 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || time.Since(start) < 150*time.Millisecond || strings.Contains(err.Error(), "OpenReader") {
		t.Fatalf("Open with the lock held = %v after %v; want ErrLocked after 150ms", err, time.Since(start))
	}
	waiting := make(chan struct{})
	lockWaiting = func() { close(waiting) }
	defer func() { lockWaiting = nil }()
	opened := make(chan error, 1)
	go func() {
		l, err := Open(dir, Options{LockWait: time.Minute})
		if err == nil {
			err = l.Close()
		}
		opened <- err
	}()
	<-waiting // Open is waiting for the lock: now release it
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("Open waiting for the lock: %v", err)
	}
}
