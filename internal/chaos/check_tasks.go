package chaos

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/sluicedb/sluice/log"
)

// The task workload's part of a history, and the rules about it. Task
// entries are read from the logs with the checker's own decoding of the
// entry format (view/tasks/entry.go), not with the code under test.

// TaskRow is a row of a device's tasks view (or, for the server, of
// handled_tasks: Node and Outcome set, State empty).
type TaskRow struct {
	Node    string // handled_tasks: the device
	ID      string
	Queue   string
	Kind    string
	Seq     int64  // the task entry's seq on the device
	State   string // tasks: pending, sending, succeeded, failed, cancelled
	Outcome string // handled_tasks: succeeded or failed
	Stuck   bool
	Error   string // tasks: the last retryable error
}

// ItemRow is a row of the chaos task view (chaostasks.sql): what a task
// of the workload set, at its authority.
type ItemRow struct {
	Key       string
	V         int64
	Authority int    // 0 optimistic, 1 authoritative
	Task      string // NODE/ID of the task that wrote it
	Scope     string
}

// Cancel is a sluice task cancel the harness was told succeeded.
type Cancel struct {
	Node string // the device
	ID   string
}

// taskEntry is a task entry of a log, as the checker decodes it.
type taskEntry struct {
	Kind    string          `json:"sluice"`
	ID      string          `json:"id"`
	Queue   string          `json:"queue"`
	Type    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
	Node    string          `json:"node"`
	Seq     log.Seq         `json:"seq"`
	Outcome string          `json:"outcome"`
	Reason  string          `json:"reason"`
}

// taskPayload is the workload's task payload.
type taskPayload struct {
	Key    string `json:"key"`
	V      int64  `json:"v"`
	Reject bool   `json:"reject"`
}

func parseTask(p []byte) (taskEntry, bool) {
	var t taskEntry
	if json.Unmarshal(p, &t) != nil || t.Kind == "" {
		return taskEntry{}, false
	}
	return t, true
}

// deviceTask is a task a device appended.
type deviceTask struct {
	taskEntry
	seq   log.Seq // on the device
	scope string
}

// deviceTasks returns the tasks d appended, in its log's order, and the
// ids it cancelled (task.cancel entries).
func deviceTasks(d *NodeHistory) ([]deviceTask, map[string]bool) {
	var ts []deviceTask
	cancelled := map[string]bool{}
	for _, e := range d.Entries {
		if e.Origin != log.Local || e.ID.Node != d.Node {
			continue
		}
		t, ok := parseTask(e.Payload)
		switch {
		case !ok:
		case t.Kind == "task":
			ts = append(ts, deviceTask{t, e.Seq, e.Scope})
		case t.Kind == "task.cancel":
			cancelled[t.ID] = true
		}
	}
	return ts, cancelled
}

// answer is a task.answer entry of the server's log.
type answer struct {
	taskEntry
	at log.Seq // its seq in the server's log
}

// serverAnswers returns the server's answers in its log's order.
func serverAnswers(h *History) []answer {
	var as []answer
	for _, e := range h.Server.Entries {
		if e.ID.Node != h.Server.Node {
			continue
		}
		if t, ok := parseTask(e.Payload); ok && t.Kind == "task.answer" {
			as = append(as, answer{t, e.Seq})
		}
	}
	return as
}

type taskKey struct{ node, id string }

// answersByTask returns the server's answers by device and task.
func answersByTask(h *History) map[taskKey][]answer {
	m := map[taskKey][]answer{}
	for _, a := range serverAnswers(h) {
		k := taskKey{a.Node, a.ID}
		m[k] = append(m[k], a)
	}
	return m
}

// TaskRules are the rules of the task workload, checked after Rules.
var TaskRules = []Rule{
	{"answered-once", "the server answers every task at most once (one task.answer per device and task id), and its handled_tasks view holds exactly those answers", checkAnsweredOnce},
	{"queue-order", "per device and queue, the server answered tasks in the device's order of appending, skipping none that was not cancelled", checkQueueOrder},
	{"cancel", "a task whose cancel was acknowledged is never applied by the server", checkCancel},
	{"outcomes", "every answer is the handler's: a task asking to be rejected failed with a reason, every other succeeded", checkOutcomes},
	{"drained", "every task not cancelled is answered, and its device's tasks view shows the answer — or its queue is reported stuck with its reason", checkDrained},
	{"authority", "every device's authoritative rows equal the server's rows of its user", checkAuthority},
	{"optimistic", "no optimistic row is left without a pending task of its device", checkOptimistic},
}

