package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// rawTask is a task entry as the tests decode it themselves.
type rawTask struct {
	Kind    string          `json:"sluice"`
	ID      string          `json:"id"`
	Queue   string          `json:"queue"`
	Type    string          `json:"kind"`
	Node    string          `json:"node"`
	Seq     log.Seq         `json:"seq"`
	Outcome string          `json:"outcome"`
	Reason  string          `json:"reason"`
	Results int             `json:"results"`
	Payload json.RawMessage `json:"payload"`
	IDs     []string        `json:"ids"`
	Task    *struct {
		Node, ID string
	} `json:"task"`
}

func decodeTask(t *testing.T, e log.Entry) (rawTask, bool) {
	t.Helper()
	var r rawTask
	if !bytes.Contains(e.Payload, []byte(`"sluice"`)) {
		return r, false
	}
	if err := json.Unmarshal(e.Payload, &r); err != nil {
		t.Fatalf("entry %d: %v: %s", e.Seq, err, e.Payload)
	}
	return r, r.Kind != ""
}

// taskRig is a server and a device on 127.0.0.1: the server serves its log
// and /v1/tasks; the device runs a Sender and a Client following the
// server.
type taskRig struct {
	server, device *log.Log
	url            string
	ts             *TaskServer
	sender         *Sender
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

func newTaskRig(t *testing.T, h Handler, sopts SenderOptions) *taskRig {
	t.Helper()
	return newTaskRigFront(t, h, sopts, nil)
}

// newTaskRigFront is newTaskRig with front, if not nil, wrapping the
// server's handler (to make it unreachable, for example).
func newTaskRigFront(t *testing.T, h Handler, sopts SenderOptions, front func(http.Handler) http.Handler) *taskRig {
	t.Helper()
	r := &taskRig{server: openLog(t), device: openLog(t)}
	var err error
	r.ts, err = NewTaskServer(r.server, TaskServerOptions{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ts.Close() })
	srv, err := NewServer(r.server, ServerOptions{Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/v1/tasks", r.ts)
	mux.Handle("/", srv)
	var root http.Handler = mux
	if front != nil {
		root = front(mux)
	}
	r.url = serve(t, root)
	sopts.Server = Peer{URL: r.url}
	if sopts.Backoff[0] == 0 {
		sopts.Backoff = [2]time.Duration{time.Millisecond, 20 * time.Millisecond}
	}
	r.sender, err = NewSender(r.device, sopts)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, r.device, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := r.sender.Run(ctx); err != nil {
			t.Errorf("sender: %v", err)
		}
	}()
	go func() {
		defer r.wg.Done()
		c.Follow(ctx, Peer{URL: r.url}, nil)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *taskRig) stop() {
	r.cancel()
	r.wg.Wait()
}

// addTask appends a task entry to the device's log.
func addTask(t *testing.T, l *log.Log, id, queue, kind, payload string) log.Seq {
	t.Helper()
	p := fmt.Sprintf(`{"sluice":"task","id":%q,"queue":%q,"kind":%q,"payload":%s}`, id, queue, kind, payload)
	seqs, err := l.Append(context.Background(), log.Record{Origin: log.Local, Scope: "user:1", Payload: []byte(p)})
	if err != nil {
		t.Fatal(err)
	}
	return seqs[0]
}

// waitLog waits, at most d, until cond holds over l's entries, checking
// each time the log grows.
func waitLog(t *testing.T, l *log.Log, d time.Duration, what string, cond func([]log.Entry) bool) []log.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var after log.Seq
	for {
		es := entries(t, l)
		if cond(es) {
			return es
		}
		if len(es) > 0 {
			after = es[len(es)-1].Seq
		}
		if _, err := l.Wait(ctx, after); err != nil {
			t.Fatalf("after %v, still waiting for %s (log at %d)", d, what, after)
		}
	}
}

// answersFor returns the answer entries in es for node, by task id.
func answersFor(t *testing.T, es []log.Entry, node log.NodeID) map[string]rawTask {
	t.Helper()
	out := map[string]rawTask{}
	for _, e := range es {
		if r, ok := decodeTask(t, e); ok && r.Kind == "task.answer" && r.Node == node.String() {
			if _, dup := out[r.ID]; dup {
				t.Fatalf("task %s answered twice (again at seq %d)", r.ID, e.Seq)
			}
			out[r.ID] = r
		}
	}
	return out
}

// TestTaskRoundTrip: tasks of three queues reach the server once each, in
// queue order, and the answers come back to the device's log through sync.
func TestTaskRoundTrip(t *testing.T) {
	for _, batch := range []int{1, 5} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			r := newTaskRig(t, nil, SenderOptions{BatchSize: batch})
			want := map[string][]string{}
			for i := range 21 {
				q := fmt.Sprintf("q%d", i%3)
				id := fmt.Sprintf("t%02d", i)
				addTask(t, r.device, id, q, "note", fmt.Sprintf(`{"n":%d}`, i))
				want[q] = append(want[q], id)
			}
			waitLog(t, r.device, 20*time.Second, "21 answers", func(es []log.Entry) bool {
				return len(answersFor(t, es, r.device.Node())) == 21
			})
			// The server's log: per task one result, then its answer, with
			// the task's scope; per queue in the device's order.
			got := map[string][]string{}
			results := map[string]int{}
			for _, e := range entries(t, r.server) {
				rt, ok := decodeTask(t, e)
				if !ok {
					continue
				}
				if e.Scope != "user:1" {
					t.Errorf("server entry %d has scope %q, want the task's user:1", e.Seq, e.Scope)
				}
				switch rt.Kind {
				case "task.result":
					results[rt.Task.ID]++
				case "task.answer":
					if rt.Outcome != "succeeded" || rt.Results != 1 || results[rt.ID] != 1 {
						t.Errorf("answer to %s: %+v, %d results before it", rt.ID, rt, results[rt.ID])
					}
					got[rt.Queue] = append(got[rt.Queue], rt.ID)
				}
			}
			for q, ids := range want {
				if strings.Join(got[q], ",") != strings.Join(ids, ",") {
					t.Errorf("queue %s answered %v, want %v", q, got[q], ids)
				}
			}
			if n, err := r.sender.Pending(); n != 0 || err != nil {
				t.Errorf("sender has %d tasks pending", n)
			}
		})
	}
}

