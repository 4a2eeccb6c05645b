package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Config configures a run.
type Config struct {
	Bin      string        // the sluice binary
	Dir      string        // an empty directory for the nodes
	Seed     uint64        // draws the schedule and the workload
	Devices  int           // default 4
	Users    int           // device i belongs to user i%Users+1; default 2
	Duration time.Duration // of the faults and the workload
	// Settle bounds the wait for convergence once the faults stop
	// (default 2 min): a device still behind then breaks "converged".
	Settle time.Duration
	Rates  *Rates // default DefaultRates
	// Tasks adds the task workload: devices add tasks (sluice task add)
	// and cancel some; the server accepts most, rejects some for good
	// (a check of chaostasks.sql) and fails chaos.flaky tasks retryably
	// during some of its runs.
	Tasks bool
	// Logf, if set, gets each event as it happens.
	Logf func(format string, args ...any)
}

// Result is what a run did and found.
type Result struct {
	Seed     uint64
	Duration time.Duration
	Devices  int
	// ServerEntries and DeviceEntries count the entries appended and
	// acknowledged on the server and on the devices; Unacked the appends
	// that failed (a process killed under them, a log locked).
	ServerEntries, DeviceEntries, Unacked int
	// Tasks counts the tasks added (acknowledged), TasksUnacked the adds
	// that failed, Cancels the cancels acknowledged.
	Tasks, TasksUnacked, Cancels int
	// Faults counts the faults injected, by kind: the proxy's, and
	// kill_server, kill_device, torn_tail.
	Faults map[string]int64
	// UpstreamDown counts requests the proxy could not forward (the
	// server was down).
	UpstreamDown int64
	// Converge is, per device, how long after the last fault it held
	// every server entry it may read.
	Converge   []time.Duration
	TaskStats  TaskStats
	Violations []Violation
	Schedule   *Schedule
	Events     []string // what happened, when
}

// Report formats a failed run for replay (see the package function).
func (r *Result) Report() string {
	return Report(r.Seed, r.Schedule.String(), r.Violations) + "events:\n  " + strings.Join(r.Events, "\n  ") + "\n"
}

// cluster is a run's nodes, proxy and bookkeeping.
type cluster struct {
	cfg     Config
	sched   *Schedule
	start   time.Time
	server  *node
	devices []*node
	users   []int
	proxy   *Proxy

	mu      sync.Mutex
	acks    []Ack
	cancels []Cancel
	tears   []TornTail
	unacked int

	tasksAcked, tasksUnacked int
	events                   []string
	faults                   map[string]int64
}

func (c *cluster) logf(format string, args ...any) {
	c.mu.Lock()
	line := fmt.Sprintf("%7.2fs ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.events = append(c.events, line)
	c.mu.Unlock()
	if c.cfg.Logf != nil {
		c.cfg.Logf("%s", line)
	}
}

func (c *cluster) count(kind string) {
	c.mu.Lock()
	c.faults[kind]++
	c.mu.Unlock()
}

// Run runs a server and cfg.Devices devices as sluice processes under the
// faults of cfg.Seed's schedule for cfg.Duration, with a workload
// appending to all of them; then stops the faults, waits for the devices
// to converge, stops every process and checks the history. An error is a
// run that could not be made (a process that would not start); a run that
// breaks a rule returns its violations in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Devices <= 0 {
		cfg.Devices = 4
	}
	if cfg.Users <= 0 {
		cfg.Users = 2
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 2 * time.Minute
	}
	rates := DefaultRates
	if cfg.Rates != nil {
		rates = *cfg.Rates
	}
	c := &cluster{cfg: cfg, start: time.Now(), faults: map[string]int64{}}
	c.sched = NewSchedule(cfg.Seed, cfg.Devices, cfg.Duration, rates)
	res := &Result{Seed: cfg.Seed, Duration: cfg.Duration, Devices: cfg.Devices, Schedule: c.sched}
	defer c.shutdown()
	if err := c.setup(ctx); err != nil {
		return res, err
	}
	c.logf("started: server and %d devices; the schedule's clock starts now", cfg.Devices)
	c.mu.Lock()
	c.start = time.Now() // the timeline is of the run, not of its setup
	c.mu.Unlock()

	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1 + cfg.Devices)
	go func() { defer wg.Done(); c.serverWork(wctx) }()
	for i := range c.devices {
		go func() { defer wg.Done(); c.deviceWork(wctx, i) }()
		if cfg.Tasks {
			wg.Add(1)
			go func() { defer wg.Done(); c.taskWork(wctx, i) }()
		}
	}
	err := c.timeline(ctx)
	if err == nil {
		err = c.lastFault(ctx)
	}
	stopWork()
	wg.Wait()
	if err != nil {
		return c.result(res), err
	}

	// The faults stop: every request passes, every device is healed, every
	// process runs.
	c.sched.Stop()
	c.server.env = nil // chaos.flaky tasks go through from now on
	for _, d := range c.devices {
		c.proxy.Heal(d.name)
	}
	for _, n := range c.nodes() {
		if n.down() {
			if _, err := n.start(ctx); err != nil {
				return c.result(res), err
			}
		}
	}
	c.logf("faults stopped: the server restarted, every device healed; waiting for the devices to converge")
	res.Converge, err = c.converge(ctx, time.Now())
	if err != nil {
		return c.result(res), err
	}
	c.waitViews(ctx)
	for _, n := range c.nodes() {
		n.stop()
	}
	h, err := c.history()
	if err != nil {
		return c.result(res), err
	}
	res.Violations = Check(h)
	res.TaskStats = h.Stats()
	return c.result(res), nil
}

