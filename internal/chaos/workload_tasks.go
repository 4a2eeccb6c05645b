package chaos

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"time"
)

// taskViewSQL is the chaos task view (items set by tasks, with their
// authority, and the check that rejects a task asking for it).
//
//go:embed chaostasks.sql
var taskViewSQL string

// failKindEnv makes sluice serve fail every task of a kind retryably (a
// test hook of cmd/sluice); the harness sets it on some of the server's
// runs, so chaos.flaky tasks fail for a while and then go through.
const failKindEnv = "SLUICE_TEST_TASKS_FAIL_KIND"

// Task kinds of the workload.
const (
	kindSet   = "chaos.set"
	kindFlaky = "chaos.flaky"
)

// flaky draws whether the server's next run fails chaos.flaky tasks, and
// sets its environment so.
func (c *cluster) flaky(rng *rand.Rand) {
	if !c.cfg.Tasks {
		return
	}
	c.server.env = nil
	if rng.IntN(2) == 0 {
		c.server.env = []string{failKindEnv + "=" + kindFlaky}
		c.logf("the server's next run fails %s tasks (retryably)", kindFlaky)
	}
}

// taskWork adds a task to device i every 200–700 ms: one of three queues,
// one in ten of kind chaos.flaky, one in ten asking to be rejected. One
// add in eight is cancelled at once (refused if the sender has sent it
// already: that is fine), one in eight after the next add.
func (c *cluster) taskWork(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 201+uint64(i)))
	d := c.devices[i]
	later := ""
	for n := 1; sleep(ctx, time.Duration(200+rng.IntN(500))*time.Millisecond) == nil; n++ {
		id := fmt.Sprintf("%s-t%d", d.name, n)
		kind := kindSet
		if rng.IntN(10) == 0 {
			kind = kindFlaky
		}
		payload := fmt.Sprintf(`{"key":%q,"v":%d,"reject":%v}`, id, n, rng.IntN(10) == 0)
		queue := fmt.Sprintf("q%d", 1+rng.IntN(3))
		if _, err := c.runOn(d, "task", "add", "--queue", queue, "--kind", kind, "--id", id, "--scope", c.scope(i), "--json", payload); err != nil {
			c.count2(&c.tasksUnacked)
			continue
		}
		c.count2(&c.tasksAcked)
		if later != "" {
			c.cancel(d, later)
			later = ""
		}
		switch rng.IntN(8) {
		case 0:
			c.cancel(d, id)
		case 1:
			later = id
		}
	}
}

// cancel runs sluice task cancel id on d and records it if it succeeds.
func (c *cluster) cancel(d *node, id string) {
	_, err := c.runOn(d, "task", "cancel", id)
	if err != nil {
		return // refused: sent already, or done
	}
	c.mu.Lock()
	c.cancels = append(c.cancels, Cancel{Node: d.name, ID: id})
	c.mu.Unlock()
	c.logf("cancelled %s", id)
}

// count2 adds one to a counter of the cluster.
func (c *cluster) count2(n *int) {
	c.mu.Lock()
	*n++
	c.mu.Unlock()
}

// runOn runs a sluice command on node n (bounded to a minute), holding
// off a tear of its log meanwhile.
func (c *cluster) runOn(n *node, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.excl.RLock()
	defer n.excl.RUnlock()
	return run(ctx, n.bin, n.dir, "", args...)
}

// unanswered counts the tasks device d appended that the server has not
// answered, but those cancelled in time.
func unanswered(h *History, d *NodeHistory) int {
	by := answersByTask(h)
	ts, cancelled := deviceTasks(d)
	n := 0
	for _, t := range ts {
		if len(by[taskKey{d.Node.String(), t.ID}]) == 0 && !cancelled[t.ID] {
			n++
		}
	}
	return n
}
