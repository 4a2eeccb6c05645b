package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/tasks"
)

// MaxTasksPerRequest is how many tasks of one queue a device sends in one
// POST /v1/tasks, at most.
const MaxTasksPerRequest = 5

// TaskRequest is the body of POST /v1/tasks: tasks of one queue of one
// device, in the device's order.
type TaskRequest struct {
	// Node is the device's node id (32 hex digits): task ids are unique
	// per device.
	Node  string     `json:"node"`
	Queue string     `json:"queue"`
	Tasks []WireTask `json:"tasks"`
	// Server, if set, is the node id the device takes the server to be
	// (the one it pulled from or sent to before): another server answers
	// 409 node_mismatch and applies nothing, as a pull is refused.
	Server string `json:"server,omitempty"`
}

// WireTask is one task of a TaskRequest.
type WireTask struct {
	ID   string  `json:"id"`
	Kind string  `json:"kind"`
	Seq  log.Seq `json:"seq"` // the task entry's seq on the device
	// Scope is the task's scope: its result and answer entries get it.
	Scope   string          `json:"scope,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// TaskResponse is the answer to a POST /v1/tasks the server applied (200):
// one answer per task, in the request's order.
type TaskResponse struct {
	// Server is the server's node id.
	Server  string       `json:"server"`
	Answers []TaskAnswer `json:"answers"`
}

// TaskAnswer is the server's answer to one task.
type TaskAnswer struct {
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // tasks.Succeeded or tasks.Failed
	Reason  string `json:"reason,omitempty"`
	// Answer is the ID (NODE/SEQ) of the answer entry in the server's log;
	// Results the IDs of the task's result entries, which come right
	// before it. Both reach the user's devices through log sync.
	Answer  string   `json:"answer"`
	Results []string `json:"results,omitempty"`
}

// Task is a task as a Handler sees it.
type Task struct {
	Node    log.NodeID // the device
	ID      string
	Queue   string
	Kind    string
	Seq     log.Seq // on the device
	Scope   string
	Payload json.RawMessage
}

// TaskResult is what a Handler made of a task it applied: result entries
// (the task succeeded), or a reason (it failed for good).
type TaskResult struct {
	// Records are appended to the server's log for the task, in order, in
	// the same Append as its answer and every other task of the batch.
	// A record without a scope gets the task's; Origin is set to Local
	// (the server's own entries).
	Records []log.Record
	// Reason, if set, fails the task permanently with this message: the
	// device rolls back what it showed. Records must then be empty.
	Reason string
}

// Handler applies tasks on the server. The TaskServer calls it for one task
// at a time, never concurrently, in the order the tasks of a queue were
// sent. An error (or a panic) means "retry later": the whole batch is then
// not applied (nothing of it is appended) and the device sends it again.
// A handler must therefore have no effect but the records it returns.
type Handler interface {
	HandleTask(ctx context.Context, t Task) (TaskResult, error)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, t Task) (TaskResult, error)

// HandleTask implements Handler.
func (f HandlerFunc) HandleTask(ctx context.Context, t Task) (TaskResult, error) { return f(ctx, t) }

// Accept is the built-in handler: every task succeeds, and its result is
// one entry {"sluice":"task.result","task":{node,id,queue,kind},"payload":…}
// with the task's scope.
var Accept Handler = HandlerFunc(func(ctx context.Context, t Task) (TaskResult, error) {
	return TaskResult{Records: []log.Record{{Payload: ResultPayload(t, t.Payload)}}}, nil
})

// ResultPayload returns the payload of a task.result entry for t holding
// payload, which must be JSON (it panics otherwise, as tasks.Entry.Marshal
// does).
func ResultPayload(t Task, payload json.RawMessage) []byte {
	e := tasks.Entry{Kind: tasks.KindResult, Task: &tasks.Ref{Node: t.Node.String(), ID: t.ID, Queue: t.Queue, Kind: t.Kind}}
	if len(payload) == 0 || !json.Valid(payload) {
		e.Payload = payload
		return e.Marshal()
	}
	// The entry without its payload, then the payload spliced in as it
	// is: one buffer of the final size, where Marshal would compact the
	// payload into a growing buffer and copy it out (3 times a payload
	// of up to 16 MiB).
	head := e.Marshal()
	out := make([]byte, 0, len(head)+len(`,"payload":`)+len(payload))
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"payload":`...)
	out = append(out, payload...)
	return append(out, '}')
}

// check validates a request: a node, a queue, 1 to MaxTasksPerRequest
// tasks with distinct ids, kinds, and JSON payloads.
func (r *TaskRequest) check() (log.NodeID, error) {
	node, err := log.ParseNodeID(r.Node)
	if err != nil {
		return node, fmt.Errorf("node: %w", err)
	}
	if node.IsZero() {
		return node, errors.New("node: the zero node")
	}
	if r.Queue == "" || len(r.Queue) > tasks.MaxQueueLen {
		return node, fmt.Errorf("queue: want 1 to %d bytes, got %d", tasks.MaxQueueLen, len(r.Queue))
	}
	if len(r.Tasks) == 0 || len(r.Tasks) > MaxTasksPerRequest {
		return node, fmt.Errorf("tasks: want 1 to %d, got %d", MaxTasksPerRequest, len(r.Tasks))
	}
	seen := map[string]bool{}
	for i, t := range r.Tasks {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("task %d of %d (%q): %s", i+1, len(r.Tasks), t.ID, fmt.Sprintf(format, args...))
		}
		switch {
		case t.ID == "" || len(t.ID) > tasks.MaxIDLen:
			return node, bad("id: want 1 to %d bytes", tasks.MaxIDLen)
		case seen[t.ID]:
			return node, bad("the id is sent twice")
		case t.Kind == "" || len(t.Kind) > tasks.MaxKindLen:
			return node, bad("kind: want 1 to %d bytes", tasks.MaxKindLen)
		case len(t.Payload) > 0 && !json.Valid(t.Payload):
			return node, bad("payload is not JSON")
		}
		if t.Scope != "" {
			if err := log.CheckScope(t.Scope); err != nil {
				return node, bad("scope: %v", err)
			}
		}
		seen[t.ID] = true
	}
	return node, nil
}
