package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view/ssb"
)

// localRunOnce indexes a fresh copy of the prepared log with a child
// "sluice index --follow" and, in writer modes, appends local entries
// until the indexer has caught up and cfg.After more.
func localRunOnce(ctx context.Context, cfg LocalConfig, prep *localPrepared, work string, m LocalMode, round int) (*LocalRun, error) {
	dir := filepath.Join(work, fmt.Sprintf("run-%d-%s", round, strings.ReplaceAll(m.String(), "+", "-")))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logDir := filepath.Join(dir, "log")
	if err := prep.clone(logDir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	var w *log.Log
	if m.Writer {
		l, err := log.Open(logDir, log.Options{Durability: cfg.Durability})
		if err != nil {
			return nil, err
		}
		defer l.Close()
		w = l
	}
	stats := filepath.Join(dir, "stats.jsonl")
	args := []string{"--stats-file", stats}
	if !m.Priority {
		args = append(args, "--no-priority")
	}
	child, err := localStartIndexer(cfg, dir, args...)
	if err != nil {
		return nil, err
	}
	defer child.kill()

	obs := newLocalObserver(cfg, filepath.Join(dir, "views", ssb.Name+".db"), prep.last, child.done, child.exitError)
	var wg sync.WaitGroup
	var werr error
	if w != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			werr = localWrite(ctx, cfg.Interval, cfg.After, w, obs, fmt.Sprintf("%d-%s", round, m))
		}()
	} else {
		close(obs.appended)
	}
	oerr := obs.run(ctx)
	if oerr != nil {
		cancel() // stops the writer
	}
	wg.Wait()
	if err := errors.Join(oerr, werr); err != nil {
		return nil, err
	}
	if err := child.stop(30 * time.Second); err != nil {
		return nil, err
	}
	r := &LocalRun{
		Mode: m, Round: round, MetaMismatch: obs.mismatch,
		Ready:    obs.readyAt.Sub(child.start),
		Backlog:  obs.backlogAt.Sub(child.start),
		CaughtUp: obs.caughtAt.Sub(child.start),
		Summary:  child.lastLine(),
	}
	for _, s := range obs.samples {
		r.Samples = append(r.Samples, LocalSample{
			Seq: s.seq, Append: s.appendDur, At: s.appended.Sub(child.start),
			Row: s.rowAt.Sub(s.appended), Meta: s.metaAt.Sub(s.appended),
		})
	}
	r.AheadApplied, r.PeakRSSKiB, err = localReadStats(stats)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// localPending is an appended entry the observer watches for.
type localPending struct {
	seq       log.Seq
	appendDur time.Duration
	appended  time.Time // when Append returned
	rowAt     time.Time // the first read that saw its row
	metaAt    time.Time // the first read whose meta said it shows
}

// localObserver reads the view file from a read-only connection, as an
// application waiting for its user's entry would, and times when each
// appended entry shows, and when the backlog is done.
type localObserver struct {
	cfg     LocalConfig
	path    string
	backlog log.Seq
	exited  <-chan struct{} // closed if the indexer stops
	exitErr func() error    // why it stopped

	appended chan *localPending // from the writer; closed when it stops
	ready    chan struct{}      // closed once the indexer has started
	caught   chan struct{}      // closed once it has caught up

	// Owned by run.
	samples                      []*localPending
	readyAt, backlogAt, caughtAt time.Time
	mismatch                     int
}

func newLocalObserver(cfg LocalConfig, path string, backlog log.Seq, exited <-chan struct{}, exitErr func() error) *localObserver {
	return &localObserver{
		cfg: cfg, path: path, backlog: backlog, exited: exited, exitErr: exitErr,
		appended: make(chan *localPending, 1<<16),
		ready:    make(chan struct{}), caught: make(chan struct{}),
	}
}

// localPollSQL reads, in one statement (so from one snapshot), the rows of
// messages and of sluice_ahead between ?1 and ?2, the view's since and
// indexes_built, and whether the file still holds unsynced pages of bulk
// mode (the dirty_boot mark, removed by view.File.Settle once the indexer
// has been idle; a writer every 10 ms keeps it busy, so this is reported
// but not waited for).
const localPollSQL = `SELECT 0, seq FROM ssb.messages WHERE seq BETWEEN ?1 AND ?2
UNION ALL SELECT 1, seq FROM ssb.sluice_ahead WHERE view = 'ssb' AND seq BETWEEN ?1 AND ?2
UNION ALL SELECT 2, since FROM ssb.sluice_views WHERE name = 'ssb'
UNION ALL SELECT 3, indexes_built FROM ssb.sluice_views WHERE name = 'ssb'
UNION ALL SELECT 4, count(*) FROM ssb.sluice_file WHERE key = 'dirty_boot'`

// localPoll is what one read of the view file saw.
type localPoll struct {
	rows, ahead  map[log.Seq]bool
	since        log.Seq
	indexesBuilt bool
	bulk         bool // the file is in bulk mode
	found        bool // the view's meta row exists
}

// localPoller runs localPollSQL on one connection.
type localPoller struct {
	db   *query.DB
	conn *sql.Conn
	stmt *sql.Stmt
}

