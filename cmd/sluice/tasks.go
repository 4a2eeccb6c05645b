package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newTasksCmd) }

type tasksOptions struct {
	queue  string
	stuck  bool
	asJSON bool
}

func newTasksCmd(e *env) *cobra.Command {
	var o tasksOptions
	c := &cobra.Command{
		Use:   "tasks [--queue Q] [--stuck] [--json]",
		Short: "List the tasks of this device and their states",
		Long: `List the tasks of this device, as the tasks view shows them (sluice sync
keeps it): queue, id, seq, state (pending, sending, succeeded, failed,
cancelled), attempts, and the last error of a task waiting after retryable
failures. --stuck lists only the heads of stuck queues — a queue whose head
has failed retryably past the sender's limit — and exits with status 1 if
there is any: cancel the head (sluice task cancel) or retry it now (sluice
task retry).`,
		Example: `  sluice tasks
  sluice tasks --queue reactions --json
  sluice tasks --stuck || echo "a queue is stuck"`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runTasks(c.Context(), e, &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.queue, "queue", "", "only this queue's tasks")
	f.BoolVar(&o.stuck, "stuck", false, "only the heads of stuck queues; exit status 1 if any")
	f.BoolVar(&o.asJSON, "json", false, "print the list as JSON")
	return c
}

// taskJSON is a task as sluice tasks --json prints it.
type taskJSON struct {
	taskRow
	NextAttemptAt *string `json:"next_attempt_at"`
	LastError     *string `json:"last_error"`
	AnswerSeq     *int64  `json:"answer_seq"`
	Reason        *string `json:"reason"`
}

func runTasks(ctx context.Context, e *env, o *tasksOptions) error {
	db, err := e.openTasksView()
	if err != nil {
		return err
	}
	defer db.Close()
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE (?1 = '' OR queue = ?1) AND (?2 = 0 OR stuck = 1) ORDER BY queue, seq`
	rows, err := db.Query(ctx, q, o.queue, o.stuck)
	if err != nil {
		return fmt.Errorf("read the tasks view: %w", err)
	}
	var list []taskRow
	for rows.Next() {
		var r taskRow
		if err := r.scan(rows); err != nil {
			rows.Close()
			return err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the tasks view: %w", err)
	}
	if o.asJSON {
		out := make([]taskJSON, len(list))
		for i, r := range list {
			j := taskJSON{taskRow: r}
			if r.NextAttemptAt.Valid {
				s := time.UnixMilli(r.NextAttemptAt.Int64).UTC().Format(time.RFC3339Nano)
				j.NextAttemptAt = &s
			}
			if r.LastError.Valid {
				j.LastError = &r.LastError.String
			}
			if r.AnswerSeq.Valid {
				j.AnswerSeq = &r.AnswerSeq.Int64
			}
			if r.Reason.Valid {
				j.Reason = &r.Reason.String
			}
			out[i] = j
		}
		enc := json.NewEncoder(e.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tTASK\tKIND\tSEQ\tSTATE\tATTEMPTS\tANSWER\tNOTE")
		for _, r := range list {
			answer, note := "-", ""
			if r.AnswerSeq.Valid {
				answer = fmt.Sprint(r.AnswerSeq.Int64)
			}
			switch {
			case r.Reason.Valid:
				note = r.Reason.String
			case r.Stuck:
				note = "STUCK: " + r.LastError.String
			case r.LastError.Valid && (r.State == "pending" || r.State == "sending"):
				note = "last error: " + r.LastError.String
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", r.Queue, r.ID, r.Kind, r.Seq, r.State, r.Attempts, answer, note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if o.stuck && len(list) > 0 {
		return fmt.Errorf("%d queue(s) stuck: cancel the head task (sluice task cancel ID) or retry it now (sluice task retry ID)", len(list))
	}
	return nil
}
