package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// node is a sluice node of a run: its directory and the long-running
// process (serve, or sync --follow) the harness keeps, kills and restarts.
type node struct {
	name  string
	dir   string
	bin   string
	ready string   // the stderr line that says the process is up
	args  []string // its command line after --dir
	env   []string // added to its environment (set before start)

	// excl is held (write) while the harness tears the log: the workload
	// holds it (read) around each sluice append, which may open the log
	// itself while the process is dead.
	excl sync.RWMutex

	mu      sync.Mutex
	p       *proc
	killed  bool // the harness killed p (its exit is expected)
	exits   []Exit
	kills   int
	started int
}

// start starts the node's process and waits until it is ready, trying
// again while another writer (a sluice append that found no writer)
// holds the log, for up to 60 s.
func (n *node) start(ctx context.Context) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		p, line, err := startProc(ctx, n.bin, n.dir, n.env, n.ready, n.args...)
		if err == nil {
			n.p, n.killed = p, false
			n.started++
			return line, nil
		}
		if !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "address already in use") || ctx.Err() != nil {
			return "", fmt.Errorf("start %s: %w", n.name, err)
		}
		if sleep(ctx, 50*time.Millisecond) != nil {
			return "", fmt.Errorf("start %s: %w", n.name, err)
		}
	}
}

// kill kills the node's process with SIGKILL and waits for it.
func (n *node) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p != nil && !n.p.exited() {
		n.killed = true
		n.p.kill()
		n.kills++
	}
}

// crashed reports whether the node's process exited without the harness
// killing or stopping it; the exit is recorded (once).
func (n *node) crashed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil || n.killed || !n.p.exited() {
		return false
	}
	n.exits = append(n.exits, Exit{Node: n.name, Err: fmt.Sprint(n.p.err), Stderr: n.p.stderr()})
	n.killed = true
	return true
}

// down reports whether the node's process is not running.
func (n *node) down() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.p == nil || n.p.exited()
}

// stop interrupts the node's process and waits for a clean exit (an exit
// that is not is recorded).
func (n *node) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil || n.p.exited() {
		return
	}
	n.killed = true
	if err := n.p.stop(60 * time.Second); err != nil {
		n.exits = append(n.exits, Exit{Node: n.name, Err: "on SIGINT: " + err.Error(), Stderr: n.p.stderr()})
	}
}
