package tasks_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/tasks"
)

// taskModel is what the tasks view must hold for one task, computed in Go
// from the entries (the rules of tasks.View's doc), not by the view.
type taskModel struct {
	cancel, send, retry, stuck, unstuck int64
	answered                            bool
	answerSeq                           int64
	outcome, reason                     string
}

func (m *taskModel) state() string {
	switch {
	case m.answered:
		return m.outcome
	case m.cancel > 0:
		return tasks.Cancelled
	case m.send > m.retry:
		return tasks.Sending
	}
	return tasks.Pending
}

func (m *taskModel) isStuck() bool {
	s := m.state()
	return (s == tasks.Pending || s == tasks.Sending) && m.stuck > m.unstuck
}

// TestViewStates: for random runs of a device's task entries (sends,
// retries, cancels, stuck and unstuck reports, the server's answers), every
// task's state, stuck flag, answer seq and reason in the tasks view are
// what the model computes from the same entries.
func TestViewStates(t *testing.T) {
	ctx := context.Background()
	dev := log.NodeID{0xde, 0x71}
	ids := []string{"t0", "t1", "t2"}
	for run := range 60 {
		rng := rand.New(rand.NewPCG(uint64(run), 7))
		var es []log.Entry
		model := map[string]*taskModel{}
		add := func(o log.Origin, e tasks.Entry) int64 {
			seq := log.Seq(len(es) + 1)
			es = append(es, log.Entry{Seq: seq, Origin: o, Payload: e.Marshal(), ID: log.ID{Node: dev, Seq: seq}, Scope: "user:1"})
			return int64(seq)
		}
		for _, id := range ids {
			add(log.Local, tasks.Entry{Kind: tasks.KindTask, ID: id, Queue: "q", Type: "k", Payload: []byte(`{}`)})
			model[id] = &taskModel{}
		}
		for range 25 {
			id := ids[rng.IntN(len(ids))]
			m := model[id]
			switch rng.IntN(6) {
			case 0:
				m.send = add(log.Local, tasks.Entry{Kind: tasks.KindSend, IDs: []string{id}, Attempt: 1})
			case 1:
				m.retry = add(log.Local, tasks.Entry{Kind: tasks.KindRetry, IDs: []string{id}, Error: "busy", NextAttemptAt: 1})
			case 2:
				m.cancel = add(log.Local, tasks.Entry{Kind: tasks.KindCancel, ID: id, Queue: "q", Type: "k"})
			case 3:
				m.stuck = add(log.Local, tasks.Entry{Kind: tasks.KindStuck, ID: id, Queue: "q", Error: "busy"})
			case 4:
				m.unstuck = add(log.Local, tasks.Entry{Kind: tasks.KindUnstuck, ID: id, Queue: "q"})
			case 5:
				outcome, reason := tasks.Succeeded, ""
				if rng.IntN(2) == 0 {
					outcome, reason = tasks.Failed, "no"
				}
				seq := add(log.Remote, tasks.Entry{Kind: tasks.KindAnswer, Node: dev.String(), ID: id, Queue: "q", Type: "k", Outcome: outcome, Reason: reason})
				if !m.answered { // the first answer applied is kept
					m.answered, m.answerSeq, m.outcome, m.reason = true, seq, outcome, reason
				}
			}
		}
		path := filepath.Join(t.TempDir(), "tasks.db")
		f, err := view.OpenFile(path, []view.View{tasks.View{}}, view.Options{Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		// In batches of random sizes, as the indexer would.
		for from := 0; from < len(es); {
			to := min(len(es), from+1+rng.IntN(8))
			if err := f.Apply(ctx, &view.Batch{Entries: es[from:to], From: es[from].Seq, To: es[to-1].Seq}); err != nil {
				t.Fatal(err)
			}
			from = to
		}
		f.Close()
		db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			m := model[id]
			var state, reason string
			var stuck bool
			var answerSeq sql.NullInt64
			if err := db.QueryRow(`SELECT state, stuck, answer_seq, ifnull(reason, '') FROM tasks WHERE task_id = ?`, id).Scan(&state, &stuck, &answerSeq, &reason); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("state %s stuck %v answer %d reason %q", state, stuck, answerSeq.Int64, reason)
			want := fmt.Sprintf("state %s stuck %v answer %d reason %q", m.state(), m.isStuck(), m.answerSeq, m.reason)
			if got != want {
				db.Close()
				t.Fatalf("run %d, task %s: %s, want %s", run, id, got, want)
			}
		}
		db.Close()
	}
}
