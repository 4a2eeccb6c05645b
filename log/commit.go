package log

import (
	"runtime"
	"sync"
)

// committer implements SyncGroup: appenders hand their records to one
// goroutine, which writes everything that queued up while the previous fsync
// ran as one batch and fsyncs once for all of them.
type committer struct {
	l     *Log
	reqs  chan *commitReq
	done  chan struct{} // closed when run returns
	close chan struct{} // closed by stop
	once  sync.Once

	mu     sync.RWMutex // held for reading while sending to reqs
	closed bool         // set under mu before close is closed
}

type commitReq struct {
	recs []Record
	seqs []Seq
	err  error
	done chan struct{}
}

// maxGroupBytes bounds one group's payload bytes, so a flood of appends
// still gets acknowledged in pieces.
const maxGroupBytes = 8 << 20

func newCommitter(l *Log) *committer {
	c := &committer{l: l, reqs: make(chan *commitReq, 1024), done: make(chan struct{}), close: make(chan struct{})}
	go c.run()
	return c
}

func (c *committer) append(recs []Record) ([]Seq, error) {
	r := &commitReq{recs: recs, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	c.reqs <- r
	c.mu.RUnlock()
	<-r.done
	return r.seqs, r.err
}

func (c *committer) run() {
	defer close(c.done)
	var group []*commitReq
	for {
		var first *commitReq
		select {
		case first = <-c.reqs:
		case <-c.close:
			// No send can start now: commit what is queued, then stop.
			select {
			case first = <-c.reqs:
			default:
				return
			}
		}
		// Let appenders woken by the last commit queue up, so this group
		// shares its fsync with as many of them as possible.
		runtime.Gosched()
		group = append(group[:0], first)
		size := payloadBytes(first.recs)
	collect:
		for size < maxGroupBytes {
			select {
			case r := <-c.reqs:
				group = append(group, r)
				size += payloadBytes(r.recs)
			default:
				break collect
			}
		}
		c.commit(group)
	}
}

// commit writes and syncs one group and answers every request in it. Each
// request's records stay one batch: atomic on their own.
func (c *committer) commit(group []*commitReq) {
	l := c.l
	calls := make([][]Record, len(group))
	for i, r := range group {
		calls[i] = r.recs
	}
	l.mu.Lock()
	first, err := l.commit(calls, 0)
	l.mu.Unlock()
	next := first
	for _, r := range group {
		if err != nil {
			r.err = err
		} else {
			r.seqs = seqRange(next, len(r.recs))
			next += Seq(len(r.recs))
		}
		close(r.done)
	}
}

// stop refuses new appends, commits those already queued and waits for the
// committer to end. It is idempotent.
func (c *committer) stop() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.close)
	})
	<-c.done
}

func payloadBytes(recs []Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Payload)
	}
	return n
}