// openLocalPoller opens the view file read-only once the indexer has made
// it, retrying (every interval, until ctx ends) while it is not there yet
// or its tables are not.
func openLocalPoller(ctx context.Context, path string, interval time.Duration, exited <-chan struct{}) (*localPoller, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		p, err := tryLocalPoller(ctx, path)
		if err == nil {
			return p, nil
		}
		last = err
		select {
		case <-t.C:
		case <-exited:
			return nil, fmt.Errorf("the indexer exited before making %s", path)
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: %w (last error: %v)", path, ctx.Err(), last)
		}
	}
}

func tryLocalPoller(ctx context.Context, path string) (*localPoller, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		return nil, err
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	stmt, err := conn.PrepareContext(ctx, localPollSQL)
	if err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	p := &localPoller{db: db, conn: conn, stmt: stmt}
	if _, err := p.poll(ctx, 1, 0); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *localPoller) poll(ctx context.Context, lo, hi log.Seq) (localPoll, error) {
	out := localPoll{rows: map[log.Seq]bool{}, ahead: map[log.Seq]bool{}}
	rows, err := p.stmt.QueryContext(ctx, int64(lo), int64(hi))
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, v int64
		if err := rows.Scan(&kind, &v); err != nil {
			return out, err
		}
		switch kind {
		case 0:
			out.rows[log.Seq(v)] = true
		case 1:
			out.ahead[log.Seq(v)] = true
		case 2:
			out.since, out.found = log.Seq(v), true
		case 3:
			out.indexesBuilt = v != 0
		case 4:
			out.bulk = v != 0
		}
	}
	return out, rows.Err()
}

func (p *localPoller) close() {
	p.stmt.Close()
	p.conn.Close()
	p.db.Close()
}

// run polls the view file until the indexer has caught up, the writer has
// stopped and every appended entry shows, or ctx ends.
func (o *localObserver) run(ctx context.Context) error {
	p, err := openLocalPoller(ctx, o.path, o.cfg.MetaPoll, o.exited)
	if err != nil {
		return err
	}
	defer p.close()
	var pending []*localPending // appended, not yet seen both ways; in seq order
	writing := true
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Take what the writer appended since the last read.
	drain:
		for writing {
			select {
			case s, ok := <-o.appended:
				if !ok {
					writing = false
					break drain
				}
				pending = append(pending, s)
				o.samples = append(o.samples, s)
			default:
				break drain
			}
		}
		lo, hi := log.Seq(1), log.Seq(0)
		if len(pending) > 0 {
			lo, hi = pending[0].seq, pending[len(pending)-1].seq
		}
		at := time.Now() // the read's snapshot is taken after this
		r, err := p.poll(ctx, lo, hi)
		if err != nil {
			if ctx.Err() != nil {
				return o.timeout(ctx, pending)
			}
			return fmt.Errorf("read %s: %w", o.path, err)
		}
		if r.found && r.since > 0 && o.readyAt.IsZero() {
			o.readyAt = at
			close(o.ready)
		}
		if r.since >= o.backlog && o.backlogAt.IsZero() {
			o.backlogAt = at
		}
		if r.since >= o.backlog && r.indexesBuilt && o.caughtAt.IsZero() {
			o.caughtAt = at
			close(o.caught)
		}
		kept := pending[:0]
		for _, s := range pending {
			row, meta := r.rows[s.seq], s.seq <= r.since || r.ahead[s.seq]
			if row != meta {
				o.mismatch++
			}
			if row && s.rowAt.IsZero() {
				s.rowAt = at
			}
			if meta && s.metaAt.IsZero() {
				s.metaAt = at
			}
			if s.rowAt.IsZero() || s.metaAt.IsZero() {
				kept = append(kept, s)
			}
		}
		pending = kept
		if !writing && len(pending) == 0 && !o.caughtAt.IsZero() {
			sort.Slice(o.samples, func(i, j int) bool { return o.samples[i].seq < o.samples[j].seq })
			return nil
		}
		wait := o.cfg.MetaPoll
		if len(pending) > 0 {
			wait = o.cfg.Probe
		}
		timer.Reset(wait)
		var newSample <-chan *localPending
		if writing && len(pending) == 0 {
			newSample = o.appended // read at once when the next entry comes
		}
		select {
		case <-timer.C:
		case s, ok := <-newSample:
			timer.Stop()
			if !ok {
				writing = false
			} else {
				pending = append(pending, s)
				o.samples = append(o.samples, s)
			}
		case <-o.exited:
			return fmt.Errorf("the indexer stopped early: %w", o.exitErr())
		case <-ctx.Done():
			return o.timeout(ctx, pending)
		}
	}
}

func (o *localObserver) timeout(ctx context.Context, pending []*localPending) error {
	var seqs []string
	for i, s := range pending {
		if i == 5 {
			seqs = append(seqs, "...")
			break
		}
		seqs = append(seqs, fmt.Sprint(s.seq))
	}
	return fmt.Errorf("%w: ready %v, backlog done %v, caught up %v, %d appended entries not visible yet (%s)",
		ctx.Err(), !o.readyAt.IsZero(), !o.backlogAt.IsZero(), !o.caughtAt.IsZero(), len(pending), strings.Join(seqs, " "))
}

