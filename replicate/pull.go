package replicate

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
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
	caughtUp := false
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
	for {
		ev, err := sr.next()
		if err != nil {
			// The complete batches before the bad frame are good.
			if ferr := c.flush(ctx, ps, sr, &st); ferr != nil {
				return st, ferr
			}
			return st, fail(err)
		}
		watchdog.Reset(dead)
		switch ev {
		case evHello:
			if sr.node != node || sr.hello.After != after {
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
		case evBatch:
			if sr.bytes >= c.opts.GroupBytes {
				if err := c.flush(ctx, ps, sr, &st); err != nil {
					return st, err
				}
			}
		case evEnd:
			if err := c.flush(ctx, ps, sr, &st); err != nil {
				return st, err
			}
			return st, nil
		}
		if !sr.buffered() {
			// About to wait for the network: append what is whole.
			if err := c.flush(ctx, ps, sr, &st); err != nil {
				return st, err
			}
			if !caughtUp && sr.pos >= sr.hello.Last && len(sr.pend) == 0 {
				caughtUp = true
				c.mu.Lock()
				ps.LastError = ""
				c.mu.Unlock()
				if onCaughtUp != nil {
					onCaughtUp()
				}
			}
		}
	}
}

// flush appends the complete batches the stream has delivered, leaving out
// entries the log holds (its own, or ones that came by another path), in
// Appends of about GroupBytes, never splitting a batch. It moves the peer's
// position to the stream's.
func (c *Client) flush(ctx context.Context, ps *PeerStatus, sr *streamReader, st *PullStats) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps.LastContact, ps.Last = time.Now().UTC(), max(ps.Last, sr.peerLast)
	c.dirty = true
	defer func() {
		if st.To < sr.pos && len(sr.ready) == 0 {
			st.To = sr.pos
		}
		if c.opts.StatePath != "" && time.Since(c.saved) >= c.opts.SaveEvery {
			c.save(ctx, false) // a failure shows at the next forced save
		}
	}()
	if len(sr.ready) == 0 {
		ps.Position = max(ps.Position, sr.pos)
		return nil
	}
	if err := c.catchUp(); err != nil {
		return err
	}
	node := sr.node
	recs, peerSeqs := c.recs[:0], c.seqs[:0]
	size := 0
	var appendErr error
	appendChunk := func() {
		if len(recs) == 0 || appendErr != nil {
			return
		}
		seqs, err := c.log.Append(ctx, recs...)
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
	start := 0
	for _, end := range sr.ends {
		for i := start; i < end; i++ {
			p := &sr.ready[i]
			id := p.rec.ID
			if id.Node == c.node || !c.ids.add(id) {
				st.Skipped++
				ps.Skipped++
				continue
			}
			r := log.Record{Origin: log.Remote, Payload: sr.payload(p), Author: id, Scope: p.rec.Scope}
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
	appendChunk()
	c.recs, c.seqs = recs[:0], peerSeqs[:0]
	if appendErr != nil {
		return appendErr
	}
	clear(c.recs[:cap(c.recs)]) // drop references to the arena
	sr.taken()
	ps.Position = max(ps.Position, sr.pos)
	st.To = sr.pos
	return nil
}
