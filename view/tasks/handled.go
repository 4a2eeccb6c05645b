package tasks

import (
	"context"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// HandledName is the name of the server's view of the tasks it answered,
// and of its view file.
const HandledName = "handled_tasks"

// Handled is the server's view of the tasks it answered, from its answer
// entries:
//
//	handled_tasks(token, node, task_id, queue, kind, seq, outcome, reason, answer_seq)
//
// token is the name of the token that sent the task ("" without tokens),
// node the device, seq the task's seq on the device, answer_seq the answer
// entry's seq in this log. A task is answered once (the server dedups per
// token and device: a token cannot claim another's tasks by naming its
// device's node), so (token, node, task_id) is the key; should a log hold
// two answers for one task, the first in seq order is kept, whatever order
// they are applied in.
type Handled struct{}

var (
	_ view.View       = Handled{}
	_ view.Decoder    = Handled{}
	_ view.LocalAhead = Handled{}
)

// Name implements view.View.
func (Handled) Name() string { return HandledName }

// Version implements view.View.
func (Handled) Version() int { return 2 } // 2: the token column

// PageSize asks for 4 KiB pages in a new file (view.PageSizer): few rows,
// small transactions. The task round trip's p99 went from 11.4-13.2 ms with
// 16 KiB pages to 8.9-9.7 ms (sluice bench tasks --runs 3 --tasks 4000, 3
// interleaved runs each).
func (Handled) PageSize() int { return 4096 }

// AcceptsLocalAhead implements view.LocalAhead.
func (Handled) AcceptsLocalAhead() bool { return true }

// Schema implements view.View.
func (Handled) Schema() []string {
	return []string{`CREATE TABLE handled_tasks(
  token      TEXT NOT NULL,     -- the name of the token it was sent with ("" without tokens)
  node       TEXT NOT NULL,     -- the device that sent the task
  task_id    TEXT NOT NULL,
  queue      TEXT NOT NULL,
  kind       TEXT NOT NULL,
  seq        INTEGER NOT NULL,  -- the task's seq on the device
  outcome    TEXT NOT NULL,     -- succeeded or failed
  reason     TEXT,
  answer_seq INTEGER NOT NULL,  -- the answer entry's seq in this log
  PRIMARY KEY (token, node, task_id)
)`}
}

// Indexes implements view.View.
func (Handled) Indexes() []string {
	return []string{`CREATE INDEX handled_tasks_queue ON handled_tasks(node, queue, seq)`}
}

// Decode implements view.Decoder: only answer entries matter.
func (Handled) Decode(e log.Entry) (any, error) {
	v, err := View{}.Decode(e)
	if t, ok := v.(*Entry); ok && t.Kind != KindAnswer {
		return nil, nil
	}
	return v, err
}

// Open implements view.View.
func (Handled) Open(c *view.Conn) (view.Writer, error) {
	s, err := c.Prepare(`INSERT INTO handled_tasks(node, task_id, queue, kind, seq, outcome, reason, answer_seq, token)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (token, node, task_id) DO UPDATE SET queue = ?3, kind = ?4, seq = ?5, outcome = ?6, reason = ?7, answer_seq = ?8
WHERE answer_seq > ?8`)
	if err != nil {
		return nil, err
	}
	return &handledWriter{s}, nil
}

type handledWriter struct{ s *view.Stmt }

func (w *handledWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		t, _ := it.Value.(*Entry)
		if t == nil {
			continue
		}
		w.s.Text(t.Node)
		w.s.Text(t.ID)
		w.s.Text(t.Queue)
		w.s.Text(t.Type)
		w.s.Int(int64(t.Seq))
		w.s.Text(t.Outcome)
		nullText(w.s, t.Reason)
		w.s.Int(int64(it.Seq))
		w.s.Text(t.Token)
	}
	return w.s.Exec()
}

func (w *handledWriter) Close() error { w.s.Close(); return nil }
