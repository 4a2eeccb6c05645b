package query

import (
	"context"
	"sync"
	"time"
)

// budget bounds the time workers spend re-running queries to a share of
// the wall time: a token bucket of running time that fills at share
// seconds per second, up to a second's worth, and that each run drains by
// its duration. While it is in debt the workers wait, and the queued
// subscriptions coalesce more changes. A budget with share <= 0 never
// waits. Its methods are safe for concurrent use.
type budget struct {
	share float64
	now   func() time.Time // time.Now, but for tests

	mu     sync.Mutex
	credit time.Duration // may go below 0
	at     time.Time     // when credit was last filled
}

func newBudget(share float64, now func() time.Time) *budget {
	b := &budget{share: share, now: now, at: now()}
	b.credit = b.max()
	return b
}

func (b *budget) max() time.Duration { return time.Duration(b.share * float64(time.Second)) }

// fill adds what accrued since the last fill. b.mu must be held.
func (b *budget) fill() {
	now := b.now()
	b.credit = min(b.max(), b.credit+time.Duration(b.share*float64(now.Sub(b.at))))
	b.at = now
}

// charge takes d off the credit and reports whether some is left.
func (b *budget) charge(d time.Duration) bool {
	if b.share <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fill()
	b.credit -= d
	return b.credit > 0
}

// delay returns how long until the credit is positive again (0 if it is).
func (b *budget) delay() time.Duration {
	if b.share <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fill()
	if b.credit > 0 {
		return 0
	}
	return time.Duration(float64(-b.credit)/b.share) + time.Millisecond
}

// wait waits until the credit is positive again, or ctx ends.
func (b *budget) wait(ctx context.Context) error {
	for {
		d := b.delay()
		if d == 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
