package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view/tasks"
)

func init() { extraCommands = append(extraCommands, newTaskCmd) }

func newTaskCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "task add|cancel|retry",
		Short: "Add, cancel or retry a task for the server",
		Long: `A task is a local entry of the log naming what the server should do: an id,
a queue, a kind and a JSON payload. sluice sync sends each queue's tasks in
order to the server it syncs with, and the server's answer comes back as an
entry of the log (see sluice tasks). Adding a task needs no network: it is
sent when the server is reachable.`,
		Example: `  sluice task add --queue reactions --kind react --scope user:7777 --json '{"message":"m1","emoji":"+1"}'
  sluice task cancel 3f2a9c1d0b7e4a55
  sluice task retry 3f2a9c1d0b7e4a55`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("sluice task needs a subcommand: add, cancel or retry\nRun 'sluice task --help' for usage.")
		},
	}
	c.AddCommand(newTaskAddCmd(e), newTaskCancelCmd(e), newTaskRetryCmd(e))
	return c
}

type taskAddOptions struct {
	queue, kind, payload, id, scope string
	wait                            bool
	timeout                         time.Duration
}

func newTaskAddCmd(e *env) *cobra.Command {
	var o taskAddOptions
	c := &cobra.Command{
		Use:   "add --queue Q --kind K --json PAYLOAD [--id ID] [--scope S] [--wait]",
		Short: "Append a task: the server will be sent it, in its queue's order",
		Long: `Append a task entry (local) to the log and print its id and seq. Views show
it at once (a view may show its effect optimistically, before the server
answers); sluice sync sends it to the server, after the tasks before it in
its queue have been answered.

--id names the task (unique on this device; default a random id). --scope
gives it the user's scope: the server's answer and results get it too, and
reach every device of that user. With --wait, add waits for the server's
answer (a running sluice sync --follow sends it and brings the answer back):
exit status 0 if the task succeeded, 1 if it failed or the wait timed out.`,
		Example: `  sluice task add --queue reactions --kind react --scope user:7777 --json '{"message":"m1","emoji":"+1"}'
  sluice task add --queue timers --kind timer.start --id t1 --json '{"timer":"work"}' --wait
  jq -c . photo.json | sluice task add --queue uploads --kind photo.add --json -
  sluice task add --queue uploads --kind photo.add --json @photo.json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runTaskAdd(c.Context(), e, &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.queue, "queue", "", "the queue: its tasks are sent in order, one request at a time (required)")
	f.StringVar(&o.kind, "kind", "", "what the server should do, for its handler (required)")
	f.StringVar(&o.payload, "json", "null", "the task's payload, a JSON value; - reads it from standard input, @FILE from a file")
	f.StringVar(&o.id, "id", "", "the task's id, unique on this device (default a random one)")
	f.StringVar(&o.scope, "scope", "", `the task's scope, e.g. "user:7777": its answer and results get it`)
	f.BoolVar(&o.wait, "wait", false, "wait for the server's answer; exit 1 if the task failed")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --wait, give up after this long")
	return c
}

// readTaskPayload returns the payload --json gives: the JSON itself, "-"
// for standard input, or @FILE for a file's content (a payload too large
// for the command line). It reads at most one byte past the limit.
func readTaskPayload(e *env, arg string) ([]byte, error) {
	var r io.Reader
	what := "standard input"
	switch {
	case arg == "-":
		r = e.in
	case strings.HasPrefix(arg, "@"):
		f, err := os.Open(arg[1:])
		if err != nil {
			return nil, usagef("--json %s: %v", arg, err)
		}
		defer f.Close()
		r, what = f, arg[1:]
	default:
		return []byte(arg), nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("--json %s: read %s: %w", arg, what, err)
	}
	return bytes.TrimSpace(b), nil
}

// newTaskID returns a random task id: 16 hex digits.
func newTaskID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func runTaskAdd(ctx context.Context, e *env, o *taskAddOptions) error {
	switch {
	case o.queue == "" || len(o.queue) > tasks.MaxQueueLen:
		return usagef("--queue: want a name of 1 to %d bytes", tasks.MaxQueueLen)
	case o.kind == "" || len(o.kind) > tasks.MaxKindLen:
		return usagef("--kind: want a name of 1 to %d bytes", tasks.MaxKindLen)
	case len(o.id) > tasks.MaxIDLen:
		return usagef("--id: at most %d bytes", tasks.MaxIDLen)
	}
	payload, err := readTaskPayload(e, o.payload)
	if err != nil {
		return err
	}
	if err := checkPayload(payload); err != nil {
		return usagef("--json %s: %w", abbrev(o.payload), err)
	}
	if err := log.CheckScope(o.scope); err != nil {
		return usagef("--scope: %v", err)
	}
	if o.id == "" {
		o.id = newTaskID()
	} else if row, ok := e.taskRow(ctx, o.id); ok {
		return fmt.Errorf("task id %q is taken: task of queue %q at seq %d, %s; give another --id", o.id, row.Queue, row.Seq, row.State)
	}
	// The server's accept handler writes the payload in a task.result
	// entry, larger than the task's own: one that cannot fit a record of
	// a log with the default limit would be refused there for good.
	if n := len(replicate.ResultPayload(replicate.Task{ID: o.id, Queue: o.queue, Kind: o.kind}, payload)); n > maxPayload {
		return usagef("--json %s: the payload is %d bytes; the server's result entry holding it would be %d bytes, over the %d bytes a log record may hold", abbrev(o.payload), len(payload), n, maxPayload)
	}
	rec := log.Record{Origin: log.Local, Scope: o.scope, Payload: tasks.Entry{Kind: tasks.KindTask, ID: o.id, Queue: o.queue, Type: o.kind, Payload: payload}.Marshal()}
	seqs, err := appendRecords(ctx, e, log.SyncAlways, [][]log.Record{{rec}})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "%s %d\n", o.id, seqs[0])
	if !o.wait {
		return nil
	}
	row, err := e.waitTaskAnswer(ctx, o.id, seqs[0], o.timeout)
	if err != nil {
		return err
	}
	if row.State != tasks.Succeeded {
		return fmt.Errorf("task %s %s: %s", o.id, row.State, row.Reason.String)
	}
	e.notef("task %s succeeded (answer at seq %d)", o.id, row.AnswerSeq.Int64)
	return nil
}

