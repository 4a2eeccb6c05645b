package main

import (
	"context"
	"fmt"
	"os"

	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view/tasks"
)

// serveViews are the built-in views sluice serve keeps besides --view.
var serveViews = []string{tasks.HandledName}

// killAfterAppendEnv, for crash tests, makes sluice serve kill itself
// (SIGKILL) right after its Nth append of task answers, before answering.
const killAfterAppendEnv = "SLUICE_TEST_TASKS_KILL_AFTER_APPEND"

// failKindEnv, for tests, makes the handler fail every task of that kind
// with a retryable error.
const failKindEnv = "SLUICE_TEST_TASKS_FAIL_KIND"

// newTaskServer makes the server of POST /v1/tasks, with the built-in
// accept handler.
func newTaskServer(n *node, tokens *replicate.TokenStore, loopback bool) (*replicate.TaskServer, error) {
	opts := replicate.TaskServerOptions{Tokens: tokens, OpenWhenEmpty: loopback, Handler: replicate.Accept, Indexer: n.ix, Logger: n.logger}
	kill, err := killAfter(killAfterAppendEnv)
	if err != nil {
		return nil, err
	}
	opts.AfterAppend = kill
	if kind := os.Getenv(failKindEnv); kind != "" {
		opts.Handler = replicate.HandlerFunc(func(ctx context.Context, t replicate.Task) (replicate.TaskResult, error) {
			if t.Kind == kind {
				return replicate.TaskResult{}, fmt.Errorf("tasks of kind %s fail here (%s)", kind, failKindEnv)
			}
			return replicate.Accept.HandleTask(ctx, t)
		})
	}
	return replicate.NewTaskServer(n.log, opts)
}
