package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// The tests decode task entries themselves, not with the code under test.
type rawTaskEntry struct {
	Kind    string   `json:"sluice"`
	ID      string   `json:"id"`
	Queue   string   `json:"queue"`
	Node    string   `json:"node"`
	Seq     log.Seq  `json:"seq"`
	Outcome string   `json:"outcome"`
	Results int      `json:"results"`
	IDs     []string `json:"ids"`
	Unknown bool     `json:"unknown"`
	Task    *struct {
		ID string `json:"id"`
	} `json:"task"`
}

func decodeTaskEntry(t *testing.T, e log.Entry) (rawTaskEntry, bool) {
	t.Helper()
	var r rawTaskEntry
	if !bytes.Contains(e.Payload, []byte(`"sluice"`)) {
		return r, false
	}
	if err := json.Unmarshal(e.Payload, &r); err != nil {
		t.Fatalf("entry %d: %v", e.Seq, err)
	}
	return r, r.Kind != ""
}

// writeTasks appends n task entries to dir/log over queues, in Appends of
// a few, and returns each queue's task ids in order.
func writeTasks(t *testing.T, dir string, n, queues int, first int) map[string][]string {
	t.Helper()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string][]string{}
	for i := first; i < first+n; i++ {
		q := fmt.Sprintf("q%d", i%queues)
		id := fmt.Sprintf("t%04d", i)
		p := fmt.Sprintf(`{"sluice":"task","id":%q,"queue":%q,"kind":"note","payload":{"i":%d}}`, id, q, i)
		if _, err := l.Append(context.Background(), log.Record{Origin: log.Local, Scope: "user:1", Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
		want[q] = append(want[q], id)
	}
	return want
}

// serverAnswers reads the server's log: the tasks answered, per queue in
// answer order, failing on a task answered twice or applied (a result)
// without its answer right after.
func serverAnswers(t *testing.T, srv string) map[string][]string {
	t.Helper()
	_, es := readLog(t, srv)
	got := map[string][]string{}
	seen := map[string]bool{}
	for i, e := range es {
		r, ok := decodeTaskEntry(t, e)
		if !ok {
			continue
		}
		switch r.Kind {
		case "task.result":
			if i+1 >= len(es) {
				t.Fatalf("server seq %d: a result with no answer after it", e.Seq)
			}
			a, _ := decodeTaskEntry(t, es[i+1])
			if a.Kind != "task.answer" || a.ID != r.Task.ID {
				t.Fatalf("server seq %d: the result of %s is followed by %+v", e.Seq, r.Task.ID, a)
			}
		case "task.answer":
			if seen[r.ID] {
				t.Fatalf("task %s answered (applied) twice; again at server seq %d", r.ID, e.Seq)
			}
			seen[r.ID] = true
			got[r.Queue] = append(got[r.Queue], r.ID)
		}
	}
	return got
}

func countAnswers(m map[string][]string) int {
	n := 0
	for _, ids := range m {
		n += len(ids)
	}
	return n
}

// checkHandled checks the server's handled_tasks view: every task once,
// per queue in the device's order (by answer_seq, the device seqs grow).
func checkHandled(t *testing.T, srv string, want map[string][]string) {
	t.Helper()
	out := ok(t, srv, "", "query", "--json", `SELECT queue, task_id, seq FROM handled_tasks ORDER BY answer_seq`)
	var rows []struct {
		Queue  string  `json:"queue"`
		TaskID string  `json:"task_id"`
		Seq    log.Seq `json:"seq"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string][]string{}
	last := map[string]log.Seq{}
	for _, r := range rows {
		if r.Seq <= last[r.Queue] {
			t.Fatalf("handled_tasks: %s (device seq %d) answered after device seq %d of queue %s", r.TaskID, r.Seq, last[r.Queue], r.Queue)
		}
		last[r.Queue] = r.Seq
		got[r.Queue] = append(got[r.Queue], r.TaskID)
	}
	for q, ids := range want {
		if !slices.Equal(got[q], ids) {
			t.Fatalf("handled_tasks, queue %s: %v, want %v", q, got[q], ids)
		}
	}
	if len(rows) != countAnswers(want) {
		t.Fatalf("handled_tasks holds %d rows, want %d", len(rows), countAnswers(want))
	}
}

// waitAnswered waits (bounded) until the server has answered n tasks.
func waitAnswered(t *testing.T, srv string, n int) {
	t.Helper()
	waitFor(t, func() bool { return countAnswers(serverAnswers(t, srv)) >= n }, fmt.Sprintf("%d tasks answered", n))
}

// TestTasksKillDevice kills the device (sluice sync --follow, sending) with
// SIGKILL at random moments while it sends 300 tasks over 6 queues, and
// starts it again: the server applies every task exactly once, each queue
// in order, and the device's log holds each answer once.
func TestTasksKillDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	srv, dev := t.TempDir(), t.TempDir()
	want := writeTasks(t, dev, 300, 6, 0)
	s, url := serveNode(t, srv, "", "--view", "handled_tasks")
	rng := rand.New(rand.NewPCG(7, 7))
	for round := 0; round < 8; round++ {
		d := start(t, dev, "sync", "--from", url, "--follow", "--no-index", "--task-batch", fmt.Sprint(1+rng.IntN(5)))
		_, es := readLog(t, dev)
		killAt(t, d, filepath.Join(dev, "log"), log.Seq(len(es)+1+rng.IntN(40)))
	}
	d := start(t, dev, "sync", "--from", url, "--follow", "--no-index")
	waitAnswered(t, srv, 300)
	got := serverAnswers(t, srv)
	for q, ids := range want {
		if !slices.Equal(got[q], ids) {
			t.Fatalf("queue %s applied %v, want %v", q, got[q], ids)
		}
	}
	// The device gets every answer, once.
	nodeDev, _ := readLog(t, dev)
	waitFor(t, func() bool {
		_, es := readLog(t, dev)
		n := 0
		for _, e := range es {
			if r, ok := decodeTaskEntry(t, e); ok && r.Kind == "task.answer" && r.Node == nodeDev.String() {
				n++
			}
		}
		return n >= 300
	}, "the answers on the device")
	d.stop(t)
	s.stop(t)
	checkPulled(t, dev, srv, nil)
	checkHandled(t, srv, want)
}

// TestTasksKillServer kills the server right after it appended a group of
// batches and before it answered (a hook), several times, restarting it on
// the same port: every task is applied exactly once, in queue order. While
// it is down, cancelling a task of the unanswered batch is refused.
func TestTasksKillServer(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	srv, dev := t.TempDir(), t.TempDir()
	want := writeTasks(t, dev, 120, 4, 0)
	t.Setenv(killAfterAppendEnv, "3")
	s, url := serveNode(t, srv, "", "--view", "handled_tasks")
	addr := strings.TrimPrefix(url, "http://")
	d := start(t, dev, "sync", "--from", url, "--follow", "--view", "tasks", "--task-batch", "3")
	var refused bool
	seen, pulls := 0, 0
	var from log.Seq
	for round := 0; round < 4; round++ {
		if err := s.wait(t); err == nil {
			t.Fatal("the server exited cleanly; want it killed by its hook")
		}
		// The device got no answer for a batch the server applied: it must
		// refuse to cancel its tasks.
		// Wait for the device to notice: a retry entry for a request that
		// got no answer.
		// And for its pull of the server's log to end, so that the answers
		// the server streamed before it died are in the device's log.
		waitFor(t, func() bool { n := unknownRetries(t, dev); return n > seen }, "the device to record a request without an answer")
		waitFor(t, func() bool { return strings.Count(d.stderr(), "connecting again") > pulls }, "the device's pull to fail")
		seen, pulls = unknownRetries(t, dev), strings.Count(d.stderr(), "connecting again")
		if id := unknownRetry(t, dev, from); id != "" {
			r := sluice(t, dev, "", "task", "cancel", id)
			if r.code != 1 || !strings.Contains(r.err, "may have applied it") {
				t.Fatalf("cancel of %s, sent without an answer: exit %d, %s", id, r.code, r.err)
			}
			refused = true
		}
		if round == 3 {
			t.Setenv(killAfterAppendEnv, "")
		}
		_, es := readLog(t, dev)
		from = es[len(es)-1].Seq // retries before this are answered by the next server
		s, _ = serveNode(t, srv, addr, "--view", "handled_tasks")
	}
	if !refused {
		t.Error("no task was left sent without an answer while the server was down")
	}
	waitAnswered(t, srv, 120)
	got := serverAnswers(t, srv)
	for q, ids := range want {
		if !slices.Equal(got[q], ids) {
			t.Fatalf("queue %s applied %v, want %v", q, got[q], ids)
		}
	}
	waitPulled(t, dev, srv)
	d.stop(t)
	s.stop(t)
	checkHandled(t, srv, want)
	checkPulled(t, dev, srv, nil)
}

// unknownRetry returns a task of a task.retry entry in dev's log after seq
// after that says no answer came, and for which no answer is in the log,
// or "".
func unknownRetry(t *testing.T, dev string, after log.Seq) string {
	t.Helper()
	_, es := readLog(t, dev)
	answered := map[string]bool{}
	for _, e := range es {
		if r, ok := decodeTaskEntry(t, e); ok && r.Kind == "task.answer" {
			answered[r.ID] = true
		}
	}
	for _, e := range es {
		if r, ok := decodeTaskEntry(t, e); ok && r.Kind == "task.retry" && r.Unknown && e.Seq > after {
			for _, id := range r.IDs {
				if !answered[id] {
					return id
				}
			}
		}
	}
	return ""
}

// waitPulled waits (bounded) until the device in dev holds as many of the
// server's entries as the server's log in srv holds.
func waitPulled(t *testing.T, dev, srv string) {
	t.Helper()
	_, want := readLog(t, srv)
	waitFor(t, func() bool {
		_, es := readLog(t, dev)
		n := 0
		for _, e := range es {
			if e.Origin == log.Remote {
				n++
			}
		}
		return n >= len(want)
	}, "the device to pull the server's log")
}

// unknownRetries counts the task.retry entries in dev's log that say no
// answer came.
func unknownRetries(t *testing.T, dev string) int {
	t.Helper()
	_, es := readLog(t, dev)
	n := 0
	for _, e := range es {
		if r, ok := decodeTaskEntry(t, e); ok && r.Kind == "task.retry" && r.Unknown {
			n++
		}
	}
	return n
}

// TestTasksStuckQueue: a queue whose head the server always fails
// retryably is reported by sluice tasks --stuck (exit 1) while another
// queue goes on; its head can then be cancelled (nothing was applied), and
// a sent task cannot be cancelled twice.
func TestTasksStuckQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	srv, dev := t.TempDir(), t.TempDir()
	t.Setenv(failKindEnv, "bad")
	s, url := serveNode(t, srv, "")
	d := start(t, dev, "sync", "--from", url, "--follow", "--view", "tasks", "--task-stuck-attempts", "3")
	d.waitLine(t, "following")
	ok(t, dev, "", "task", "add", "--id", "b1", "--queue", "broken", "--kind", "bad", "--scope", "user:1")
	ok(t, dev, "", "task", "add", "--id", "b2", "--queue", "broken", "--kind", "note", "--scope", "user:1")
	d.waitLine(t, `task queue "broken" is stuck`)
	for i := range 5 {
		ok(t, dev, "", "task", "add", "--queue", "fine", "--kind", "note", "--scope", "user:1", "--json", fmt.Sprint(i), "--wait")
	}
	r := sluice(t, dev, "", "tasks", "--stuck", "--json")
	if r.code != 1 || !strings.Contains(r.out, `"task_id": "b1"`) || strings.Contains(r.out, `"fine"`) || !strings.Contains(r.err, "1 queue(s) stuck") {
		t.Fatalf("tasks --stuck: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if r := sluice(t, dev, "", "tasks", "--queue", "fine", "--stuck"); r.code != 0 {
		t.Fatalf("tasks --queue fine --stuck: exit %d %s", r.code, r.err)
	}
	// The server answered 503 each time: nothing was applied, b1 may go.
	ok(t, dev, "", "task", "cancel", "b1")
	r = sluice(t, dev, "", "task", "add", "--id", "b2", "--queue", "x", "--kind", "note")
	if r.code != 1 || !strings.Contains(r.err, `task id "b2" is taken`) {
		t.Fatalf("a second task b2: exit %d %s", r.code, r.err)
	}
	// b2 goes now; then a cancel of it is refused: it is done.
	waitAnswered(t, srv, 6)
	r = sluice(t, dev, "", "task", "cancel", "b1")
	if r.code != 1 || !strings.Contains(r.err, "already done (cancelled)") {
		t.Fatalf("second cancel: exit %d %s", r.code, r.err)
	}
	d.stop(t)
	s.stop(t)
	if got := serverAnswers(t, srv); slices.Contains(got["broken"], "b1") || !slices.Equal(got["broken"], []string{"b2"}) {
		t.Fatalf("queue broken applied %v, want only b2", got["broken"])
	}
	out := ok(t, dev, "", "tasks", "--json")
	var list []struct {
		ID    string `json:"task_id"`
		State string `json:"state"`
	}
	json.Unmarshal([]byte(out), &list)
	states := map[string]string{}
	for _, x := range list {
		states[x.ID] = x.State
	}
	if states["b1"] != "cancelled" || len(list) != 7 {
		t.Fatalf("tasks: %s", out)
	}
	_ = time.Second
}

// TestTasksSyncOnce: sluice sync without --follow sends the pending tasks
// (each queue in order), pulls their answers and exits; a queue the server
// fails is sent once, reported, and left pending for the next sync.
func TestTasksSyncOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	srv, dev := t.TempDir(), t.TempDir()
	t.Setenv(failKindEnv, "bad")
	s, url := serveNode(t, srv, "")
	want := writeTasks(t, dev, 12, 3, 0)
	ok(t, dev, "", "task", "add", "--id", "b1", "--queue", "broken", "--kind", "bad", "--scope", "user:1")
	r := sluice(t, dev, "", "sync", "--from", url, "--view", "tasks")
	if r.code != 0 || !strings.Contains(r.err, "tasks: 1 not answered yet") {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	s.stop(t)
	got := serverAnswers(t, srv)
	for q, ids := range want {
		if !slices.Equal(got[q], ids) {
			t.Fatalf("queue %s: the server answered %v, want %v", q, got[q], ids)
		}
	}
	if len(got["broken"]) != 0 {
		t.Fatalf("queue broken applied %v", got["broken"])
	}
	// The answers came back in the same sync: the device's log holds them.
	_, es := readLog(t, dev)
	answered := 0
	for _, e := range es {
		if a, ok := decodeTaskEntry(t, e); ok && a.Kind == "task.answer" && e.Origin == log.Remote {
			answered++
		}
	}
	if answered != 12 {
		t.Fatalf("the device pulled %d answers, want 12", answered)
	}
}