// postTasks posts a request to url and returns the status and body.
func postTasks(t *testing.T, url, token string, req TaskRequest) (int, http.Header, []byte) {
	t.Helper()
	b, _ := json.Marshal(req)
	hr, _ := http.NewRequest(http.MethodPost, url+"/v1/tasks", bytes.NewReader(b))
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func serveTasks(t *testing.T, l *log.Log, opts TaskServerOptions) string {
	t.Helper()
	ts, err := NewTaskServer(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	return serve(t, ts)
}

var deviceNode = strings.Repeat("ab", 16)

func wireTasks(scope string, ids ...string) []WireTask {
	out := make([]WireTask, len(ids))
	for i, id := range ids {
		out[i] = WireTask{ID: id, Kind: "k", Seq: log.Seq(i + 1), Scope: scope, Payload: json.RawMessage(`{"v":"` + id + `"}`)}
	}
	return out
}

// TestTaskServerDedup: a batch sent again gets the same answers and
// appends nothing; a batch mixing old and new tasks applies only the new.
// The dedup survives a restart of the server (it reads its answers back).
func TestTaskServerDedup(t *testing.T) {
	l := openLog(t)
	url := serveTasks(t, l, TaskServerOptions{})
	req := TaskRequest{Node: deviceNode, Queue: "q", Tasks: wireTasks("user:1", "a", "b")}
	st, _, first := postTasks(t, url, "", req)
	if st != 200 {
		t.Fatalf("status %d: %s", st, first)
	}
	last1, _ := l.Last()
	if last1 != 4 {
		t.Fatalf("log at %d after a batch of 2 tasks, want 4 (a result and an answer each)", last1)
	}
	st, _, again := postTasks(t, url, "", req)
	if st != 200 || !bytes.Equal(first, again) {
		t.Fatalf("sent again: %d %s; first answer %s", st, again, first)
	}
	if last, _ := l.Last(); last != last1 {
		t.Fatalf("log grew from %d to %d on a batch sent again", last1, last)
	}
	var a TaskResponse
	json.Unmarshal(first, &a)
	node := l.Node().String()
	if a.Answers[0].Answer != node+"/2" || a.Answers[0].Results[0] != node+"/1" || a.Answers[1].Answer != node+"/4" {
		t.Fatalf("answers %+v: want a answered at %s/2 with result %s/1, b at %s/4", a.Answers, node, node, node)
	}
	// A new server over the same log knows them too; b and c: c is new.
	url2 := serveTasks(t, l, TaskServerOptions{})
	st, _, mixed := postTasks(t, url2, "", TaskRequest{Node: deviceNode, Queue: "q", Tasks: wireTasks("user:1", "b", "c")})
	var m TaskResponse
	json.Unmarshal(mixed, &m)
	if st != 200 || m.Answers[0].Answer != node+"/4" || m.Answers[1].Answer != node+"/6" {
		t.Fatalf("mixed batch: %d %s", st, mixed)
	}
	if last, _ := l.Last(); last != 6 {
		t.Fatalf("log at %d, want 6: only c appended", last)
	}
	// Another device may use the same ids.
	other := strings.Repeat("cd", 16)
	st, _, _ = postTasks(t, url2, "", TaskRequest{Node: other, Queue: "q", Tasks: wireTasks("user:1", "a")})
	if last, _ := l.Last(); st != 200 || last != 8 {
		t.Fatalf("another device's task a: status %d, log at %d, want 8", st, last)
	}
}

// TestTaskServerNotApplied: a handler's retryable error or panic in the
// middle of a batch applies nothing of it and answers 503 with Retry-After;
// a permanent failure is an answer; bad requests are refused with 400.
func TestTaskServerNotApplied(t *testing.T) {
	l := openLog(t)
	h := HandlerFunc(func(ctx context.Context, tk Task) (TaskResult, error) {
		switch tk.Kind {
		case "flaky":
			return TaskResult{}, errors.New("database busy")
		case "boom":
			panic("handler bug")
		case "no":
			return TaskResult{Reason: "not allowed"}, nil
		}
		return Accept.HandleTask(ctx, tk)
	})
	url := serveTasks(t, l, TaskServerOptions{Handler: h, RetryAfter: 2 * time.Second})
	for _, kind := range []string{"flaky", "boom"} {
		tk := wireTasks("user:1", "x1", "x2", "x3")
		tk[1].Kind = kind
		st, hdr, body := postTasks(t, url, "", TaskRequest{Node: deviceNode, Queue: "q", Tasks: tk})
		if st != 503 || hdr.Get("Retry-After") != "2" || !bytes.Contains(body, []byte(`x2`)) {
			t.Fatalf("%s: status %d, Retry-After %q, body %s; want 503, 2 and the task named", kind, st, hdr.Get("Retry-After"), body)
		}
		if last, _ := l.Last(); last != 0 {
			t.Fatalf("%s: the log holds %d entries: the batch was applied in part", kind, last)
		}
	}
	tk := wireTasks("user:1", "y1", "y2")
	tk[0].Kind = "no"
	st, _, body := postTasks(t, url, "", TaskRequest{Node: deviceNode, Queue: "q", Tasks: tk})
	var a TaskResponse
	json.Unmarshal(body, &a)
	if st != 200 || a.Answers[0].Outcome != "failed" || a.Answers[0].Reason != "not allowed" || len(a.Answers[0].Results) != 0 || a.Answers[1].Outcome != "succeeded" {
		t.Fatalf("permanent failure: %d %s", st, body)
	}
	for name, req := range map[string]TaskRequest{
		"no node":   {Queue: "q", Tasks: wireTasks("user:1", "z")},
		"no tasks":  {Node: deviceNode, Queue: "q"},
		"six tasks": {Node: deviceNode, Queue: "q", Tasks: wireTasks("user:1", "1", "2", "3", "4", "5", "6")},
		"same id":   {Node: deviceNode, Queue: "q", Tasks: wireTasks("user:1", "z", "z")},
		"bad scope": {Node: deviceNode, Queue: "q", Tasks: wireTasks("no scope here", "z")},
		"no queue":  {Node: deviceNode, Tasks: wireTasks("user:1", "z")},
		"bad json":  {Node: deviceNode, Queue: "q", Tasks: []WireTask{{ID: "z", Kind: "k"}}},
	} {
		if name == "bad json" {
			continue // json.RawMessage cannot carry invalid JSON through Marshal
		}
		before, _ := l.Last()
		st, _, body := postTasks(t, url, "", req)
		if last, _ := l.Last(); st != 400 || last != before {
			t.Errorf("%s: status %d (%s), log %d -> %d; want 400 and nothing appended", name, st, body, before, last)
		}
	}
}

// TestTaskServerTokens: no token is 401, a task outside the token's scopes
// (or without a scope) is 403, and nothing is appended.
func TestTaskServerTokens(t *testing.T) {
	l := openLog(t)
	store := OpenTokenStore(t.TempDir() + "/tokens.json")
	tok, err := store.Add("phone", []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTasks(t, l, TaskServerOptions{Tokens: store})
	cases := []struct {
		token, scope string
		want         int
	}{{"", "user:1", 401}, {"slc_nope", "user:1", 401}, {tok, "user:2", 403}, {tok, "", 403}, {tok, "user:1", 200}}
	for _, c := range cases {
		st, _, body := postTasks(t, url, c.token, TaskRequest{Node: deviceNode, Queue: "q", Tasks: wireTasks(c.scope, "t-"+c.scope)})
		if st != c.want {
			t.Errorf("token %q scope %q: %d %s, want %d", c.token, c.scope, st, body, c.want)
		}
	}
	if last, _ := l.Last(); last != 2 {
		t.Fatalf("log at %d, want 2 (only the allowed task)", last)
	}
}

// TestTaskStuckQueue: a queue whose handler always fails retryably is
// reported stuck (Stuck, OnStuck, a task.stuck entry) while another queue
// goes on; RetryNow clears the report (a task.unstuck entry).
func TestTaskStuckQueue(t *testing.T) {
	var calls atomic.Int64
	h := failQueue("bad", &calls)
	stuck := make(chan StuckQueue, 1)
	r := newTaskRig(t, h, SenderOptions{StuckAttempts: 3, OnStuck: func(q StuckQueue) { stuck <- q }})
	addTask(t, r.device, "b1", "bad", "k", `{}`)
	addTask(t, r.device, "b2", "bad", "k", `{}`)
	select {
	case q := <-stuck:
		if q.Queue != "bad" || q.Task != "b1" || q.Attempts != 3 || !strings.Contains(q.Error, "always busy") {
			t.Fatalf("stuck report %+v", q)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bad queue was not reported stuck")
	}
	for i := range 6 {
		addTask(t, r.device, fmt.Sprintf("g%d", i), "good", "k", `{}`)
	}
	es := waitLog(t, r.device, 20*time.Second, "the good queue's answers", func(es []log.Entry) bool {
		return len(answersFor(t, es, r.device.Node())) == 6
	})
	if s := r.sender.Stuck(); len(s) != 1 || s[0].Queue != "bad" {
		t.Fatalf("Stuck() = %+v, want the bad queue", s)
	}
	var stuckEntries int
	for _, e := range es {
		if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.stuck" {
			stuckEntries++
		}
	}
	if stuckEntries != 1 {
		t.Fatalf("%d task.stuck entries, want 1", stuckEntries)
	}
	// The bad queue is sent again every few ms (backoff up to 20 ms), so
	// RetryNow may find b1 in flight: then it says so, and a user tries
	// again; and b1 may be stuck again soon after, so the clearing is
	// checked in the log (task.unstuck), not by Stuck().
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		err := r.sender.RetryNow(context.Background(), "b1")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrInFlight) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	waitLog(t, r.device, 20*time.Second, "the task.unstuck of b1", func(es []log.Entry) bool {
		for _, e := range es {
			if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.unstuck" && rt.ID == "b1" {
				return true
			}
		}
		return false
	})
	if _, ok := answersFor(t, entries(t, r.server), r.device.Node())["b1"]; ok {
		t.Fatal("the server answered a task its handler refused")
	}
}

// failQueue is a handler that fails every task of queue retryably
// ("always busy"), counting them in calls, and accepts the others.
func failQueue(queue string, calls *atomic.Int64) Handler {
	return HandlerFunc(func(ctx context.Context, tk Task) (TaskResult, error) {
		if tk.Queue == queue {
			calls.Add(1)
			return TaskResult{}, errors.New("always busy")
		}
		return Accept.HandleTask(ctx, tk)
	})
}

// TestTaskCancel: a task in flight cannot be cancelled; one not yet sent
// can, and never reaches the server.
func TestTaskCancel(t *testing.T) {
	entered := make(chan string, 4)
	release := make(chan struct{})
	h := HandlerFunc(func(ctx context.Context, tk Task) (TaskResult, error) {
		if tk.Kind == "slow" {
			entered <- tk.ID
			<-release
		}
		return Accept.HandleTask(ctx, tk)
	})
	r := newTaskRig(t, h, SenderOptions{BatchSize: 1})
	addTask(t, r.device, "s1", "q", "slow", `{}`)
	if id := <-entered; id != "s1" {
		t.Fatalf("handler entered %s", id)
	}
	addTask(t, r.device, "s2", "q", "k", `{}`)
	// The sender must have read s2 for Cancel to know it: Cancel catches up.
	err := r.sender.Cancel(context.Background(), "s1")
	if !errors.Is(err, ErrInFlight) || !strings.Contains(err.Error(), "may have applied") {
		t.Fatalf("cancel of a task in flight: %v", err)
	}
	if err := r.sender.Cancel(context.Background(), "s2"); err != nil {
		t.Fatalf("cancel of a task not sent: %v", err)
	}
	if err := r.sender.Cancel(context.Background(), "s2"); !errors.Is(err, ErrTaskDone) {
		t.Fatalf("cancel again: %v", err)
	}
	if err := r.sender.Cancel(context.Background(), "nope"); !errors.Is(err, ErrNoTask) {
		t.Fatalf("cancel of an unknown task: %v", err)
	}
	close(release)
	addTask(t, r.device, "s3", "q", "k", `{}`)
	es := waitLog(t, r.device, 20*time.Second, "answers to s1 and s3", func(es []log.Entry) bool {
		return len(answersFor(t, es, r.device.Node())) == 2
	})
	ans := answersFor(t, es, r.device.Node())
	if _, ok := ans["s2"]; ok {
		t.Fatal("the cancelled task was answered")
	}
	if _, ok := answersFor(t, entries(t, r.server), r.device.Node())["s2"]; ok {
		t.Fatal("the cancelled task reached the server")
	}
}

// TestTaskOutageReleased: queues backed off while the server was out of
// reach (requests cut with no answer) are sent again as soon as one
// request is answered, not after their backoff (here up to an hour).
func TestTaskOutageReleased(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	cut := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if down.Load() && req.URL.Path == "/v1/tasks" {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close() // no answer at all
				}
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	r := newTaskRigFront(t, Accept, SenderOptions{Backoff: [2]time.Duration{time.Hour, time.Hour}}, cut)
	addTask(t, r.device, "a1", "qa", "k", `{}`)
	addTask(t, r.device, "b1", "qb", "k", `{}`)
	waitLog(t, r.device, 20*time.Second, "a failed request of each queue", func(es []log.Entry) bool {
		failed := map[string]bool{}
		for _, e := range es {
			if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.retry" {
				for _, id := range rt.IDs {
					failed[id] = true
				}
			}
		}
		return failed["a1"] && failed["b1"]
	})
	down.Store(false)
	if err := r.sender.RetryNow(context.Background(), "a1"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r.device, 20*time.Second, "both answers (b1 without waiting out its backoff)", func(es []log.Entry) bool {
		a := answersFor(t, es, r.device.Node())
		return a["a1"].Outcome == "succeeded" && a["b1"].Outcome == "succeeded"
	})
}

