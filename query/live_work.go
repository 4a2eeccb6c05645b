package query

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/log"
)

// How long one read transaction of a worker may stay open: a reader keeps
// the writer's checkpoints from going past its snapshot.
const txMax = 20 * time.Millisecond

// worker re-runs queries on a connection of its own.
type worker struct {
	l     *Live
	g     *generation
	conn  *sqlite3.SQLiteConn
	stmts map[*Subscription]driver.Stmt // prepared on conn
	meta  map[string]*metaStmts         // by file; prepared on conn
	seen  uint64                        // Live.closes when stmts was last swept
}

// metaStmts read a file's progress: each view's since, and the local
// entries applied ahead.
type metaStmts struct {
	since, ahead driver.Stmt
}

// fileMeta is a file's progress as a read transaction sees it.
type fileMeta struct {
	since map[string]log.Seq
	ahead map[string][]log.Seq
	names []string // the views, sorted
}

// work is a worker goroutine of generation g.
func (l *Live) work(g *generation) {
	defer g.wg.Done()
	w := &worker{l: l, g: g, stmts: map[*Subscription]driver.Stmt{}, meta: map[string]*metaStmts{}}
	c := &connector{files: l.db.files, d: &sqlite3.SQLiteDriver{}}
	dc, err := c.Connect(g.ctx)
	if err == nil {
		w.conn = sqliteConn(dc)
		defer w.close()
	}
	for {
		if g.budget.wait(g.ctx) != nil {
			return
		}
		batch, dead := l.take(g, w)
		for _, s := range dead {
			w.stmts[s].Close()
			delete(w.stmts, s)
		}
		if len(batch) == 0 {
			select {
			case <-g.work:
				continue
			case <-g.ctx.Done():
				return
			}
		}
		if err != nil {
			for _, s := range batch {
				l.done(g, s, nil, fmt.Errorf("live query: open views: %w", err))
			}
			continue
		}
		w.runBatch(batch)
	}
}

// take pops its share of the queue (all of it for a single worker) and
// marks those subscriptions running: a change noticed from now on runs
// them again after. It also returns the closed subscriptions w holds
// statements of.
func (l *Live) take(g *generation, w *worker) (batch, dead []*Subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := (len(g.queue) + l.opts.Workers - 1) / l.opts.Workers
	batch = append(batch, g.queue[:n]...)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	for _, s := range batch {
		s.queued, s.running = false, true
	}
	if w.seen != l.closes {
		w.seen = l.closes
		for s := range w.stmts {
			if _, open := l.subs[s]; !open {
				dead = append(dead, s)
			}
		}
	}
	return batch, dead
}

func (w *worker) close() {
	for _, st := range w.stmts {
		st.Close()
	}
	for _, m := range w.meta {
		m.close()
	}
	w.conn.Close()
}

func (m *metaStmts) close() {
	if m.since != nil {
		m.since.Close()
	}
	if m.ahead != nil {
		m.ahead.Close()
	}
}

// runBatch re-runs the subscriptions of batch, those whose last run was
// quickest first, in read transactions of at most txMax each (a query that
// takes longer has one of its own), and delivers each result that changed
// as soon as it has it. Once the budget is spent, the rest of the batch
// goes back to the head of the queue.
func (w *worker) runBatch(batch []*Subscription) {
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].cost < batch[j].cost })
	inTx := false
	var txStart time.Time
	var metas map[string]*fileMeta
	end := func() {
		if inTx {
			// A read transaction: COMMIT only ends it.
			w.conn.Exec("COMMIT", nil)
			inTx = false
		}
	}
	defer end()
	for i, s := range batch {
		if w.g.ctx.Err() != nil {
			return // stopping: nothing is delivered any more
		}
		if !inTx {
			if _, err := w.conn.Exec("BEGIN", nil); err != nil {
				w.l.done(w.g, s, nil, fmt.Errorf("live query: begin: %w", err))
				continue
			}
			inTx, txStart, metas = true, time.Now(), map[string]*fileMeta{}
		}
		start := time.Now()
		r, err := w.run(s, metas)
		now := time.Now()
		s.cost = now.Sub(start)
		w.l.stats.runNanos.Add(uint64(s.cost))
		if r != nil {
			r.Time = now
		}
		w.l.done(w.g, s, r, err)
		if !w.g.budget.charge(s.cost) {
			w.l.requeue(w.g, batch[i+1:])
			return
		}
		if now.Sub(txStart) >= txMax {
			end()
		}
	}
}