// result fills res with the counts.
func (c *cluster) result(res *Result) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.acks {
		if a.Node == c.server.name {
			res.ServerEntries++
		} else {
			res.DeviceEntries++
		}
	}
	res.Unacked = c.unacked
	res.Tasks, res.TasksUnacked, res.Cancels = c.tasksAcked, c.tasksUnacked, len(c.cancels)
	res.Faults = map[string]int64{}
	if c.proxy != nil {
		res.Faults = c.proxy.Counts()
		res.UpstreamDown = c.proxy.UpstreamErrors()
	}
	for k, n := range c.faults {
		res.Faults[k] += n
	}
	res.Events = append([]string(nil), c.events...)
	return res
}

func (c *cluster) nodes() []*node { return append([]*node{c.server}, c.devices...) }

// setup makes the server's tokens, starts the server, the proxy and the
// devices.
func (c *cluster) setup(ctx context.Context) error {
	cfg := c.cfg
	view := filepath.Join(cfg.Dir, "chaos.sql")
	if err := os.WriteFile(view, []byte(viewSQL), 0o644); err != nil {
		return err
	}
	views := []string{"--view", view}
	if cfg.Tasks {
		tv := filepath.Join(cfg.Dir, "chaostasks.sql")
		if err := os.WriteFile(tv, []byte(taskViewSQL), 0o644); err != nil {
			return err
		}
		views = append(views, "--view", tv)
	}
	c.server = &node{name: "server", dir: filepath.Join(cfg.Dir, "server"), bin: cfg.Bin, ready: "serving ",
		args: append([]string{"serve", "--listen", "127.0.0.1:0", "--heartbeat", "200ms"}, views...)}
	c.flaky(rand.New(rand.NewPCG(cfg.Seed, 8)))
	tokens := make([]string, cfg.Devices)
	for i := range tokens {
		c.users = append(c.users, i%cfg.Users+1)
		out, err := run(ctx, cfg.Bin, c.server.dir, "", "token", "add", fmt.Sprintf("dev%d", i), "--scope", c.scope(i))
		if err != nil {
			return err
		}
		tokens[i] = strings.TrimSpace(out)
	}
	line, err := c.server.start(ctx)
	if err != nil {
		return err
	}
	i := strings.Index(line, " on http://")
	if i < 0 {
		return fmt.Errorf("no URL in the server's %q", line)
	}
	url := strings.Fields(line[i+4:])[0]
	c.server.args[2] = strings.TrimPrefix(url, "http://") // restarts listen on the same port
	if c.proxy, err = NewProxy(url, ProxyOptions{Decider: c.sched}); err != nil {
		return err
	}
	for i := range cfg.Devices {
		name := fmt.Sprintf("dev%d", i)
		purl, err := c.proxy.Listen(name)
		if err != nil {
			return err
		}
		d := &node{name: name, dir: filepath.Join(cfg.Dir, name), bin: cfg.Bin, ready: "following",
			args: append([]string{"sync", "--from", purl, "--token", tokens[i], "--follow", "--durability", "none"}, views...)}
		c.devices = append(c.devices, d)
		if _, err := d.start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// scope is the scope of device i's user.
func (c *cluster) scope(i int) string { return "user:" + strconv.Itoa(c.users[i]) }

// shutdown kills whatever still runs and closes the proxy.
func (c *cluster) shutdown() {
	for _, n := range c.nodes() {
		if n != nil {
			n.kill()
		}
	}
	if c.proxy != nil {
		c.proxy.Close()
	}
}

// timeline runs the schedule's events at their times until the run's
// duration is over, restarting meanwhile any process that exited on its
// own (the exit is recorded for the checker).
func (c *cluster) timeline(ctx context.Context) error {
	end := c.start.Add(c.cfg.Duration)
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 7))
	events := c.sched.Events
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		for _, n := range c.nodes() {
			if n.crashed() {
				c.logf("%s exited on its own; restarting it", n.name)
				if _, err := n.start(ctx); err != nil {
					return err
				}
			}
		}
		if len(events) > 0 && time.Since(c.start) >= events[0].At {
			if err := c.apply(ctx, events[0], rng); err != nil {
				return err
			}
			events = events[1:]
			continue
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// lastFault ends the run's faults with one that every device must
// recover from: the server is killed and every device cut off for 2 s
// while the workload goes on (the server's entries are appended to its
// log directly), so that the time to converge is measured from the same
// kind of moment in every run.
func (c *cluster) lastFault(ctx context.Context) error {
	c.count("kill_server")
	c.server.kill()
	for _, d := range c.devices {
		c.proxy.Partition(d.name)
	}
	c.logf("last fault: kill -9 server, partition every device, for 2s")
	return sleep(ctx, 2*time.Second)
}

// apply carries out one event of the timeline.
func (c *cluster) apply(ctx context.Context, e Event, rng *rand.Rand) error {
	switch e.Kind {
	case Partition:
		d := c.devices[e.Device]
		c.logf("partition %s for %v", d.name, e.Down.Round(time.Millisecond))
		c.proxy.Partition(d.name)
		time.AfterFunc(e.Down, func() {
			c.proxy.Heal(d.name)
			c.logf("healed %s", d.name)
		})
		return nil
	case KillServer:
		c.count("kill_server")
		c.flaky(rng)
		return c.killRestart(ctx, c.server, e, rng, false)
	default:
		c.count("kill_device")
		return c.killRestart(ctx, c.devices[e.Device], e, rng, true)
	}
}

// killRestart kills n with SIGKILL, tears its log's tail if the event
// says so (cutting into unsynced records only if mayLose), and restarts it
// after the event's downtime.
func (c *cluster) killRestart(ctx context.Context, n *node, e Event, rng *rand.Rand, mayLose bool) error {
	n.kill()
	c.logf("kill -9 %s", n.name)
	if e.Tear {
		n.excl.Lock()
		t, err := tearTail(filepath.Join(n.dir, "log"), rng, mayLose)
		n.excl.Unlock()
		if err != nil {
			c.logf("no tear of %s: %v", n.name, err)
		} else {
			c.mu.Lock()
			c.tears = append(c.tears, TornTail{Node: n.name, Tear: t, Acks: len(c.acks)})
			c.faults["torn_tail"]++
			c.mu.Unlock()
			c.logf("tore %s: %s", n.name, t)
		}
	}
	if sleep(ctx, e.Down) != nil {
		return ctx.Err()
	}
	if _, err := n.start(ctx); err != nil {
		return err
	}
	c.logf("restarted %s", n.name)
	return nil
}

// appendItems runs sluice append on n with one workload item per line and
// records the acknowledged ones.
func (c *cluster) appendItems(n *node, src string, first int64, k int, scope string, durable bool, extra ...string) {
	var lines strings.Builder
	for j := range k {
		if scope != "" {
			fmt.Fprintf(&lines, `{"chaos":%q,"n":%d,"scope":%q}`+"\n", src, first+int64(j), scope)
		} else {
			fmt.Fprintf(&lines, `{"chaos":%q,"n":%d}`+"\n", src, first+int64(j))
		}
	}
	args := append([]string{"append", "--durability", "sync"}, extra...)
	if !durable {
		args[2] = "none"
	}
	if scope != "" {
		args = append(args, "--scope", scope)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.excl.RLock()
	out, err := run(ctx, n.bin, n.dir, lines.String(), args...)
	n.excl.RUnlock()
	seqs := strings.Fields(out)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || len(seqs) != k {
		c.unacked++
		return
	}
	for j, s := range seqs {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			c.unacked++
			return
		}
		c.acks = append(c.acks, Ack{Node: n.name, Src: src, N: first + int64(j), Seq: log.Seq(seq), Durable: durable})
	}
}

// serverWork appends 1–3 entries to the server every 50–250 ms, each
// call with one scope: none, or one of the users'.
func (c *cluster) serverWork(ctx context.Context) {
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 100))
	var next int64 = 1
	for sleep(ctx, time.Duration(50+rng.IntN(200))*time.Millisecond) == nil {
		k := 1 + rng.IntN(3)
		scope := ""
		if u := rng.IntN(c.cfg.Users + 1); u > 0 {
			scope = "user:" + strconv.Itoa(u)
		}
		c.appendItems(c.server, "server", next, k, scope, true)
		next += int64(k)
	}
}

