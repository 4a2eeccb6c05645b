package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// The defects a first user of tasks over sync found (reproduced first by
// shell scripts, now by these tests and cmd/sluice's task_peer_test.go): a token pre-empting another's tasks by naming its
// device's node, tasks sent to a replaced server, and refusals for good
// (403, 413) retried forever.

// TestTaskForgedNodeCannotPreempt: a token posting under another device's
// node id, with the task id that device will use, neither pre-empts nor
// answers that device's task: the server dedups per (token, node, id).
// Each token's tasks stay deduplicated, also after a restart.
func TestTaskForgedNodeCannotPreempt(t *testing.T) {
	l := openLog(t)
	store := OpenTokenStore(t.TempDir() + "/tokens.json")
	victim, err := store.Add("victim", []string{"user:7777"})
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := store.Add("mallory", []string{"user:8888"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(url, token, scope, v string) TaskAnswer {
		t.Helper()
		req := TaskRequest{Node: deviceNode, Queue: "q", Tasks: []WireTask{{ID: "t1", Kind: "k", Seq: 1, Scope: scope, Payload: json.RawMessage(`{"v":"` + v + `"}`)}}}
		st, _, body := postTasks(t, url, token, req)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", v, st, body)
		}
		var tr TaskResponse
		if err := json.Unmarshal(body, &tr); err != nil || len(tr.Answers) != 1 {
			t.Fatalf("%s: %s: %v", v, body, err)
		}
		return tr.Answers[0]
	}
	ts, err := NewTaskServer(l, TaskServerOptions{Tokens: store})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, ts)
	evil := post(url, mallory, "user:8888", "evil")
	mine := post(url, victim, "user:7777", "mine")
	if mine.Answer == evil.Answer {
		t.Fatalf("the victim's t1 got the forger's answer %s", evil.Answer)
	}
	ts.Close()

	// The log, decoded here: each token's t1 applied once, with its own
	// payload, scope and token name on the answer.
	check := func() {
		t.Helper()
		got := map[string]string{}
		for _, e := range entries(t, l) {
			var r struct {
				Kind    string `json:"sluice"`
				ID      string `json:"id"`
				Node    string `json:"node"`
				Token   string `json:"token"`
				Payload struct{ V string }
			}
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				t.Fatal(err)
			}
			switch r.Kind {
			case "task.result":
				got["result "+r.Payload.V] += e.Scope
			case "task.answer":
				if r.Node != deviceNode || r.ID != "t1" {
					t.Errorf("answer %+v", r)
				}
				got["answer "+r.Token] += e.Scope
			}
		}
		want := map[string]string{"result evil": "user:8888", "answer mallory": "user:8888", "result mine": "user:7777", "answer victim": "user:7777"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("server log: %v, want %v", got, want)
		}
	}
	check()

	// Restarted, the server still knows which answer is whose.
	url = serveTasks(t, l, TaskServerOptions{Tokens: store})
	if again := post(url, victim, "user:7777", "mine again"); again.Answer != mine.Answer {
		t.Errorf("the victim's t1 sent again: answer %s, want %s", again.Answer, mine.Answer)
	}
	if again := post(url, mallory, "user:8888", "evil again"); again.Answer != evil.Answer {
		t.Errorf("the forger's t1 sent again: answer %s, want %s", again.Answer, evil.Answer)
	}
	check()
}