func checkAnsweredOnce(h *History) []Violation {
	var vs []Violation
	by := answersByTask(h)
	keys := make([]taskKey, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].node+keys[i].id < keys[j].node+keys[j].id })
	for _, k := range keys {
		if as := by[k]; len(as) > 1 {
			vs = append(vs, Violation{"answered-once", "server", fmt.Sprintf("task %s of device %s is answered %d times, at seqs %d and %d", k.id, k.node, len(as), as[0].at, as[1].at)})
		}
	}
	rows := map[taskKey]TaskRow{}
	for _, r := range h.Server.Handled {
		rows[taskKey{r.Node, r.ID}] = r
	}
	for _, k := range keys {
		a := by[k][0]
		r, ok := rows[k]
		if !ok || r.Outcome != a.Outcome || r.Queue != a.Queue || r.Seq != int64(a.Seq) {
			vs = append(vs, Violation{"answered-once", "server", fmt.Sprintf("handled_tasks has %+v for task %s of %s; its answer at seq %d says %s, queue %s, seq %d", r, k.id, k.node, a.at, a.Outcome, a.Queue, a.Seq)})
		}
		delete(rows, k)
	}
	for _, r := range rows {
		vs = append(vs, Violation{"answered-once", "server", fmt.Sprintf("handled_tasks has %+v, which no answer in the log says", r)})
		break
	}
	return vs
}

func checkQueueOrder(h *History) []Violation {
	var vs []Violation
	as := serverAnswers(h)
	by := answersByTask(h)
	for i := range h.Devices {
		d := &h.Devices[i]
		ts, cancelled := deviceTasks(d)
		queues := map[string][]deviceTask{} // in the device's order, without those cancelled in time
		for _, t := range ts {
			if !cancelled[t.ID] || len(by[taskKey{d.Node.String(), t.ID}]) > 0 {
				queues[t.Queue] = append(queues[t.Queue], t)
			}
		}
		next := map[string]int{}
		seen := map[string]bool{}
		for _, a := range as {
			if a.Node != d.Node.String() || seen[a.ID] {
				continue
			}
			seen[a.ID] = true
			q := queues[a.Queue]
			n := next[a.Queue]
			if n >= len(q) || q[n].ID != a.ID {
				want := "none"
				if n < len(q) {
					want = fmt.Sprintf("%s (seq %d)", q[n].ID, q[n].seq)
				}
				vs = append(vs, Violation{"queue-order", d.Name, fmt.Sprintf("the server's answer at seq %d is for task %s (seq %d) of queue %s; the device's next task there is %s", a.at, a.ID, a.Seq, a.Queue, want)})
				break
			}
			next[a.Queue] = n + 1
		}
	}
	return vs
}

func checkCancel(h *History) []Violation {
	var vs []Violation
	by := answersByTask(h)
	for _, c := range h.Cancels {
		d := h.node(c.Node)
		if d == nil {
			continue
		}
		if as := by[taskKey{d.Node.String(), c.ID}]; len(as) > 0 {
			vs = append(vs, Violation{"cancel", c.Node, fmt.Sprintf("task %s was cancelled (acknowledged), and the server applied it: answer at seq %d, %s", c.ID, as[0].at, as[0].Outcome)})
		}
	}
	return vs
}

func checkOutcomes(h *History) []Violation {
	var vs []Violation
	tasks := map[taskKey]deviceTask{}
	for i := range h.Devices {
		ts, _ := deviceTasks(&h.Devices[i])
		for _, t := range ts {
			tasks[taskKey{h.Devices[i].Node.String(), t.ID}] = t
		}
	}
	for _, a := range serverAnswers(h) {
		t, ok := tasks[taskKey{a.Node, a.ID}]
		if !ok {
			vs = append(vs, Violation{"outcomes", "server", fmt.Sprintf("the answer at seq %d is for task %s of %s, which no device appended", a.at, a.ID, a.Node)})
			continue
		}
		var p taskPayload
		json.Unmarshal(t.Payload, &p)
		want := "succeeded"
		if p.Reject {
			want = "failed"
		}
		if a.Outcome != want || (want == "failed") != (a.Reason != "") {
			vs = append(vs, Violation{"outcomes", "server", fmt.Sprintf("task %s (reject %v) answered %s, reason %q, at seq %d: want %s", a.ID, p.Reject, a.Outcome, a.Reason, a.at, want)})
		}
	}
	return vs
}