// deviceWork appends 1–2 local entries to device i every 150–600 ms, one
// call in four with durability none.
func (c *cluster) deviceWork(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 101+uint64(i)))
	d := c.devices[i]
	var next int64 = 1
	for sleep(ctx, time.Duration(150+rng.IntN(450))*time.Millisecond) == nil {
		k := 1 + rng.IntN(2)
		c.appendItems(d, d.name, next, k, "", rng.IntN(4) != 0, "--local")
		next += int64(k)
	}
}

// converge waits (up to cfg.Settle) until every device holds every server
// entry it may read and the server has answered every task it sent (but
// those it cancelled), and returns how long after since each one did.
func (c *cluster) converge(ctx context.Context, since time.Time) ([]time.Duration, error) {
	done := make([]time.Duration, len(c.devices))
	left := len(c.devices)
	deadline := since.Add(c.cfg.Settle)
	for left > 0 && time.Now().Before(deadline) {
		node, srv, err := loadLog(c.server.dir)
		if err != nil {
			return nil, fmt.Errorf("converge: the server: %w", err)
		}
		h := &History{Server: NodeHistory{Name: "server", Node: node, Entries: srv}}
		for i, d := range c.devices {
			if done[i] > 0 {
				continue
			}
			dnode, es, err := loadLog(d.dir)
			if err != nil {
				return nil, fmt.Errorf("converge: %s: %w", d.name, err)
			}
			dn := &NodeHistory{Node: dnode, Entries: es, Scopes: []string{c.scope(i)}}
			if len(missing(h, dn)) == 0 && unanswered(h, dn) == 0 {
				done[i] = time.Since(since)
				left--
				c.logf("%s converged after %v", d.name, done[i].Round(time.Millisecond))
			}
		}
		if left > 0 && sleep(ctx, 100*time.Millisecond) != nil {
			return nil, ctx.Err()
		}
	}
	for i := range done {
		if done[i] == 0 {
			done[i] = -1 // not converged: the checker says what is missing
		}
	}
	return done, nil
}