// TestTaskServerLegacyAnswers: an answer written before answers named their
// token still dedups its task for whatever token sends it again.
func TestTaskServerLegacyAnswers(t *testing.T) {
	l := openLog(t)
	old := fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":"t1","queue":"q","kind":"k","seq":1,"outcome":"succeeded"}`, deviceNode)
	if _, err := l.Append(context.Background(), log.Record{Origin: log.Local, Scope: "user:1", Payload: []byte(old)}); err != nil {
		t.Fatal(err)
	}
	store := OpenTokenStore(t.TempDir() + "/tokens.json")
	tok, err := store.Add("phone", []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTasks(t, l, TaskServerOptions{Tokens: store})
	st, _, body := postTasks(t, url, tok, TaskRequest{Node: deviceNode, Queue: "q", Tasks: wireTasks("user:1", "t1")})
	if st != http.StatusOK || !strings.Contains(string(body), `"answer":"`+l.Node().String()+`/1"`) {
		t.Fatalf("%d %s, want the old answer at seq 1", st, body)
	}
	if last, _ := l.Last(); last != 1 {
		t.Fatalf("log at %d: the task was applied again", last)
	}
}

// TestTaskReplacedServer: a sender held to a server node (the one its
// pull recorded) sends nothing that another node applies: the server
// answers 409 node_mismatch, the queue is reported stuck at once with
// that error, and the task, never applied, can be cancelled.
func TestTaskReplacedServer(t *testing.T) {
	type report struct {
		q   StuckQueue
		err error
	}
	stuck := make(chan report, 1)
	recorded := log.NodeID{1, 2, 3}
	var r *taskRig
	// Cancelled from OnStuck: the request was answered and released, and
	// the next one waits out a backoff of up to a minute.
	r = newTaskRig(t, nil, SenderOptions{ServerNode: recorded, StuckAttempts: 1000, Backoff: [2]time.Duration{time.Minute, time.Minute},
		OnStuck: func(q StuckQueue) { stuck <- report{q, r.sender.Cancel(context.Background(), q.Task)} }})
	addTask(t, r.device, "t1", "q", "k", `{}`)
	select {
	case rep := <-stuck:
		if q := rep.q; q.Task != "t1" || !strings.Contains(q.Error, "409") || !strings.Contains(q.Error, "replaced") {
			t.Errorf("stuck: %+v, want t1 with a 409 node_mismatch", q)
		}
		if rep.err != nil {
			t.Errorf("cancel a task the replaced server refused: %v", rep.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the queue was not reported stuck")
	}
	r.stop()
	for _, e := range entries(t, r.server) {
		if rt, ok := decodeTask(t, e); ok {
			t.Errorf("the replaced server appended %s for %s", rt.Kind, rt.ID)
		}
	}
}

// TestTaskSenderPinsServer: a sender that knew no server node takes the
// one of the first answer and holds later requests to it: another server
// at that URL refuses them and applies nothing.
func TestTaskSenderPinsServer(t *testing.T) {
	first, second, device := openLog(t), openLog(t), openLog(t)
	var ts [2]*TaskServer
	for i, l := range []*log.Log{first, second} {
		var err error
		if ts[i], err = NewTaskServer(l, TaskServerOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ts[i].Close() })
	}
	var current atomic.Pointer[TaskServer]
	current.Store(ts[0])
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
	s, err := NewSender(device, SenderOptions{Server: Peer{URL: url}, Backoff: [2]time.Duration{time.Hour, time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	addTask(t, device, "t1", "q", "k", `{}`)
	if left, err := s.SendPending(context.Background()); left != 0 || err != nil {
		t.Fatalf("send to the first server: %d left, %v", left, err)
	}
	current.Store(ts[1]) // the log at the URL replaced
	addTask(t, device, "t2", "q", "k", `{}`)
	if left, err := s.SendPending(context.Background()); left != 1 || err != nil {
		t.Fatalf("send to the second server: %d left, %v", left, err)
	}
	if st := s.Stuck(); len(st) != 1 || !strings.Contains(st[0].Error, "node_mismatch") && !strings.Contains(st[0].Error, "replaced") {
		t.Errorf("stuck: %+v, want q with the 409", st)
	}
	for _, e := range entries(t, second) {
		if rt, ok := decodeTask(t, e); ok {
			t.Errorf("the second server appended %s for %s", rt.Kind, rt.ID)
		}
	}
}

// refusedRig is a server with one token (scope user:7777) and a device
// sending with it; the device's log holds tasks before the sender starts.
func refusedRig(t *testing.T, opts TaskServerOptions, tasks func(device *log.Log)) (server, device *log.Log, sender *Sender) {
	t.Helper()
	server, device = openLog(t), openLog(t)
	store := OpenTokenStore(t.TempDir() + "/tokens.json")
	tok, err := store.Add("phone", []string{"user:7777"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Tokens = store
	ts, err := NewTaskServer(server, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	srv, err := NewServer(server, ServerOptions{Tokens: store, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	mux.Handle("/v1/tasks", ts)
	mux.Handle("/", srv)
	peer := Peer{URL: serve(t, mux), Token: tok}
	tasks(device)
	sender, err = NewSender(device, SenderOptions{Server: peer, Backoff: [2]time.Duration{time.Millisecond, 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, device, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() {
		if err := sender.Run(ctx); err != nil {
			t.Errorf("sender: %v", err)
		}
		done <- struct{}{}
	}()
	go func() { c.Follow(ctx, peer, nil); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return server, device, sender
}

// scopedTask appends a task entry with a scope to l.
func scopedTask(t *testing.T, l *log.Log, id, scope, payload string) {
	t.Helper()
	p := fmt.Sprintf(`{"sluice":"task","id":%q,"queue":"q","kind":"k","payload":%s}`, id, payload)
	if _, err := l.Append(context.Background(), log.Record{Origin: log.Local, Scope: scope, Payload: []byte(p)}); err != nil {
		t.Fatal(err)
	}
}

// TestTaskRefusedForGood: a task the server refuses for good — 403, its
// scope is not the token's; 413, its payload is over the server's record
// limit — fails on the device with the server's reason (an answer entry
// the device writes itself: the server wrote none), and the tasks around
// it in the queue and the batch go on, in order, once each.
func TestTaskRefusedForGood(t *testing.T) {
	for _, c := range []struct {
		name, scope, payload, want string
	}{
		{"forbidden scope", "user:8888", `{}`, "403"},
		{"no scope", "", `{}`, "403"},
		{"too large", "user:7777", `{"pad":"` + strings.Repeat("x", 2000) + `"}`, "413"},
	} {
		t.Run(c.name, func(t *testing.T) {
			server, device, sender := refusedRig(t, TaskServerOptions{MaxRecordSize: 1000}, func(d *log.Log) {
				scopedTask(t, d, "a", "user:7777", `{}`)
				scopedTask(t, d, "bad", c.scope, c.payload) // in the same batch as a and b
				scopedTask(t, d, "b", "user:7777", `{}`)
			})
			es := waitLog(t, device, 20*time.Second, "three answers", func(es []log.Entry) bool {
				return len(answersFor(t, es, device.Node())) == 3
			})
			ans := answersFor(t, es, device.Node())
			if a := ans["bad"]; a.Outcome != "failed" || !strings.Contains(a.Reason, c.want) {
				t.Errorf("bad: %+v, want failed with %s", a, c.want)
			}
			for _, e := range es {
				if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.answer" && rt.ID == "bad" && (e.Origin != log.Local || e.ID.Node != device.Node()) {
					t.Errorf("the answer to bad is %v from %s, want the device's own", e.Origin, e.ID.Node)
				}
			}
			var order []string
			for _, e := range entries(t, server) {
				if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.answer" {
					order = append(order, rt.ID+"="+rt.Outcome)
				}
			}
			if got := strings.Join(order, ","); got != "a=succeeded,b=succeeded" {
				t.Errorf("server answered %s, want a=succeeded,b=succeeded", got)
			}
			if n, err := sender.Pending(); n != 0 || err != nil || len(sender.Stuck()) != 0 {
				t.Errorf("sender: %d pending (%v), stuck %v", n, err, sender.Stuck())
			}
		})
	}
}

// TestTaskResultTooLarge: a handler result over the server's record limit
// fails its task (a permanent answer naming the limit) instead of failing
// the whole group's Append, retryably, forever.
func TestTaskResultTooLarge(t *testing.T) {
	l := openLog(t)
	big := HandlerFunc(func(ctx context.Context, t Task) (TaskResult, error) {
		return TaskResult{Records: []log.Record{{Payload: []byte(`"` + strings.Repeat("x", 5000) + `"`)}}}, nil
	})
	url := serveTasks(t, l, TaskServerOptions{Handler: big, MaxRecordSize: 1000})
	st, _, body := postTasks(t, url, "", TaskRequest{Node: deviceNode, Queue: "q", Tasks: wireTasks("", "t1")})
	var tr TaskResponse
	if st != http.StatusOK || json.Unmarshal(body, &tr) != nil || len(tr.Answers) != 1 {
		t.Fatalf("%d %s", st, body)
	}
	if a := tr.Answers[0]; a.Outcome != "failed" || !strings.Contains(a.Reason, "1000") || len(a.Results) != 0 {
		t.Fatalf("answer %+v, want failed naming the limit 1000", a)
	}
}

// TestTaskSenderOtherNodeAnswered: a server that does not check the node a
// request names (not one of ours) answers as another node than the one the
// sender is pinned to: the queue is reported stuck at once, not after the
// usual attempts. (Before: the stuck flag of that error was ignored.)
func TestTaskSenderOtherNodeAnswered(t *testing.T) {
	other, device := openLog(t), openLog(t)
	ts, err := NewTaskServer(other, TaskServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A server that ignores the node asked for: pass the request on without it.
		var req TaskRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
			return
		}
		req.Server = ""
		b, _ := json.Marshal(req)
		r2 := r.Clone(r.Context())
		r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		ts.ServeHTTP(w, r2)
	}))
	pinned := log.NodeID{1, 2, 3}
	s, err := NewSender(device, SenderOptions{Server: Peer{URL: url}, ServerNode: pinned, StuckAttempts: 100,
		Backoff: [2]time.Duration{time.Hour, time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	addTask(t, device, "t1", "q", "k", `{}`)
	if left, err := s.SendPending(context.Background()); left != 1 || err != nil {
		t.Fatalf("send: %d left, %v", left, err)
	}
	if st := s.Stuck(); len(st) != 1 || !strings.Contains(st[0].Error, "answered as node") {
		t.Errorf("stuck: %+v, want q, answered as another node", st)
	}
}
