package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/log"
)

// The kinds of entries tasks are made of: the value of their top-level
// "sluice" field. Every entry is a JSON object.
const (
	// KindTask is a task: written on the device, local, with the user's
	// scope. Fields: id, queue, kind, payload.
	KindTask = "task"
	// KindCancel cancels a task not yet sent. Fields: id, queue, kind.
	KindCancel = "task.cancel"
	// KindSend records that the device's sender sent tasks in one request
	// (bookkeeping). Fields: ids, attempt.
	KindSend = "task.send"
	// KindRetry records a retryable answer, or a network failure, for the
	// tasks of one request: they are sent again from next_attempt_at.
	// Fields: ids, error, next_attempt_at (Unix ms), unknown (no answer
	// came: the server may have applied them).
	KindRetry = "task.retry"
	// KindStuck reports that a queue's head task has failed retryably past
	// the sender's limit. Fields: queue, id, error.
	KindStuck = "task.stuck"
	// KindUnstuck clears a stuck report: a retry asked by the user.
	// Fields: queue, id.
	KindUnstuck = "task.unstuck"
	// KindAnswer is the server's answer to a task: written by the server,
	// with the user's scope, and replicated to the user's devices. Fields:
	// node (the device), id, queue, kind, seq (the task's seq on the
	// device), outcome, reason, results (how many result entries of the
	// task come right before the answer, in the same Append), token (the
	// name of the token it was sent with). A device writes one of its own
	// (failed) for a task the server refused for good without applying
	// it (403 for its scope, 413 for its size).
	KindAnswer = "task.answer"
	// KindResult is what the built-in accept handler appends for a task:
	// the task (node, id, queue, kind) and its payload.
	KindResult = "task.result"
)

// Outcomes of a task the server applied.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
)

// MaxIDLen bounds a task id, MaxQueueLen a queue name and MaxKindLen a
// kind, in bytes.
const (
	MaxIDLen    = 128
	MaxQueueLen = 128
	MaxKindLen  = 128
)

// Entry is one task entry, decoded. Which fields are set depends on Kind
// (see the Kind constants).
type Entry struct {
	Kind string `json:"sluice"`

	ID      string          `json:"id,omitempty"`
	Queue   string          `json:"queue,omitempty"`
	Type    string          `json:"kind,omitempty"` // the task's kind (task, answer, result)
	Payload json.RawMessage `json:"payload,omitempty"`

	IDs           []string `json:"ids,omitempty"`
	Attempt       int      `json:"attempt,omitempty"`
	Error         string   `json:"error,omitempty"`
	NextAttemptAt int64    `json:"next_attempt_at,omitempty"`
	// Unknown, on a retry entry, says the request got no answer (a network
	// failure): the server may have applied the tasks.
	Unknown bool `json:"unknown,omitempty"`

	Node    string  `json:"node,omitempty"`
	Seq     log.Seq `json:"seq,omitempty"`
	Outcome string  `json:"outcome,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Results int     `json:"results,omitempty"`
	// Token, on an answer, is the name of the token the task was sent
	// with ("" for a server without tokens): the server dedups tasks per
	// (token, node, id), so that no token can pre-empt another's tasks
	// (see replicate.TaskServer).
	Token string `json:"token,omitempty"`

	// Task is the task a result entry is for.
	Task *Ref `json:"task,omitempty"`
}

// Ref names a task on the server: the device's node and the task's id.
type Ref struct {
	Node  string `json:"node"`
	ID    string `json:"id"`
	Queue string `json:"queue,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

// ErrNotTask is returned by Parse for a payload that is not a task entry
// (no "sluice" field naming a task kind): most entries of a log.
var ErrNotTask = errors.New("not a task entry")

var marker = []byte(`"sluice"`)

// Parse decodes a task entry. It returns ErrNotTask, quickly, for a payload
// that is not one, and an error naming the field for a task entry that is
// malformed.
func Parse(payload []byte) (Entry, error) {
	var e Entry
	if !bytes.Contains(payload, marker) {
		return e, ErrNotTask
	}
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, ErrNotTask
	}
	if e.Kind != KindTask && !strings.HasPrefix(e.Kind, "task.") {
		return e, ErrNotTask
	}
	return e, e.check()
}

// check validates the fields of e's kind.
func (e *Entry) check() error {
	need := func(name, v string, max int) error {
		if v == "" {
			return fmt.Errorf("%s entry: %s is missing", e.Kind, name)
		}
		if len(v) > max {
			return fmt.Errorf("%s entry: %s is %d bytes, limit %d", e.Kind, name, len(v), max)
		}
		return nil
	}
	switch e.Kind {
	case KindTask:
		return errors.Join(need("id", e.ID, MaxIDLen), need("queue", e.Queue, MaxQueueLen), need("kind", e.Type, MaxKindLen))
	case KindCancel:
		return need("id", e.ID, MaxIDLen)
	case KindSend, KindRetry:
		if len(e.IDs) == 0 {
			return fmt.Errorf("%s entry: ids is missing", e.Kind)
		}
	case KindStuck, KindUnstuck:
		return errors.Join(need("queue", e.Queue, MaxQueueLen), need("id", e.ID, MaxIDLen))
	case KindAnswer:
		if e.Outcome != Succeeded && e.Outcome != Failed {
			return fmt.Errorf("task.answer entry: outcome %q, want %q or %q", e.Outcome, Succeeded, Failed)
		}
		if _, err := log.ParseNodeID(e.Node); err != nil {
			return fmt.Errorf("task.answer entry: node: %w", err)
		}
		return need("id", e.ID, MaxIDLen)
	case KindResult:
		if e.Task == nil {
			return errors.New("task.result entry: task is missing")
		}
	default:
		return fmt.Errorf("unknown task entry kind %q", e.Kind)
	}
	return nil
}

// Marshal encodes e as an entry payload.
func (e Entry) Marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("tasks: marshal %s entry: %v", e.Kind, err)) // only RawMessage can fail, and it is checked on the way in
	}
	return b
}