// waitViews waits until each node's views show its whole log (what the
// checker reads next); a node whose views do not get there is left to
// the checker's "views" rule.
func (c *cluster) waitViews(ctx context.Context) {
	for _, n := range c.nodes() {
		_, es, err := loadLog(n.dir)
		if err != nil || len(es) == 0 {
			continue
		}
		last := strconv.FormatUint(uint64(es[len(es)-1].Seq), 10)
		if _, err := run(ctx, n.bin, n.dir, "", "query", "--wait", last, "--timeout", "60s", "--csv", "SELECT count(*) FROM entries"); err != nil {
			c.logf("%s: views not at %s: %v", n.name, last, err)
		}
	}
}

// history loads every node's log and view and what the harness saw.
func (c *cluster) history() (*History, error) {
	h := &History{}
	var err error
	if h.Server, err = loadNode(c.server.dir, c.server.name, nil); err != nil {
		return nil, err
	}
	for i, d := range c.devices {
		n, err := loadNode(d.dir, d.name, []string{c.scope(i)})
		if err != nil {
			return nil, err
		}
		h.Devices = append(h.Devices, n)
	}
	c.mu.Lock()
	h.Acks = append(h.Acks, c.acks...)
	h.Cancels = append(h.Cancels, c.cancels...)
	h.Tears = append(h.Tears, c.tears...)
	c.mu.Unlock()
	for _, n := range c.nodes() {
		n.mu.Lock()
		h.Exits = append(h.Exits, n.exits...)
		n.mu.Unlock()
	}
	return h, nil
}

// Percentile returns the p-th percentile (0–100, nearest rank) of ds; -1
// values (not converged) count as the largest.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool {
		if s[i] < 0 || s[j] < 0 {
			return s[j] < 0 && s[i] >= 0
		}
		return s[i] < s[j]
	})
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
