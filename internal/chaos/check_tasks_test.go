package chaos

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// taskHistory is a good history of the task workload, by hand: device
// dev0 (user 1) appended tasks t1 (queue q1), t2 (q1, asking to be
// rejected), t3 (q2) and t4 (q1, cancelled before it was sent); the server
// answered t1 and t3 with a result each and failed t2; the device pulled
// the server's five entries.
func taskHistory() *History {
	dev := devNode.String()
	task := func(id, queue, key string, v int, reject bool) string {
		return fmt.Sprintf(`{"sluice":"task","id":%q,"queue":%q,"kind":"chaos.set","payload":{"key":%q,"v":%d,"reject":%v}}`, id, queue, key, v, reject)
	}
	result := func(id, queue, key string, v int) string {
		return fmt.Sprintf(`{"sluice":"task.result","task":{"node":%q,"id":%q,"queue":%q,"kind":"chaos.set"},"payload":{"key":%q,"v":%d,"reject":false}}`, dev, id, queue, key, v)
	}
	answer := func(id, queue string, seq int, outcome, reason string, results int) string {
		return fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":%q,"queue":%q,"kind":"chaos.set","seq":%d,"outcome":%q,"reason":%q,"results":%d}`, dev, id, queue, seq, outcome, reason, results)
	}
	srvPayloads := []string{
		result("t1", "q1", "k1", 1), answer("t1", "q1", 1, "succeeded", "", 1),
		answer("t2", "q1", 2, "failed", "rejected by the chaos check", 0),
		result("t3", "q2", "k3", 3), answer("t3", "q2", 3, "succeeded", "", 1),
	}
	h := &History{
		Server: NodeHistory{Name: "server", Node: srvNode},
		Devices: []NodeHistory{{Name: "dev0", Node: devNode, Scopes: []string{"user:1"},
			Tasks: []TaskRow{
				{ID: "t1", Queue: "q1", Kind: "chaos.set", Seq: 1, State: "succeeded"},
				{ID: "t2", Queue: "q1", Kind: "chaos.set", Seq: 2, State: "failed"},
				{ID: "t3", Queue: "q2", Kind: "chaos.set", Seq: 3, State: "succeeded"},
				{ID: "t4", Queue: "q1", Kind: "chaos.set", Seq: 4, State: "cancelled"},
			},
			Items: []ItemRow{
				{Key: "k1", V: 1, Authority: 1, Task: dev + "/t1", Scope: "user:1"},
				{Key: "k3", V: 3, Authority: 1, Task: dev + "/t3", Scope: "user:1"},
			},
		}},
		Cancels: []Cancel{{Node: "dev0", ID: "t4"}},
	}
	h.Server.Handled = []TaskRow{
		{Node: dev, ID: "t1", Queue: "q1", Kind: "chaos.set", Seq: 1, Outcome: "succeeded"},
		{Node: dev, ID: "t2", Queue: "q1", Kind: "chaos.set", Seq: 2, Outcome: "failed"},
		{Node: dev, ID: "t3", Queue: "q2", Kind: "chaos.set", Seq: 3, Outcome: "succeeded"},
	}
	h.Server.Items = append([]ItemRow(nil), h.Devices[0].Items...)
	d := &h.Devices[0]
	for i, p := range []string{task("t1", "q1", "k1", 1, false), task("t2", "q1", "k2", 2, true), task("t3", "q2", "k3", 3, false),
		task("t4", "q1", "k4", 4, false), `{"sluice":"task.cancel","id":"t4"}`} {
		d.Entries = append(d.Entries, log.Entry{Seq: log.Seq(i + 1), ID: log.ID{Node: devNode, Seq: log.Seq(i + 1)}, Origin: log.Local, Scope: "user:1", Payload: []byte(p)})
	}
	for _, p := range srvPayloads {
		addServerEntry(h, p)
	}
	return h
}

// addServerEntry appends an entry of user 1 to the server's log, and to
// the device's as pulled.
func addServerEntry(h *History, payload string) {
	s := log.Seq(len(h.Server.Entries) + 1)
	id := log.ID{Node: srvNode, Seq: s}
	h.Server.Entries = append(h.Server.Entries, log.Entry{Seq: s, ID: id, Origin: log.Local, Scope: "user:1", Payload: []byte(payload)})
	d := &h.Devices[0]
	d.Entries = append(d.Entries, log.Entry{Seq: log.Seq(len(d.Entries) + 1), ID: id, Origin: log.Remote, Scope: "user:1", Payload: []byte(payload)})
}

