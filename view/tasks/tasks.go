package tasks

import (
	"context"
	"errors"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Name is the name of the device's task view, and of its view file.
const Name = "tasks"

// States of a task in the tasks table.
const (
	Pending   = "pending"   // waiting to be sent (or sent again after a retryable failure)
	Sending   = "sending"   // sent, no answer yet
	Cancelled = "cancelled" // cancelled before it was sent
	// Succeeded and Failed (the outcomes) are states too.
)

// View is the built-in tasks view of a device: one row per task this node
// appended, in
//
//	tasks(task_id, queue, kind, seq, state, attempts, next_attempt_at,
//	      last_error, answer_seq, node, scope, payload, reason, stuck, ...)
//
// state is pending, sending, succeeded, failed or cancelled; stuck is 1
// while the sender reports the task (the head of its queue) as failing
// retryably past its limit. The answers the server sends to the user's
// other devices arrive too: they are kept in task_answers and match no
// task here (a task is this node's, the answer names the node).
//
// Every column comes out the same whatever order the entries are applied
// in: an answer may be applied before or after the local entries of its
// task, and state is computed from what has been applied (an answer wins
// over a cancel, a cancel over a send, the latest send or retry decides
// between sending and pending).
type View struct{}

var (
	_ view.View       = View{}
	_ view.Decoder    = View{}
	_ view.LocalAhead = View{}
)

// Name implements view.View.
func (View) Name() string { return Name }

// Version implements view.View.
func (View) Version() int { return 1 }

// PageSize asks for 4 KiB pages in a new file (view.PageSizer): few rows,
// small transactions. The task round trip's p99 went from 11.4-13.2 ms with
// 16 KiB pages to 8.9-9.7 ms (sluice bench tasks --runs 3 --tasks 4000, 3
// interleaved runs each).
func (View) PageSize() int { return 4096 }

// AcceptsLocalAhead implements view.LocalAhead.
func (View) AcceptsLocalAhead() bool { return true }

// Schema implements view.View.
func (View) Schema() []string {
	return []string{
		`CREATE TABLE tasks(
  task_id         TEXT PRIMARY KEY,
  queue           TEXT NOT NULL,
  kind            TEXT NOT NULL,
  seq             INTEGER NOT NULL,           -- the task entry's seq
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0, -- requests that carried it
  next_attempt_at INTEGER,                    -- Unix ms, after a retryable failure
  last_error      TEXT,                       -- of the last retryable failure
  answer_seq      INTEGER,                    -- seq of the server's answer entry
  node            TEXT NOT NULL,              -- this device's node
  scope           TEXT NOT NULL,
  payload         TEXT,
  reason          TEXT,                       -- why the server failed it
  stuck           INTEGER NOT NULL DEFAULT 0,
  send_seq        INTEGER NOT NULL DEFAULT 0, -- the latest entries that set the state
  retry_seq       INTEGER NOT NULL DEFAULT 0,
  cancel_seq      INTEGER NOT NULL DEFAULT 0,
  stuck_seq       INTEGER NOT NULL DEFAULT 0,
  unstuck_seq     INTEGER NOT NULL DEFAULT 0
)`,
		`CREATE TABLE task_answers(
  node    TEXT NOT NULL,
  task_id TEXT NOT NULL,
  seq     INTEGER NOT NULL,  -- the answer entry's seq
  outcome TEXT NOT NULL,
  reason  TEXT,
  PRIMARY KEY (node, task_id)
)`,
	}
}

// Indexes implements view.View.
func (View) Indexes() []string {
	return []string{
		`CREATE INDEX tasks_queue ON tasks(queue, seq)`,
		`CREATE INDEX tasks_state ON tasks(state)`,
	}
}

// Decode implements view.Decoder: entries that are not task entries are
// skipped (nil); a malformed task entry is rejected.
func (View) Decode(e log.Entry) (any, error) {
	t, err := Parse(e.Payload)
	if errors.Is(err, ErrNotTask) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Open implements view.View.
func (View) Open(c *view.Conn) (view.Writer, error) {
	w := &writer{}
	stmts := []struct {
		s   **view.Stmt
		sql string
	}{
		{&w.add, `INSERT OR IGNORE INTO tasks(task_id, queue, kind, seq, node, scope, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&w.cancel, `UPDATE tasks SET cancel_seq = max(cancel_seq, ?2) WHERE task_id = ?1`},
		{&w.send, `UPDATE tasks SET attempts = attempts + 1, send_seq = max(send_seq, ?2) WHERE task_id = ?1`},
		{&w.retry, `UPDATE tasks SET retry_seq = ?2, last_error = ?3, next_attempt_at = ?4 WHERE task_id = ?1 AND retry_seq < ?2`},
		{&w.stuck, `UPDATE tasks SET stuck_seq = ?2, last_error = coalesce(?3, last_error) WHERE task_id = ?1 AND stuck_seq < ?2`},
		{&w.unstuck, `UPDATE tasks SET unstuck_seq = ?2, next_attempt_at = NULL WHERE task_id = ?1 AND unstuck_seq < ?2`},
		{&w.answer, `INSERT OR IGNORE INTO task_answers(node, task_id, seq, outcome, reason) VALUES (?, ?, ?, ?, ?)`},
		{&w.state, `UPDATE tasks SET
  answer_seq = (SELECT a.seq FROM task_answers a WHERE a.node = tasks.node AND a.task_id = tasks.task_id),
  reason = (SELECT a.reason FROM task_answers a WHERE a.node = tasks.node AND a.task_id = tasks.task_id),
  state = coalesce((SELECT a.outcome FROM task_answers a WHERE a.node = tasks.node AND a.task_id = tasks.task_id),
    CASE WHEN cancel_seq > 0 THEN 'cancelled' WHEN send_seq > retry_seq THEN 'sending' ELSE 'pending' END)
WHERE task_id = ?`},
		{&w.flag, `UPDATE tasks SET stuck = (state IN ('pending', 'sending') AND stuck_seq > unstuck_seq) WHERE task_id = ?`},
	}
	for _, s := range stmts {
		st, err := c.Prepare(s.sql)
		if err != nil {
			w.Close()
			return nil, err
		}
		*s.s = st
	}
	return w, nil
}

type writer struct {
	add, cancel, send, retry, stuck, unstuck, answer, state, flag *view.Stmt
}

// recompute appends the rows that set a task's state from what is applied.
func (w *writer) recompute(id string) {
	w.state.Text(id)
	w.flag.Text(id)
}

func nullText(s *view.Stmt, v string) {
	if v == "" {
		s.Null()
	} else {
		s.Text(v)
	}
}

// Apply implements view.Writer.
func (w *writer) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		t, _ := it.Value.(*Entry)
		if t == nil {
			continue
		}
		seq := int64(it.Seq)
		if t.Kind == KindAnswer {
			w.answer.Text(t.Node)
			w.answer.Text(t.ID)
			w.answer.Int(seq)
			w.answer.Text(t.Outcome)
			nullText(w.answer, t.Reason)
			w.recompute(t.ID)
			continue
		}
		if it.Origin != log.Local {
			continue // the device's own bookkeeping only
		}
		switch t.Kind {
		case KindTask:
			w.add.Text(t.ID)
			w.add.Text(t.Queue)
			w.add.Text(t.Type)
			w.add.Int(seq)
			w.add.Text(it.ID.Node.String())
			w.add.Text(it.Scope)
			if t.Payload == nil {
				w.add.Null()
			} else {
				w.add.TextBytes(t.Payload)
			}
			w.recompute(t.ID)
		case KindCancel:
			w.cancel.Text(t.ID)
			w.cancel.Int(seq)
			w.recompute(t.ID)
		case KindSend:
			for _, id := range t.IDs {
				w.send.Text(id)
				w.send.Int(seq)
				w.recompute(id)
			}
		case KindRetry:
			for _, id := range t.IDs {
				w.retry.Text(id)
				w.retry.Int(seq)
				nullText(w.retry, t.Error)
				w.retry.Int(t.NextAttemptAt)
				w.recompute(id)
			}
		case KindStuck:
			w.stuck.Text(t.ID)
			w.stuck.Int(seq)
			nullText(w.stuck, t.Error)
			w.recompute(t.ID)
		case KindUnstuck:
			w.unstuck.Text(t.ID)
			w.unstuck.Int(seq)
			w.recompute(t.ID)
		}
	}
	return w.flag.Exec()
}

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range []*view.Stmt{w.add, w.cancel, w.send, w.retry, w.stuck, w.unstuck, w.answer, w.state, w.flag} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}
