package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view/tasks"
)

// taskSendFlags are sluice sync's flags for sending tasks.
type taskSendFlags struct {
	to            string
	off           bool
	batch         int
	stuckAttempts int
	stuckAfter    time.Duration
}

func (f *taskSendFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.to, "tasks-to", "", "send this device's tasks to this server (default the first peer, with its token)")
	fs.BoolVar(&f.off, "no-tasks", false, "do not send tasks")
	fs.IntVar(&f.batch, "task-batch", replicate.MaxTasksPerRequest, "tasks of one queue per request (1 to 5)")
	fs.IntVar(&f.stuckAttempts, "task-stuck-attempts", 8, "report a queue stuck once its head has been sent this many times without an answer")
	fs.DurationVar(&f.stuckAfter, "task-stuck-after", 10*time.Minute, "report a queue stuck once its head has failed for this long")
}

// sender makes the node's task sender (nil with --no-tasks) and serves its
// cancel and retry on the local socket. It sends to --tasks-to, or else to
// the first peer.
func (f *taskSendFlags) sender(n *node, peers []replicate.Peer) (*replicate.Sender, error) {
	if f.off {
		return nil, nil
	}
	if f.batch < 1 || f.batch > replicate.MaxTasksPerRequest {
		return nil, usagef("--task-batch %d: want 1 to %d", f.batch, replicate.MaxTasksPerRequest)
	}
	to := peers[0]
	if f.to != "" {
		to = replicate.Peer{URL: strings.TrimRight(f.to, "/"), Token: peers[0].Token}
	}
	// The node the pull recorded for that URL, if any: the sender is held
	// to it as the pull is (a replaced server is refused).
	var node log.NodeID
	for _, p := range n.client.Peers() {
		if p.URL == to.URL {
			node = p.Node
		}
	}
	if node.IsZero() {
		n.e.notef("tasks go to %s (not contacted yet)", to.URL)
	} else {
		n.e.notef("tasks go to %s (node %s)", to.URL, node)
	}
	s, err := replicate.NewSender(n.log, replicate.SenderOptions{Server: to, ServerNode: node, BatchSize: f.batch,
		StuckAttempts: f.stuckAttempts, StuckAfter: f.stuckAfter, Logger: n.logger,
		OnStuck: func(q replicate.StuckQueue) {
			n.e.notef("task queue %q is stuck: its head %s failed %d times, last: %s (sluice task cancel %s, or sluice task retry %s)", q.Queue, q.Task, q.Attempts, q.Error, q.Task, q.Task)
		}})
	if err != nil {
		return nil, usageError{err}
	}
	var h http.Handler = replicate.SenderHandler(s)
	n.tasks.Store(&h)
	return s, nil
}

// syncViews are the built-in views sluice sync keeps besides --view.
var syncViews = []string{tasks.Name}

// sendPending is one-shot sync's sending of the tasks pending now (see
// Sender.SendPending); nothing with --no-tasks (sender nil).
func sendPending(ctx context.Context, e *env, s *replicate.Sender) error {
	if s == nil {
		return nil
	}
	left, err := s.SendPending(ctx)
	if err != nil {
		return err
	}
	if left > 0 {
		e.notef("tasks: %d not answered yet (a queue failed and backs off, or the server is unreachable): the next sync sends them again; sluice tasks shows them", left)
	}
	return nil
}