// localWrite appends one local post every interval, from when the indexer
// has started until it has caught up and after more, and hands each to the
// observer.
func localWrite(ctx context.Context, interval time.Duration, after int, w *log.Log, o *localObserver, run string) error {
	defer close(o.appended)
	select {
	case <-o.ready:
	case <-ctx.Done():
		return nil // the observer reports why
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := ""
	n := 0
	for i := 1; ; i++ {
		caught := false
		select {
		case <-o.caught:
			caught = true
		default:
		}
		payload, key := localMessage(run, i, prev, time.Now())
		start := time.Now()
		seqs, err := w.Append(ctx, log.Record{Origin: log.Local, Payload: payload})
		done := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("append: %w", err)
		}
		prev = key
		select {
		case o.appended <- &localPending{seq: seqs[0], appendDur: done.Sub(start), appended: done}:
		case <-ctx.Done():
			return nil
		}
		if caught {
			if n++; n >= after {
				return nil
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// localAuthor is the feed of the benchmark's local user.
var localAuthor = "@" + localHash("sluice bench local: author") + ".ed25519"

func localHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

// localMessage returns a valid SSB post by localAuthor, the i-th of its
// feed (prev is the key of the one before), with a key unique to run and
// i; and that key.
func localMessage(run string, i int, prev string, now time.Time) ([]byte, string) {
	type content struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type value struct {
		Previous  *string `json:"previous"`
		Sequence  int     `json:"sequence"`
		Author    string  `json:"author"`
		Timestamp int64   `json:"timestamp"`
		Hash      string  `json:"hash"`
		Content   content `json:"content"`
		Signature string  `json:"signature"`
	}
	type msg struct {
		Key       string `json:"key"`
		Value     value  `json:"value"`
		Timestamp int64  `json:"timestamp"`
	}
	key := "%" + localHash(fmt.Sprintf("sluice bench local: %s/%d", run, i)) + ".sha256"
	m := msg{Key: key, Timestamp: now.UnixMilli(), Value: value{
		Sequence: i, Author: localAuthor, Timestamp: now.UnixMilli(), Hash: "sha256",
		Content:   content{Type: "post", Text: fmt.Sprintf("local post %d of run %s", i, run)},
		Signature: localHash(key) + ".sig.ed25519",
	}}
	if prev != "" {
		m.Value.Previous = &prev
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain strings and numbers
	}
	return b, key
}

// localChild is a sluice child process.
type localChild struct {
	cmd    *exec.Cmd
	start  time.Time // just before it was started
	stderr string    // file holding its stdout and stderr
	done   chan struct{}
	err    error // set when done is closed
}

// localStartIndexer starts "sluice --dir DIR index --follow" with args
// and cfg.IndexFlags; its output goes to dir/index.out.
func localStartIndexer(cfg LocalConfig, dir string, args ...string) (*localChild, error) {
	args = append(append([]string{"--dir", dir, "index", "--follow"}, args...), cfg.IndexFlags...)
	return startChild(cfg.Sluice, filepath.Join(dir, "index.out"), args...)
}

// startChild starts sluice with args; its stdout and stderr go to the
// file out.
func startChild(sluice, out string, args ...string) (*localChild, error) {
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(sluice, args...)
	cmd.Stdout, cmd.Stderr = f, f
	localSysProcAttr(cmd)
	c := &localChild{cmd: cmd, stderr: out, done: make(chan struct{})}
	c.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", sluice, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop interrupts the child (as Ctrl-C would) and waits for it to exit,
// killing it after timeout. It fails unless it exited with status 0.
func (c *localChild) stop(timeout time.Duration) error {
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		select {
		case <-c.done:
		default:
			return fmt.Errorf("interrupt %s: %w", c.cmd.Path, err)
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.kill()
		return fmt.Errorf("%s did not exit within %v of an interrupt\n%s", strings.Join(c.cmd.Args, " "), timeout, c.tail())
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(c.cmd.Args, " "), c.err, c.tail())
	}
	return nil
}

// exitError says how the child exited, with the end of its output.
func (c *localChild) exitError() error {
	return fmt.Errorf("%s: exit %v\n%s", strings.Join(c.cmd.Args, " "), c.err, c.tail())
}

// kill kills the child if it still runs and waits for it.
func (c *localChild) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Kill()
	<-c.done
}

// tail returns the last lines of the child's output.
func (c *localChild) tail() string {
	b, _ := os.ReadFile(c.stderr)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func (c *localChild) lastLine() string {
	lines := strings.Split(c.tail(), "\n")
	return lines[len(lines)-1]
}

// localReadStats reads an index --stats-file: the last count of local
// entries applied ahead and the peak RSS.
func localReadStats(path string) (ahead, peakKiB int64, err error) {
	lines, err := readStatsFile(path)
	for _, s := range lines {
		ahead, peakKiB = s.Ahead, max(peakKiB, s.RSSKiB)
	}
	return ahead, peakKiB, err
}
