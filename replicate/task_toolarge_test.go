package replicate

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/tasks"
)

// bigTasks returns n tasks whose payloads are each about size bytes.
func bigTasks(prefix string, n, size int) []WireTask {
	out := make([]WireTask, n)
	for i := range out {
		id := prefix + string(rune('a'+i))
		out[i] = WireTask{ID: id, Kind: "k", Seq: log.Seq(i + 1),
			Payload: json.RawMessage(`{"v":"` + strings.Repeat("x", size) + `"}`)}
	}
	return out
}

// smallBatchServer opens a log whose Append calls take at most 64 KiB, and
// the options of a task server over it: appending plainly, or through
// Indexer.Transact with the handled_tasks view (as sluice serve does).
func smallBatchServer(t *testing.T, transact bool) (*log.Log, TaskServerOptions) {
	t.Helper()
	dir := t.TempDir()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone, MaxRecordSize: 32 << 10, MaxBatchSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	opts := TaskServerOptions{MaxRecordSize: 32 << 10}
	if transact {
		f, err := view.OpenFile(filepath.Join(dir, "handled.db"), []view.View{tasks.Handled{}}, view.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if opts.Indexer, err = index.New(l, []*view.File{f}, index.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return l, opts
}

var appendWays = []struct {
	name     string
	transact bool
}{{"append", false}, {"transact", true}}

// TestTaskRequestTooLargeForOneAppend: a request whose answers cannot fit
// in one atomic Append of the server's log is refused for good (413), not
// answered "retry later" forever, and nothing of it is appended. (Before:
// 503 at every attempt.)
func TestTaskRequestTooLargeForOneAppend(t *testing.T) {
	for _, way := range appendWays {
		t.Run(way.name, func(t *testing.T) {
			l, opts := smallBatchServer(t, way.transact)
			url := serveTasks(t, l, opts)
			st, _, body := postTasks(t, url, "", TaskRequest{Node: deviceNode, Queue: "q", Tasks: bigTasks("t", 3, 30<<10)})
			if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "too_large") {
				t.Fatalf("got %d %s, want 413 too_large", st, body)
			}
			if n := len(entries(t, l)); n != 0 {
				t.Fatalf("the server's log holds %d entries, want none", n)
			}
		})
	}
}

// TestTaskGroupTooLargeSplit: two requests that each fit one Append but not
// together, applied as one group, are applied one after the other: both
// succeed, each task once. (Before: both answered 503, and again whenever
// they met in a group.)
func TestTaskGroupTooLargeSplit(t *testing.T) {
	for _, way := range appendWays {
		t.Run(way.name, func(t *testing.T) { groupTooLargeSplit(t, way.transact) })
	}
}

func groupTooLargeSplit(t *testing.T, transact bool) {
	l, opts := smallBatchServer(t, transact)
	ts, err := NewTaskServer(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	node, err := log.ParseNodeID(deviceNode)
	if err != nil {
		t.Fatal(err)
	}
	var group []*taskCall
	for _, q := range []string{"q1", "q2"} {
		group = append(group, &taskCall{ctx: context.Background(), node: node,
			req:   TaskRequest{Node: deviceNode, Queue: q, Tasks: bigTasks(q, 2, 20<<10)},
			reply: make(chan taskReply, 1)})
	}
	ts.apply(group) // no request was posted: the worker is idle
	for _, c := range group {
		r := <-c.reply
		if r.status != http.StatusOK || len(r.answers) != 2 {
			t.Fatalf("queue %s: %d %s %+v, want 200 with 2 answers", c.req.Queue, r.status, r.message, r.answers)
		}
		for _, a := range r.answers {
			if a.Outcome != "succeeded" {
				t.Fatalf("queue %s: answer %+v, want succeeded", c.req.Queue, a)
			}
		}
	}
	// Read from the log itself: a result and an answer per task, once.
	if got := len(entries(t, l)); got != 8 {
		t.Fatalf("the server's log holds %d entries, want 8 (a result and an answer for each of 4 tasks)", got)
	}
}

func TestBatchLen(t *testing.T) {
	task := func(size int) *sendTask { return &sendTask{payload: make(json.RawMessage, size)} }
	const m = maxBatchPayload
	for _, tc := range []struct {
		name  string
		sizes []int
		max   int
		want  int
	}{
		{"empty", nil, 5, 0},
		{"small, up to max", []int{10, 10, 10, 10, 10, 10}, 5, 5},
		{"fewer than max", []int{10, 10}, 5, 2},
		{"payload limit", []int{m / 2, m / 2, 1}, 5, 2},
		{"over the limit together", []int{m / 2, m/2 + 1}, 5, 1},
		{"one alone over the limit", []int{m + 1, 1}, 5, 1},
	} {
		ts := make([]*sendTask, len(tc.sizes))
		for i, s := range tc.sizes {
			ts[i] = task(s)
		}
		if got := batchLen(ts, tc.max); got != tc.want {
			t.Errorf("%s: batchLen = %d, want %d", tc.name, got, tc.want)
		}
	}
}