// taskRow is a row of the tasks view.
type taskRow struct {
	ID            string         `json:"task_id"`
	Queue         string         `json:"queue"`
	Kind          string         `json:"kind"`
	Seq           int64          `json:"seq"`
	State         string         `json:"state"`
	Attempts      int64          `json:"attempts"`
	NextAttemptAt sql.NullInt64  `json:"-"`
	LastError     sql.NullString `json:"-"`
	AnswerSeq     sql.NullInt64  `json:"-"`
	Reason        sql.NullString `json:"-"`
	Stuck         bool           `json:"stuck"`
}

const taskColumns = `task_id, queue, kind, seq, state, attempts, next_attempt_at, last_error, answer_seq, reason, stuck`

func (r *taskRow) scan(s interface{ Scan(...any) error }) error {
	return s.Scan(&r.ID, &r.Queue, &r.Kind, &r.Seq, &r.State, &r.Attempts, &r.NextAttemptAt, &r.LastError, &r.AnswerSeq, &r.Reason, &r.Stuck)
}

// openTasksView opens the tasks view file read-only.
func (e *env) openTasksView() (*query.DB, error) {
	path := e.viewFilePath(tasks.Name)
	if !fileExists(path) {
		return nil, fmt.Errorf("no tasks view in %s: sluice sync keeps it (sluice sync --from URL)", filepath.Dir(path))
	}
	return query.Open([]string{path}, query.Options{})
}

