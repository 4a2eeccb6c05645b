package query

import (
	"testing"
	"time"
)

// TestBudget drives the budget with a clock of its own: runs drain it,
// time refills it at share per second up to a second's worth, and delay
// says how long the debt takes to pay off.
func TestBudget(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	b := newBudget(0.25, now) // 250 ms of running per second, 250 ms at most saved up
	if d := b.delay(); d != 0 {
		t.Fatalf("a fresh budget waits %v", d)
	}
	if !b.charge(200 * time.Millisecond) {
		t.Fatalf("200 ms of a 250 ms credit: spent")
	}
	if b.charge(100 * time.Millisecond) { // credit -50 ms
		t.Fatalf("300 ms of a 250 ms credit: not spent")
	}
	// 50 ms of debt at 0.25 s/s takes 200 ms to pay off, plus the 1 ms margin.
	if d := b.delay(); d != 201*time.Millisecond {
		t.Fatalf("delay = %v, want 201ms", d)
	}
	clock = clock.Add(100 * time.Millisecond) // +25 ms: -25 ms
	if d := b.delay(); d != 101*time.Millisecond {
		t.Fatalf("delay after 100 ms = %v, want 101ms", d)
	}
	clock = clock.Add(time.Hour) // refilled, but only up to 250 ms
	if !b.charge(249 * time.Millisecond) {
		t.Fatalf("249 ms of a full credit: spent")
	}
	if b.charge(2 * time.Millisecond) {
		t.Fatalf("credit above 250 ms after an hour")
	}
	for _, share := range []float64{0, -1} {
		b := newBudget(share, now)
		if !b.charge(time.Hour) || b.delay() != 0 {
			t.Fatalf("share %v: a budget that does not bound waits", share)
		}
	}
}