// run runs s's query and reads the progress of the views it reads, in the
// open read transaction.
func (w *worker) run(s *Subscription, metas map[string]*fileMeta) (*Result, error) {
	st := w.stmts[s]
	if st == nil {
		var err error
		if st, err = w.conn.Prepare(s.query); err != nil {
			return nil, fmt.Errorf("live query: %w", err)
		}
		w.stmts[s] = st
	}
	r := &Result{}
	cols, err := queryRows(w.g.ctx, st, s.args, func(v []driver.Value) {
		row := make([]any, len(v))
		for i, x := range v {
			if b, ok := x.([]byte); ok {
				x = append([]byte(nil), b...)
			}
			row[i] = x
		}
		r.Rows = append(r.Rows, row)
	})
	if err != nil {
		return nil, fmt.Errorf("live query: %w", err)
	}
	r.Columns = cols
	for _, f := range s.files {
		m := metas[f]
		if m == nil {
			if m, err = w.readMeta(f); err != nil {
				return nil, fmt.Errorf("live query: read the progress of %s: %w", f, err)
			}
			metas[f] = m
		}
		views, all := s.views[f], s.views[f] == nil
		for _, v := range m.names {
			if all || slices.Contains(views, v) {
				r.Views = append(r.Views, ViewState{File: f, View: v, Since: m.since[v], Ahead: m.ahead[v]})
			}
		}
	}
	return r, nil
}

// readMeta reads file's progress. A file without sluice's meta tables yet
// (an indexer is creating it) has no views.
func (w *worker) readMeta(file string) (*fileMeta, error) {
	m := &fileMeta{since: map[string]log.Seq{}, ahead: map[string][]log.Seq{}}
	ms := w.meta[file]
	if ms == nil {
		ms = &metaStmts{}
		var err error
		ms.since, err = w.conn.Prepare(fmt.Sprintf(`SELECT name, since FROM %s.sluice_views ORDER BY name`, quoteIdent(file)))
		if err == nil {
			ms.ahead, err = w.conn.Prepare(fmt.Sprintf(`SELECT view, seq FROM %s.sluice_ahead ORDER BY view, seq`, quoteIdent(file)))
		}
		if err != nil {
			ms.close()
			if strings.Contains(err.Error(), "no such table") {
				return m, nil
			}
			return nil, err
		}
		w.meta[file] = ms
	}
	_, err := queryRows(w.g.ctx, ms.since, nil, func(v []driver.Value) {
		name, _ := v[0].(string)
		since, _ := v[1].(int64)
		m.names = append(m.names, name)
		m.since[name] = log.Seq(since)
	})
	if err != nil {
		return nil, err
	}
	_, err = queryRows(w.g.ctx, ms.ahead, nil, func(v []driver.Value) {
		name, _ := v[0].(string)
		seq, _ := v[1].(int64)
		m.ahead[name] = append(m.ahead[name], log.Seq(seq))
	})
	return m, err
}

// done hands a run's outcome over: a result that differs from the
// subscription's last one is delivered; an error ends the subscription;
// a subscription whose files changed while it ran is queued again (for a
// later batch, so a read transaction of its own). Results of a generation
// that is stopping are dropped.
func (l *Live) done(g *generation, s *Subscription, r *Result, err error) {
	if r != nil && g.ctx.Err() == nil {
		l.stats.runs.Add(1)
		changed := s.last == nil || !sameRows(s.last, r)
		if l.opts.OnRun != nil {
			l.opts.OnRun(s, r, changed)
		}
		if changed {
			r.N = 1
			if s.last != nil {
				r.N = s.last.N + 1
			}
			s.last = r
			l.stats.results.Add(1)
			s.deliver(r)
		}
	}
	l.mu.Lock()
	s.running = false
	failed := err != nil && g.ctx.Err() == nil
	if s.again && !failed {
		s.again = false
		if _, open := l.subs[s]; open {
			g.enqueue(s)
		}
	}
	l.mu.Unlock()
	if failed {
		// Not end: a worker must not wait for its own generation.
		l.remove(s)
		s.finish(err)
	}
}

// requeue puts subscriptions taken for a batch but not run back at the
// head of the queue.
func (l *Live) requeue(g *generation, subs []*Subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var back []*Subscription
	for _, s := range subs {
		s.running, s.again = false, false
		if _, open := l.subs[s]; open {
			s.queued = true
			back = append(back, s)
		}
	}
	g.queue = append(back, g.queue...)
	if len(back) > 0 {
		select {
		case g.work <- struct{}{}:
		default:
		}
	}
}
