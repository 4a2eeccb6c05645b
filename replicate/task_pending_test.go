package replicate

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// TestSendPending: a one-shot send drains every queue the server accepts,
// in order and in batches, and returns without waiting for the backoff of
// a queue whose request failed; what is left is the failed queue's tasks.
func TestSendPending(t *testing.T) {
	var badCalls atomic.Int64
	h := failQueue("bad", &badCalls)
	server, device := openLog(t), openLog(t)
	url := serveTasks(t, server, TaskServerOptions{Handler: h})
	var want []string
	for i := range 7 {
		want = append(want, fmt.Sprintf("g%d", i))
		addTask(t, device, want[i], "good", "k", `{}`)
		if i < 2 {
			addTask(t, device, fmt.Sprintf("b%d", i), "bad", "k", `{}`)
		}
	}
	// A backoff far longer than the test: waiting for it would time out.
	s, err := NewSender(device, SenderOptions{Server: Peer{URL: url}, Backoff: [2]time.Duration{10 * time.Minute, 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := s.SendPending(ctx)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("SendPending: left %d, err %v, ctx %v", left, err, ctx.Err())
	}
	if left != 2 {
		t.Fatalf("%d tasks left, want 2 (the bad queue's)", left)
	}
	if n := badCalls.Load(); n != 1 {
		t.Fatalf("the bad queue's head was handled %d times, want 1 (one request, then backed off)", n)
	}
	// The server's log, decoded here: the good queue's answers, in order.
	var got []string
	for _, e := range entries(t, server) {
		if rt, ok := decodeTask(t, e); ok && rt.Kind == "task.answer" {
			if rt.Outcome != "succeeded" {
				t.Fatalf("task %s answered %s", rt.ID, rt.Outcome)
			}
			got = append(got, rt.ID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the server answered %v, want %v in order", got, want)
	}
	// The device's log records the sends (two batches of the good queue,
	// one of the bad) and the failure.
	var sends, retries int
	for _, e := range entries(t, device) {
		if rt, ok := decodeTask(t, e); ok && e.Origin == log.Local {
			switch rt.Kind {
			case "task.send":
				sends++
			case "task.retry":
				retries++
			}
		}
	}
	if sends != 3 || retries != 1 {
		t.Fatalf("%d task.send and %d task.retry entries, want 3 and 1", sends, retries)
	}
}
