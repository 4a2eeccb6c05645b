package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view/tasks"
)

// serveViews are the built-in views sluice serve keeps besides --view.
var serveViews = []string{tasks.HandledName}

// killAfterAppendEnv, for crash tests, makes sluice serve kill itself
// (SIGKILL) right after its Nth append of task answers, before answering.
const killAfterAppendEnv = "SLUICE_TEST_TASKS_KILL_AFTER_APPEND"

// newTaskServer makes the server of POST /v1/tasks, with the built-in
// accept handler.
func newTaskServer(n *node, tokens *replicate.TokenStore, loopback bool) (*replicate.TaskServer, error) {
	opts := replicate.TaskServerOptions{Tokens: tokens, OpenWhenEmpty: loopback, Handler: replicate.Accept, Logger: n.logger}
	if v := os.Getenv(killAfterAppendEnv); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("%s=%q: want a positive count", killAfterAppendEnv, v)
		}
		var appends atomic.Int64
		opts.AfterAppend = func() {
			if appends.Add(1) == int64(k) {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	return replicate.NewTaskServer(n.log, opts)
}
