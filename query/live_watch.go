package query

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/internal/watch"
)

// After the watch wakes the watcher, it polls every burstPoll for
// burstWindow: the watch fires when the writer writes the WAL, which is
// before the commit shows in the WAL index that data_version reads (and,
// with synchronous=FULL, an fsync before).
const (
	burstPoll   = time.Millisecond
	burstWindow = 50 * time.Millisecond
)

// watcher notices changes to view files: one goroutine per generation,
// with one connection on which every watched file's PRAGMA data_version
// is read.
type watcher struct {
	l       *Live
	g       *generation
	conn    *sqlite.Conn
	files   map[string]*polled // by file name
	dirs    map[string]bool    // directories watched, or that could not be
	watches []*watch.Watch     // closed at the end
	wake    chan struct{}      // cap 1: a watch saw a write
	paths   map[string]string  // file name → path
}

// polled is a watched file: its data_version statement and last value.
type polled struct {
	stmt *sqlite.Stmt
	last int64
}

// watch is the watcher goroutine of generation g.
func (l *Live) watch(g *generation) {
	defer g.wg.Done()
	w := &watcher{l: l, g: g, files: map[string]*polled{}, dirs: map[string]bool{}, wake: make(chan struct{}, 1), paths: map[string]string{}}
	for _, f := range l.db.files {
		w.paths[f.Name] = f.Path
	}
	defer w.close()
	c := &connector{files: l.db.files}
	conn, err := sqlite.Open(":memory:", sqlite.OpenReadWrite|sqlite.OpenURI)
	if err == nil {
		if err = conn.Exec(c.setup()); err != nil {
			conn.Close()
		}
	}
	if err != nil {
		w.failAll(fmt.Errorf("live query: open views: %w", err))
		return
	}
	w.conn = conn
	timer := time.NewTimer(l.opts.Poll)
	defer timer.Stop()
	var burstUntil time.Time
	for {
		var notified <-chan struct{}
		if l.opts.Notifier != nil {
			notified = l.opts.Notifier.Changed() // taken before the check
		}
		if err := w.register(); err != nil {
			w.failAll(err)
			return
		}
		if err := w.check(); err != nil {
			w.failAll(err)
			return
		}
		next := l.opts.Poll
		if time.Now().Before(burstUntil) {
			next = min(next, burstPoll)
		}
		timer.Reset(next)
		select {
		case <-g.ctx.Done():
			return
		case <-g.kick:
		case <-notified:
		case <-w.wake:
			burstUntil = time.Now().Add(burstWindow)
		case <-timer.C:
		}
	}
}

func (w *watcher) close() {
	for _, p := range w.files {
		p.stmt.Close()
	}
	for _, wt := range w.watches {
		wt.Close()
	}
	if w.conn != nil {
		w.conn.Close()
	}
}

// failAll ends every subscription of the generation with err.
func (w *watcher) failAll(err error) {
	w.l.mu.Lock()
	if w.l.gen != w.g {
		w.l.mu.Unlock()
		return // stopping
	}
	var subs []*Subscription
	for s := range w.l.subs {
		subs = append(subs, s)
	}
	w.l.mu.Unlock()
	for _, s := range subs {
		w.l.remove(s)
		s.finish(err)
	}
}

// register takes the pending subscriptions: it starts watching the files
// they read that are not watched yet (the first data_version read is the
// baseline), then queues their first run. Every change after the baseline
// is noticed by a later check, so none is missed between the first run
// and the next.
func (w *watcher) register() error {
	w.l.mu.Lock()
	pending := w.g.pending
	w.g.pending = nil
	w.l.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	for _, s := range pending {
		for _, f := range s.files {
			if w.files[f] != nil {
				continue
			}
			st, err := w.conn.Prepare(fmt.Sprintf(`PRAGMA %s.data_version`, quoteIdent(f)))
			if err != nil {
				return fmt.Errorf("live query: watch %s: %w", f, err)
			}
			p := &polled{stmt: st}
			if p.last, err = dataVersion(st); err != nil {
				st.Close()
				return fmt.Errorf("live query: watch %s: %w", f, err)
			}
			w.files[f] = p
			w.watchDir(filepath.Dir(w.paths[f]))
		}
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	for _, s := range pending {
		if _, open := w.l.subs[s]; !open {
			continue
		}
		for _, f := range s.files {
			w.g.files[f] = append(w.g.files[f], s)
		}
		w.g.enqueue(s)
	}
	return nil
}

// watchDir starts watching dir, unless it is watched already or watching
// is off. Where a watch cannot be had, the poll alone notices changes.
func (w *watcher) watchDir(dir string) {
	if w.l.opts.NoWatch || w.dirs[dir] {
		return
	}
	w.dirs[dir] = true
	wt, err := watch.Open(dir)
	if err != nil {
		return
	}
	w.watches = append(w.watches, wt)
	w.g.wg.Add(1)
	go func() {
		defer w.g.wg.Done()
		for {
			ch := wt.Changed()
			select {
			case <-ch:
				select {
				case w.wake <- struct{}{}:
				default:
				}
			case <-w.g.ctx.Done():
				return
			}
		}
	}()
}

// check reads the data_version of every watched file and queues the
// subscriptions of those that changed. Files no subscription reads any
// more are dropped.
func (w *watcher) check() error {
	var changed []string
	for f, p := range w.files {
		v, err := dataVersion(p.stmt)
		if err != nil {
			return fmt.Errorf("live query: watch %s: %w", f, err)
		}
		w.l.stats.checks.Add(1)
		if v != p.last {
			w.l.stats.changes.Add(1)
			p.last = v
			changed = append(changed, f)
		}
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	for _, f := range changed {
		for _, s := range w.g.files[f] {
			w.g.enqueue(s)
		}
	}
	for f, p := range w.files {
		if len(w.g.files[f]) == 0 && !w.isPending(f) {
			p.stmt.Close()
			delete(w.files, f)
		}
	}
	return nil
}

// isPending reports whether a pending subscription reads file f. Live.mu
// must be held.
func (w *watcher) isPending(f string) bool {
	for _, s := range w.g.pending {
		for _, x := range s.files {
			if x == f {
				return true
			}
		}
	}
	return false
}

// dataVersion reads a PRAGMA data_version statement's value.
func dataVersion(st *sqlite.Stmt) (int64, error) {
	rows, err := st.Query()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("no data_version")
	}
	return rows.Int(0), nil
}