// setPayload changes the server's entry at seq, on both nodes.
func setPayload(h *History, seq int, f func(string) string) {
	h.Server.Entries[seq-1].Payload = []byte(f(string(h.Server.Entries[seq-1].Payload)))
	for i, e := range h.Devices[0].Entries {
		if e.ID == h.Server.Entries[seq-1].ID {
			h.Devices[0].Entries[i].Payload = h.Server.Entries[seq-1].Payload
		}
	}
}

func TestCheckTasksGood(t *testing.T) {
	if vs := Check(taskHistory()); len(vs) > 0 {
		t.Fatalf("violations in the good task history: %v", vs)
	}
	// A task not answered, in a queue reported stuck with its reason, with
	// its optimistic row: no violation either.
	h := taskHistory()
	d := &h.Devices[0]
	d.Entries = append(d.Entries, log.Entry{Seq: log.Seq(len(d.Entries) + 1), ID: log.ID{Node: devNode, Seq: log.Seq(len(d.Entries) + 1)}, Origin: log.Local, Scope: "user:1",
		Payload: []byte(`{"sluice":"task","id":"t5","queue":"q3","kind":"chaos.flaky","payload":{"key":"k5","v":5}}`)})
	d.Tasks = append(d.Tasks, TaskRow{ID: "t5", Queue: "q3", Kind: "chaos.flaky", Seq: int64(len(d.Entries)), State: "pending", Stuck: true, Error: "503: tasks of kind chaos.flaky fail here"})
	d.Items = append(d.Items, ItemRow{Key: "k5", V: 5, Authority: 0, Task: devNode.String() + "/t5", Scope: "user:1"})
	if vs := Check(h); len(vs) > 0 {
		t.Fatalf("violations with a stuck queue: %v", vs)
	}
}

