package replicate

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/log"
)

// pull opens one stream from p and appends what it delivers, until its end
// frame (or, following, until the stream fails or ctx ends).
func (c *Client) pull(ctx context.Context, p Peer, follow bool, onCaughtUp func()) (st PullStats, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return st, errors.New("replicate: client closed")
	}
	ps := c.addPeer(PeerStatus{Peer: p})
	if p.Token != "" {
		ps.Token = p.Token
	}
	node := ps.Node
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ps.Connected = false
		c.dirty = true
		if err != nil && ctx.Err() == nil {
			ps.LastError, ps.ErrorTime = err.Error(), time.Now().UTC()
		} else if err == nil {
			ps.LastError = ""
		}
		if serr := c.save(context.WithoutCancel(ctx), true); err == nil {
			err = serr
		}
	}()

	if node.IsZero() {
		s, err := c.FetchStatus(ctx, p)
		if err != nil {
			return st, err
		}
		if node, err = log.ParseNodeID(s.Node); err != nil || node.IsZero() {
			return st, &PeerError{Peer: p.URL, Err: fmt.Errorf("status: bad node %q", s.Node)}
		}
	}
	if node == c.node {
		return st, &PeerError{Peer: p.URL, Err: errSelf}
	}

	c.mu.Lock()
	err = c.catchUp()
	tmp := *ps
	tmp.Node = node
	after := c.position(&tmp)
	h := c.held[node]
	c.mu.Unlock()
	if err != nil {
		return st, err
	}
	st.From, st.To = after, after
	q := url.Values{"after": {strconv.FormatUint(uint64(after), 10)}, "node": {node.String()}}
	if follow {
		q.Set("follow", "1")
	}
	if h.peer > 0 {
		// Which entry of the peer's the log holds at that seq, so the peer
		// can tell whether its log is still the one pulled from.
		e, err := c.log.Get(h.local)
		if err != nil {
			return st, fmt.Errorf("replicate: read seq %d: %w", h.local, err)
		}
		q.Set("check", strconv.FormatUint(uint64(h.peer), 10))
		q.Set("check_id", e.ID.String())
		q.Set("check_sum", fmt.Sprintf("%08x", payloadSum(e.Payload)))
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.request(sctx, p, "/v1/entries", q)
	if err != nil {
		return st, err
	}
	req.Header.Set("Accept", ContentTypeStream)
	resp, err := c.http.Do(req)
	if err != nil {
		return st, &PeerError{Peer: p.URL, Position: after, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, c.refused(p.URL, after, resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != ContentTypeStream {
		return st, &PeerError{Peer: p.URL, Position: after, Err: fmt.Errorf("%w: the answer is %q, not %s", ErrBadStream, mt, ContentTypeStream)}
	}
	if c.opts.Logger != nil {
		c.opts.Logger.Debug("replicate: pulling", "peer", p.URL, "node", node, "after", after, "follow", follow)
	}

	// A stream that stays silent too long is taken for dead.
	dead := c.opts.DeadAfter
	if dead <= 0 {
		dead = 30 * time.Second
	}
	var silent atomic.Bool
	watchdog := time.AfterFunc(dead, func() { silent.Store(true); cancel() })
	defer watchdog.Stop()

	sr := newStreamReader(resp.Body, c.opts.MaxFrame)
	// One goroutine reads and checks the stream, another appends what it
	// took: reading goes on while an Append writes and syncs.
	aq := newAppendQueue(2 * c.opts.GroupBytes)
	appended := make(chan error, 1)
	go func() { appended <- c.appender(ctx, ps, node, aq, &st, onCaughtUp) }()
	finish := func() error {
		aq.close()
		return <-appended
	}
	fail := func(err error) error {
		if silent.Load() {
			err = fmt.Errorf("the peer sent nothing for %s: the connection is taken for dead", dead)
		}
		pe := &PeerError{Peer: p.URL, Err: err}
		c.mu.Lock()
		pe.Position = c.position(ps)
		c.mu.Unlock()
		return pe
	}
	caughtUp := false
	for {
		ev, err := sr.next()
		if err != nil {
			// The complete batches before the bad frame are good.
			aq.push(sr.take(aq.spare()))
			if aerr := finish(); aerr != nil {
				return st, aerr
			}
			return st, fail(err)
		}
		watchdog.Reset(dead)
		switch ev {
		case evHello:
			if sr.node != node || sr.hello.After != after {
				finish()
				return st, fail(fmt.Errorf("%w: the hello says node %s after %d, asked node %s after %d", ErrBadStream, sr.hello.Node, sr.hello.After, node, after))
			}
			if hb := sr.hello.heartbeat(); follow && hb > 0 && c.opts.DeadAfter <= 0 {
				dead = 3*hb + time.Second
				watchdog.Reset(dead)
			}
			c.mu.Lock()
			ps.Node, ps.Last, ps.LastContact, ps.Connected = node, sr.peerLast, time.Now().UTC(), true
			c.dirty = true
			c.mu.Unlock()
		case evEnd:
			aq.push(sr.take(aq.spare()))
			return st, finish()
		}
		if sr.bytes >= c.opts.GroupBytes || !sr.buffered() {
			// A group is full, or the stream would wait for the network:
			// hand over what is whole.
			g := sr.take(aq.spare())
			if !caughtUp && g.pos >= sr.hello.Last && len(sr.pend) == 0 {
				caughtUp, g.caughtUp = true, true
			}
			if err := aq.push(g); err != nil {
				finish()
				return st, err
			}
		}
	}
}

// appendQueue hands groups from a stream's reader to its appender. The
// reader waits while more than limit bytes are queued or being appended.
type appendQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	groups []batchGroup
	bytes  int
	limit  int
	closed bool
	err    error    // the appender's: the reader stops
	free   [][]byte // arenas appended, to reuse
}

func newAppendQueue(limit int) *appendQueue {
	q := &appendQueue{limit: limit}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues g, waiting while the queue is full; it returns the
// appender's error if it failed.
func (q *appendQueue) push(g batchGroup) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.bytes >= q.limit && q.err == nil {
		q.cond.Wait()
	}
	if q.err != nil {
		return q.err
	}
	q.groups = append(q.groups, g)
	q.bytes += g.bytes
	q.cond.Broadcast()
	return nil
}

// spare returns an arena to reuse, or nil.
func (q *appendQueue) spare() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.free); n > 0 {
		a := q.free[n-1]
		q.free = q.free[:n-1]
		return a
	}
	return nil
}