func checkDrained(h *History) []Violation {
	var vs []Violation
	by := answersByTask(h)
	for i := range h.Devices {
		d := &h.Devices[i]
		ts, cancelled := deviceTasks(d)
		rows := map[string]TaskRow{}
		stuck := map[string]TaskRow{}
		for _, r := range d.Tasks {
			rows[r.ID] = r
			if r.Stuck && r.Error != "" {
				stuck[r.Queue] = r
			}
		}
		for _, t := range ts {
			r := rows[t.ID]
			as := by[taskKey{d.Node.String(), t.ID}]
			switch {
			case cancelled[t.ID] && len(as) == 0:
				if r.State != "cancelled" {
					vs = append(vs, Violation{"drained", d.Name, fmt.Sprintf("task %s was cancelled; the tasks view says %q", t.ID, r.State)})
				}
			case len(as) == 0:
				if _, ok := stuck[t.Queue]; !ok {
					vs = append(vs, Violation{"drained", d.Name, fmt.Sprintf("task %s (seq %d, queue %s) is not answered (the tasks view says %q), and its queue is not reported stuck", t.ID, t.seq, t.Queue, r.State)})
				}
			case r.State != as[0].Outcome:
				vs = append(vs, Violation{"drained", d.Name, fmt.Sprintf("task %s was answered %s by the server (seq %d); the tasks view says %q", t.ID, as[0].Outcome, as[0].at, r.State)})
			}
			if len(vs) > 0 {
				break
			}
		}
	}
	return vs
}

func checkAuthority(h *History) []Violation {
	var vs []Violation
	for i := range h.Devices {
		d := &h.Devices[i]
		var want, got []ItemRow
		for _, r := range h.Server.Items {
			if reads(d.Scopes, r.Scope) {
				want = append(want, r)
			}
		}
		for _, r := range d.Items {
			if r.Authority > 0 {
				got = append(got, r)
			}
		}
		sortItems(want)
		sortItems(got)
		for j := 0; j < max(len(want), len(got)); j++ {
			switch {
			case j >= len(got):
				vs = append(vs, Violation{"authority", d.Name, fmt.Sprintf("no authoritative row for the server's %+v", want[j])})
			case j >= len(want):
				vs = append(vs, Violation{"authority", d.Name, fmt.Sprintf("authoritative row %+v is not the server's", got[j])})
			case want[j] != got[j]:
				vs = append(vs, Violation{"authority", d.Name, fmt.Sprintf("authoritative row %+v, the server's %+v", got[j], want[j])})
			default:
				continue
			}
			break
		}
	}
	return vs
}

func sortItems(rs []ItemRow) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Key < rs[j].Key })
}

func checkOptimistic(h *History) []Violation {
	var vs []Violation
	for i := range h.Devices {
		d := &h.Devices[i]
		state := map[string]string{}
		for _, r := range d.Tasks {
			state[d.Node.String()+"/"+r.ID] = r.State
		}
		for _, r := range d.Items {
			if r.Authority > 0 {
				continue
			}
			if s := state[r.Task]; s != "pending" && s != "sending" {
				vs = append(vs, Violation{"optimistic", d.Name, fmt.Sprintf("optimistic row %+v: its task's state is %q", r, s)})
				break
			}
		}
	}
	return vs
}

// TaskStats counts what became of the workload's tasks, from the logs.
type TaskStats struct {
	Succeeded, Failed int // the server's answers
	Cancelled         int // tasks cancelled and never answered
	Sends, Retries    int // the devices' task.send and task.retry entries
	Stuck             int // task.stuck reports
}

// Stats counts h's task outcomes and the senders' bookkeeping.
func (h *History) Stats() TaskStats {
	var s TaskStats
	by := answersByTask(h)
	for _, as := range by {
		if as[0].Outcome == "succeeded" {
			s.Succeeded++
		} else {
			s.Failed++
		}
	}
	for i := range h.Devices {
		d := &h.Devices[i]
		_, cancelled := deviceTasks(d)
		for id := range cancelled {
			if len(by[taskKey{d.Node.String(), id}]) == 0 {
				s.Cancelled++
			}
		}
		for _, e := range d.Entries {
			if e.Origin != log.Local || e.ID.Node != d.Node {
				continue
			}
			switch t, _ := parseTask(e.Payload); t.Kind {
			case "task.send":
				s.Sends++
			case "task.retry":
				s.Retries++
			case "task.stuck":
				s.Stuck++
			}
		}
	}
	return s
}
