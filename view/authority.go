package view

import (
	"bytes"
	"encoding/json"

	"github.com/sluicedb/sluice/log"
)

// Authority is how sure a row of a view is: a device's own task makes
// optimistic rows at once; the server's result for the task makes
// authoritative ones (seed 000's AUTHORITY column).
type Authority int

// Authority levels, lowest first.
const (
	Optimistic    Authority = 0
	Authoritative Authority = 1
)

// Overrides reports whether a row written with authority a by the entry at
// seq replaces a row written with authority old by the entry at oldSeq: a
// higher authority always wins, a lower one never does, and at the same
// authority the higher seq wins. Applying writes under this rule gives the
// same row whatever order they come in, so a view using it may accept
// local entries ahead. In SQL:
//
//	ON CONFLICT (...) DO UPDATE SET ..., authority = excluded.authority, seq = excluded.seq
//	WHERE excluded.authority > t.authority OR (excluded.authority = t.authority AND excluded.seq > t.seq)
func Overrides(a Authority, seq log.Seq, old Authority, oldSeq log.Seq) bool {
	return a > old || (a == old && seq > oldSeq)
}

// TaskOp is what a task entry does to the rows of a view that shows
// tasks' effects.
type TaskOp int

// The task ops.
const (
	// NoTaskOp: the entry is not about a task's rows.
	NoTaskOp TaskOp = iota
	// OpOptimistic: a task this device appended (a local "task" entry):
	// show its effect at once, with authority Optimistic, tagged with the
	// task.
	OpOptimistic
	// OpResult: the server's result for a task (a "task.result" entry):
	// write its effect with authority Authoritative.
	OpResult
	// OpRollback: the task is settled — it failed for good or succeeded
	// (a "task.answer" entry; a success comes after its results) or was
	// cancelled (a "task.cancel" entry): remove the optimistic rows still
	// tagged with it. Authoritative rows stay: the server's entries tell
	// the authoritative state. A cancel may be applied before its task (a
	// local entry applied ahead): the task's optimistic rows must then not
	// be written at all.
	OpRollback
)

// TaskEffect is what a task entry means for a view's rows (see ParseTask).
type TaskEffect struct {
	Op TaskOp
	// Task identifies the task everywhere: the device's node (32 hex
	// digits), "/", the task's id (ids are unique per device only).
	Task string
	// Node is the device that appended the task; ID its id there.
	Node, ID string
	// Kind and Queue of the task. A cancel entry may not name them: Kind
	// is then "" (a rollback of every kind).
	Kind, Queue string
	// Authority of the rows the entry writes: Optimistic for OpOptimistic
	// (and OpRollback, which removes optimistic rows), Authoritative for
	// OpResult.
	Authority Authority
	// Payload is the task's payload (OpOptimistic) or the result's
	// (OpResult); nil if the entry has none.
	Payload json.RawMessage
	// Outcome, for OpRollback: "succeeded", "failed" or "cancelled".
	Outcome string
	// Reason is why a task failed.
	Reason string
}

// taskEntry is the part of the task entries (package replicate's wire and
// the tasks view) that ParseTask reads.
type taskEntry struct {
	Sluice  string          `json:"sluice"`
	ID      string          `json:"id"`
	Queue   string          `json:"queue"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
	Node    string          `json:"node"`
	Outcome string          `json:"outcome"`
	Reason  string          `json:"reason"`
	Task    *struct {
		Node  string `json:"node"`
		ID    string `json:"id"`
		Queue string `json:"queue"`
		Kind  string `json:"kind"`
	} `json:"task"`
}

var sluiceField = []byte(`"sluice"`)

// ParseTask returns what entry e means for the rows of a view that shows
// tasks' effects (see TaskOp), and false for an entry that means nothing
// to them: most entries, a task entry another device appended (its effect
// comes with the server's result), a malformed task entry. The entries are JSON objects with a
// top-level "sluice" field:
//
//	{"sluice":"task","id":ID,"queue":Q,"kind":K,"payload":P}              local: OpOptimistic
//	{"sluice":"task.result","task":{"node":N,"id":ID,"queue":Q,"kind":K},"payload":P}   OpResult
//	{"sluice":"task.answer","node":N,"id":ID,"kind":K,"outcome":O,"reason":R}           OpRollback
//	{"sluice":"task.cancel","id":ID[,"queue":Q,"kind":K]}                   OpRollback
//
// A task's node is the node of the device that appended it: for a task or
// cancel entry, the entry's own (e.ID.Node).
func ParseTask(e log.Entry) (TaskEffect, bool) {
	if !bytes.Contains(e.Payload, sluiceField) {
		return TaskEffect{}, false
	}
	var t taskEntry
	if json.Unmarshal(e.Payload, &t) != nil {
		return TaskEffect{}, false
	}
	ef := TaskEffect{ID: t.ID, Kind: t.Kind, Queue: t.Queue, Node: t.Node}
	switch t.Sluice {
	case "task":
		if e.Origin != log.Local {
			return TaskEffect{}, false
		}
		ef.Op, ef.Node, ef.Payload = OpOptimistic, e.ID.Node.String(), t.Payload
	case "task.result":
		if t.Task == nil {
			return TaskEffect{}, false
		}
		ef = TaskEffect{Op: OpResult, Node: t.Task.Node, ID: t.Task.ID, Kind: t.Task.Kind, Queue: t.Task.Queue,
			Authority: Authoritative, Payload: t.Payload}
	case "task.answer":
		if t.Outcome != "failed" && t.Outcome != "succeeded" {
			return TaskEffect{}, false
		}
		ef.Op, ef.Outcome, ef.Reason = OpRollback, t.Outcome, t.Reason
	case "task.cancel":
		ef.Op, ef.Node, ef.Outcome = OpRollback, e.ID.Node.String(), "cancelled"
	default:
		return TaskEffect{}, false
	}
	if ef.ID == "" || ef.Node == "" || (ef.Op != OpRollback && ef.Kind == "") {
		return TaskEffect{}, false
	}
	if len(ef.Payload) == 0 || string(ef.Payload) == "null" {
		ef.Payload = nil
	}
	ef.Task = ef.Node + "/" + ef.ID
	return ef, true
}