// taskRow returns the task's row in the tasks view, if the view exists and
// holds it.
func (e *env) taskRow(ctx context.Context, id string) (taskRow, bool) {
	var r taskRow
	db, err := e.openTasksView()
	if err != nil {
		return r, false
	}
	defer db.Close()
	return r, r.scan(db.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE task_id = ?`, id)) == nil
}

// waitTaskAnswer waits until the tasks view shows the task answered or
// cancelled, following the log.
func (e *env) waitTaskAnswer(ctx context.Context, id string, seq log.Seq, timeout time.Duration) (taskRow, error) {
	var r taskRow
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db, err := waitVisible(ctx, e, seq, []string{tasks.Name}, timeout, nil)
	if err != nil {
		return r, fmt.Errorf("task %s added at seq %d (it stays queued, pending), but --wait could not follow it: %w", id, seq, err)
	}
	defer db.Close()
	rd, err := log.OpenReader(e.logDir())
	if err != nil {
		return r, err
	}
	defer rd.Close()
	after := seq
	for {
		if err := r.scan(db.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE task_id = ?`, id)); err != nil {
			return r, fmt.Errorf("task %s: %w", id, err)
		}
		switch r.State {
		case tasks.Succeeded, tasks.Failed, tasks.Cancelled:
			return r, nil
		}
		last, err := rd.Wait(ctx, after)
		if err == nil {
			err = db.WaitFor(ctx, last, tasks.Name)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return r, fmt.Errorf("--wait timed out after %s with no answer from the server to task %s: the task is still pending (state %s, attempts %d%s); it will be sent and answered while sluice sync --follow runs (sluice tasks shows it, sluice task cancel %s drops it if not sent)", timeout, id, r.State, r.Attempts, lastErr(r), id)
			}
			return r, err
		}
		after = last
	}
}

func lastErr(r taskRow) string {
	if r.LastError.Valid {
		return "; last error: " + r.LastError.String
	}
	return ""
}

func newTaskCancelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a task not yet sent",
		Long: `Cancel a task that has not been sent: a task.cancel entry, after which views
roll back what they showed for it. A task sent and not answered is refused
(the server may have applied it): wait for its answer. While sluice sync
--follow runs, the cancel goes through it, so that it never crosses a send.`,
		Example: `  sluice task cancel 3f2a9c1d0b7e4a55`,
		Args:    exactArgs(1, "a task id"),
		RunE: func(c *cobra.Command, args []string) error {
			return taskOp(c.Context(), e, args[0], replicate.CancelLocal, (*replicate.Sender).Cancel, "cancelled")
		},
	}
}

func newTaskRetryCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Send a task waiting after failures now (a stuck queue's head)",
		Long: `Send a task that waits after retryable failures at once, and clear its
queue's stuck report (sluice tasks --stuck). It needs a running sluice sync
--follow, which sends it.`,
		Example: `  sluice tasks --stuck
  sluice task retry 3f2a9c1d0b7e4a55`,
		Args: exactArgs(1, "a task id"),
		RunE: func(c *cobra.Command, args []string) error {
			return taskOp(c.Context(), e, args[0], replicate.RetryLocal, nil, "will be sent now")
		},
	}
}

// taskOp runs a cancel or retry through the sender of the running writer,
// or, with no writer running, on the log itself (direct; nil: refused).
func taskOp(ctx context.Context, e *env, id string, viaSocket func(context.Context, string, string) error,
	direct func(*replicate.Sender, context.Context, string) error, done string) error {
	l, err := log.Open(e.logDir(), log.Options{})
	if errors.Is(err, log.ErrLocked) {
		err = viaSocket(ctx, e.socketPath(), id)
		if errors.Is(err, replicate.ErrNoSender) {
			return fmt.Errorf("%w: the process writing %s does not send tasks (sluice sync --follow does); stop it to act on the log directly", err, e.logDir())
		}
		if err == nil {
			e.notef("task %s %s", id, done)
		}
		return err
	}
	if err != nil {
		return err
	}
	defer l.Close()
	if direct == nil {
		return fmt.Errorf("task %s: no sluice sync --follow is running to send it; start one", id)
	}
	s, err := replicate.NewSender(l, replicate.SenderOptions{})
	if err != nil {
		return err
	}
	if err := direct(s, ctx, id); err != nil {
		return err
	}
	e.notef("task %s %s", id, done)
	return l.Close()
}
