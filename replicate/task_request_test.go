package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// postAlloc posts body to url/v1/tasks and returns the status and the
// bytes the process allocated meanwhile (the server's handling; the
// client's share is a few KiB).
func postAlloc(t *testing.T, url string, body []byte) (int, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.Post(url+"/v1/tasks", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	return resp.StatusCode, after.TotalAlloc - before.TotalAlloc
}

// bigRequest is a request of n tasks, each with a payload of size bytes.
func bigRequest(t *testing.T, queue string, n, size int) []byte {
	t.Helper()
	req := TaskRequest{Node: deviceNode, Queue: queue}
	for i := range n {
		p := fmt.Sprintf(`{"m":"%s"}`, strings.Repeat("x", size-8))
		req.Tasks = append(req.Tasks, WireTask{ID: fmt.Sprint("t", i), Kind: "k", Seq: log.Seq(i + 1), Payload: json.RawMessage(p)})
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTaskRequestMemory: a 20 MiB POST /v1/tasks costs the server a small
// multiple of its size, not the copies a growing json.Decoder buffer adds:
// refused (a payload over the record limit) about the body, applied by a
// handler whose results are small about twice it (the body, the payloads
// copied out of it).
func TestTaskRequestMemory(t *testing.T) {
	l := openLog(t)
	small := HandlerFunc(func(ctx context.Context, t Task) (TaskResult, error) {
		return TaskResult{Records: []log.Record{{Payload: []byte(fmt.Sprintf(`{"size":%d}`, len(t.Payload)))}}}, nil
	})
	url := serveTasks(t, l, TaskServerOptions{Handler: small})
	for _, c := range []struct {
		name   string
		body   []byte
		status int
		max    float64 // allocated / body
	}{
		{"refused", bigRequest(t, "q1", 1, 20<<20), http.StatusRequestEntityTooLarge, 1.5},
		{"applied", bigRequest(t, "q2", 5, 4<<20), http.StatusOK, 2.5},
	} {
		st, alloc := postAlloc(t, url, c.body)
		ratio := float64(alloc) / float64(len(c.body))
		t.Logf("%s: %d bytes posted, %d allocated (%.2f×)", c.name, len(c.body), alloc, ratio)
		if st != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, st, c.status)
		}
		if ratio > c.max {
			t.Errorf("%s: the server allocated %.2f× the body, want at most %.1f×", c.name, ratio, c.max)
		}
	}
}

// TestResultPayloadMemory: the accept handler's result entry for a large
// payload is built in one buffer of its size (json.Marshal compacted the
// payload into a growing buffer and copied it out: about 6 times it), and
// is the JSON of the entry.
func TestResultPayloadMemory(t *testing.T) {
	payload := json.RawMessage(`{"m":"` + strings.Repeat("x", 16<<20-100) + `"}`)
	task := Task{ID: "t1", Queue: "q", Kind: "k"}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out := ResultPayload(task, payload)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; float64(alloc) > 1.1*float64(len(payload)) {
		t.Errorf("ResultPayload of %d bytes allocated %d", len(payload), alloc)
	}
	var got struct {
		Sluice  string `json:"sluice"`
		Task    struct{ ID string }
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(out, &got); err != nil || got.Sluice != "task.result" || got.Task.ID != "t1" || !bytes.Equal(got.Payload, payload) {
		t.Fatalf("result entry %.200s: %v", out, err)
	}
}