func (q *appendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// pop waits for groups and takes all of them; false once closed and empty.
func (q *appendQueue) pop() ([]batchGroup, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.groups) == 0 && !q.closed {
		q.cond.Wait()
	}
	gs := q.groups
	q.groups = nil
	return gs, len(gs) > 0
}

// done gives back what gs held, and the appender's error.
func (q *appendQueue) done(gs []batchGroup, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, g := range gs {
		q.bytes -= g.bytes
		if len(q.free) < 4 && cap(g.arena) > 0 {
			clear(g.recs) // drop what pointed into it
			q.free = append(q.free, g.arena[:0])
		}
	}
	if err != nil && q.err == nil {
		q.err = err
	}
	q.cond.Broadcast()
}

// appender appends the groups the reader queues, in order, until the
// queue is closed, and returns the first error.
func (c *Client) appender(ctx context.Context, ps *PeerStatus, node log.NodeID, q *appendQueue, st *PullStats, onCaughtUp func()) error {
	var failed error
	for {
		gs, ok := q.pop()
		if !ok {
			return failed
		}
		if failed == nil {
			failed = c.appendGroups(ctx, ps, node, gs, st)
			if failed == nil && onCaughtUp != nil {
				for _, g := range gs {
					if g.caughtUp {
						onCaughtUp()
					}
				}
			}
		}
		q.done(gs, failed)
	}
}

// appendGroups appends the complete batches of gs, leaving out entries the
// log holds (its own, or ones that came by another path), in Appends of
// about GroupBytes, never splitting a batch, and moves the peer's position
// to the last group's.
func (c *Client) appendGroups(ctx context.Context, ps *PeerStatus, node log.NodeID, gs []batchGroup, st *PullStats) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := &gs[len(gs)-1]
	ps.LastContact, ps.Last = time.Now().UTC(), max(ps.Last, last.peerLast)
	c.dirty = true
	defer func() {
		if c.opts.StatePath != "" && time.Since(c.saved) >= c.opts.SaveEvery {
			c.save(ctx, false) // a failure shows at the next forced save
		}
	}()
	if err := c.catchUp(); err != nil {
		return err
	}
	recs, peerSeqs := c.recs[:0], c.seqs[:0]
	size := 0
	var appendErr error
	appendChunk := func() {
		if len(recs) == 0 || appendErr != nil {
			return
		}
		seqs, err := c.log.AppendNoSync(ctx, recs...)
		if err != nil {
			// Some IDs were added to the set for entries not appended:
			// read it all again before the next pull.
			c.ids, c.held, c.scanned = newIDSet(), map[log.NodeID]held{}, 0
			appendErr = &PeerError{Peer: ps.URL, Position: c.position(ps), Err: fmt.Errorf("append pulled entries: %w", err)}
			return
		}
		first, last := seqs[0], seqs[len(seqs)-1]
		if first == c.scanned+1 {
			c.scanned = last
			if h := c.held[node]; peerSeqs[len(peerSeqs)-1] > h.peer {
				c.held[node] = held{peer: peerSeqs[len(peerSeqs)-1], local: last}
			}
		}
		if c.log.Mark() >= last {
			c.durable = last
		}
		st.Entries += int64(len(recs))
		st.Bytes += int64(size)
		ps.Pulled += int64(len(recs))
		ps.Bytes += int64(size)
		if c.opts.OnAppend != nil {
			c.opts.OnAppend(AppendInfo{Peer: ps.URL, Node: node, First: first, Last: last, PeerSeqs: peerSeqs, Bytes: int64(size)})
		}
		recs, peerSeqs, size = recs[:0], peerSeqs[:0], 0
	}
	for gi := range gs {
		g := &gs[gi]
		start := 0
		for _, end := range g.ends {
			for i := start; i < end; i++ {
				p := &g.recs[i]
				id := p.rec.ID
				if id.Node == c.node || !c.ids.add(id) {
					st.Skipped++
					ps.Skipped++
					continue
				}
				r := log.Record{Origin: log.Remote, Payload: g.payload(p), Author: id, Scope: p.rec.Scope}
				if id.Node != node {
					r.Via = log.ID{Node: node, Seq: p.rec.Seq}
				}
				recs = append(recs, r)
				peerSeqs = append(peerSeqs, p.rec.Seq)
				size += p.n
			}
			start = end
			if size >= c.opts.GroupBytes {
				appendChunk()
			}
		}
	}
	appendChunk()
	clear(recs[:cap(recs)]) // drop what pointed into the arenas
	c.recs, c.seqs = recs[:0], peerSeqs[:0]
	if appendErr != nil {
		return appendErr
	}
	ps.Position = max(ps.Position, last.pos)
	st.To = max(st.To, last.pos)
	return nil
}