// TestTaskBookkeepingDurable: on a device log with durability none, the
// task.send entry is on disk before its request reaches the server, and a
// cancel is on disk when Cancel returns (a crash losing either could let
// the server apply a task the device believes cancelled).
func TestTaskBookkeepingDurable(t *testing.T) {
	var r *taskRig
	undurable := make(chan string, 10)
	h := HandlerFunc(func(ctx context.Context, tk Task) (TaskResult, error) {
		if last, _ := r.device.Last(); r.device.Mark() < last {
			undurable <- fmt.Sprintf("task %s reached the server with the device's log at seq %d, durable to %d", tk.ID, last, r.device.Mark())
		}
		return Accept.HandleTask(ctx, tk)
	})
	ready := make(chan struct{})
	r = newTaskRigFront(t, h, SenderOptions{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			<-ready // r is set
			next.ServeHTTP(w, req)
		})
	})
	close(ready)
	addTask(t, r.device, "s1", "q", "k", `{}`)
	waitLog(t, r.device, 20*time.Second, "the answer of s1", func(es []log.Entry) bool {
		return answersFor(t, es, r.device.Node())["s1"].Outcome == "succeeded"
	})
	select {
	case msg := <-undurable:
		t.Fatal(msg)
	default:
	}
	r.stop() // no sends: c1 stays unsent
	var err error
	if r.sender, err = NewSender(r.device, SenderOptions{Server: Peer{URL: r.url}}); err != nil {
		t.Fatal(err)
	}
	addTask(t, r.device, "c1", "q", "k", `{}`)
	if err := r.sender.Cancel(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if last, _ := r.device.Last(); r.device.Mark() < last {
		t.Fatalf("Cancel returned with the log at seq %d durable to %d only", last, r.device.Mark())
	}
}