// TestCheckTaskRules feeds the checker, for each task rule, a history that
// breaks it, and sees it reported first.
func TestCheckTaskRules(t *testing.T) {
	dev := devNode.String()
	cases := []ruleCase{
		{"answered-once", "task t1 of device " + dev + " is answered 2 times, at seqs 2 and 6", func(h *History) {
			addServerEntry(h, string(h.Server.Entries[1].Payload))
		}},
		{"answered-once", "handled_tasks has", func(h *History) {
			h.Server.Handled = h.Server.Handled[1:]
		}},
		{"answered-once", "which no answer in the log says", func(h *History) {
			h.Server.Handled = append(h.Server.Handled, TaskRow{Node: dev, ID: "t9", Queue: "q1", Kind: "chaos.set", Seq: 9, Outcome: "succeeded"})
		}},
		{"queue-order", "is for task t2 (seq 2) of queue q1; the device's next task there is t1 (seq 1)", func(h *History) {
			// The answers of t1 and t2 swapped: t2 applied first.
			a1, a2 := string(h.Server.Entries[1].Payload), string(h.Server.Entries[2].Payload)
			setPayload(h, 2, func(string) string { return a2 })
			setPayload(h, 3, func(string) string { return a1 })
		}},
		{"queue-order", "is for task t2 (seq 2) of queue q1; the device's next task there is t1 (seq 1)", func(h *History) {
			// t1 skipped: never answered, t2 answered.
			setPayload(h, 2, func(p string) string { return strings.Replace(p, `"sluice":"task.answer"`, `"sluice":"other"`, 1) })
			h.Server.Handled = h.Server.Handled[1:]
		}},
		{"cancel", "task t4 was cancelled (acknowledged), and the server applied it", func(h *History) {
			addServerEntry(h, fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":"t4","queue":"q1","kind":"chaos.set","seq":4,"outcome":"failed","reason":"x"}`, dev))
			h.Server.Handled = append(h.Server.Handled, TaskRow{Node: dev, ID: "t4", Queue: "q1", Kind: "chaos.set", Seq: 4, Outcome: "failed"})
		}},
		{"outcomes", "task t2 (reject true) answered succeeded", func(h *History) {
			setPayload(h, 3, func(p string) string {
				return strings.Replace(strings.Replace(p, `"failed"`, `"succeeded"`, 1), `"rejected by the chaos check"`, `""`, 1)
			})
			h.Server.Handled[1].Outcome = "succeeded"
		}},
		{"outcomes", "task t3 (reject false) answered failed", func(h *History) {
			setPayload(h, 5, func(p string) string {
				return strings.Replace(p, `"succeeded","reason":""`, `"failed","reason":"no"`, 1)
			})
			h.Server.Handled[2].Outcome = "failed"
		}},
		{"queue-order", "is for task t7 (seq 7) of queue q7; the device's next task there is none", func(h *History) {
			addServerEntry(h, fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":"t7","queue":"q7","kind":"chaos.set","seq":7,"outcome":"succeeded"}`, dev))
			h.Server.Handled = append(h.Server.Handled, TaskRow{Node: dev, ID: "t7", Queue: "q7", Kind: "chaos.set", Seq: 7, Outcome: "succeeded"})
		}},
		{"outcomes", "which no device appended", func(h *History) {
			other := log.NodeID{9}.String()
			addServerEntry(h, fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":"t7","queue":"q7","kind":"chaos.set","seq":7,"outcome":"succeeded"}`, other))
			h.Server.Handled = append(h.Server.Handled, TaskRow{Node: other, ID: "t7", Queue: "q7", Kind: "chaos.set", Seq: 7, Outcome: "succeeded"})
		}},
		{"drained", "task t1 was answered succeeded by the server (seq 2); the tasks view says \"pending\"", func(h *History) {
			h.Devices[0].Tasks[0].State = "pending"
		}},
		{"drained", "task t5 (seq 11, queue q3) is not answered", func(h *History) {
			d := &h.Devices[0]
			d.Entries = append(d.Entries, log.Entry{Seq: 11, ID: log.ID{Node: devNode, Seq: 11}, Origin: log.Local, Scope: "user:1",
				Payload: []byte(`{"sluice":"task","id":"t5","queue":"q3","kind":"chaos.flaky","payload":{"key":"k5","v":5}}`)})
			d.Tasks = append(d.Tasks, TaskRow{ID: "t5", Queue: "q3", Kind: "chaos.flaky", Seq: 11, State: "pending", Stuck: true}) // stuck, but no reason
		}},
		{"drained", "task t4 was cancelled; the tasks view says \"pending\"", func(h *History) {
			h.Devices[0].Tasks[3].State = "pending"
		}},
		{"authority", "no authoritative row for the server's {Key:k3", func(h *History) {
			h.Devices[0].Items = h.Devices[0].Items[:1]
		}},
		{"authority", "authoritative row {Key:k1 V:7", func(h *History) {
			h.Devices[0].Items[0].V = 7
		}},
		{"authority", "authoritative row {Key:k9", func(h *History) {
			h.Devices[0].Items = append(h.Devices[0].Items, ItemRow{Key: "k9", V: 9, Authority: 1, Task: dev + "/t9", Scope: "user:1"})
		}},
		{"optimistic", "optimistic row {Key:k2 V:2 Authority:0", func(h *History) {
			// t2 failed: its optimistic row should have been rolled back.
			h.Devices[0].Items = append(h.Devices[0].Items, ItemRow{Key: "k2", V: 2, Authority: 0, Task: dev + "/t2", Scope: "user:1"})
		}},
	}
	runRuleCases(t, taskHistory, cases)
}

// TestTaskStats counts the hand-made history's tasks.
func TestTaskStats(t *testing.T) {
	h := taskHistory()
	d := &h.Devices[0]
	for _, p := range []string{`{"sluice":"task.send","ids":["t1","t2"],"attempt":1}`, `{"sluice":"task.retry","ids":["t1","t2"],"error":"x"}`,
		`{"sluice":"task.send","ids":["t1","t2"],"attempt":2}`, `{"sluice":"task.stuck","queue":"q1","id":"t1","error":"x"}`} {
		s := log.Seq(len(d.Entries) + 1)
		d.Entries = append(d.Entries, log.Entry{Seq: s, ID: log.ID{Node: devNode, Seq: s}, Origin: log.Local, Payload: []byte(p)})
	}
	want := TaskStats{Succeeded: 2, Failed: 1, Cancelled: 1, Sends: 2, Retries: 1, Stuck: 1}
	if got := h.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}
