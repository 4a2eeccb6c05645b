package view_test

import (
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// FuzzParseTask: ParseTask never panics on any payload, and what it
// accepts is consistent: a task key NODE/ID, an id, an optimistic effect
// only for a local entry, authority only for a result, a kind for all but
// a rollback.
func FuzzParseTask(f *testing.F) {
	for _, s := range []string{
		`{"sluice":"task","id":"r1","queue":"q","kind":"reaction.add","payload":{"emoji":"x"}}`,
		`{"sluice":"task.result","task":{"node":"aa","id":"r1","kind":"k"},"payload":null}`,
		`{"sluice":"task.answer","node":"aa","id":"r1","kind":"k","outcome":"failed","reason":"no"}`,
		`{"sluice":"task.cancel","id":"r1"}`,
		`{"sluice":"task.answer","node":"","id":"r1","outcome":"succeeded"}`,
		`{"sluice":7}`,
		`not json "sluice"`,
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, local bool) {
		e := log.Entry{Seq: 3, Payload: payload, ID: log.ID{Node: log.NodeID{1}, Seq: 3}}
		if local {
			e.Origin = log.Local
		}
		ef, ok := view.ParseTask(e)
		if !ok {
			if ef.Op != view.NoTaskOp || ef.Task != "" {
				t.Fatalf("not a task, yet %+v", ef)
			}
			return
		}
		switch {
		case ef.ID == "" || ef.Node == "" || ef.Task != ef.Node+"/"+ef.ID:
			t.Fatalf("task key %q from node %q and id %q", ef.Task, ef.Node, ef.ID)
		case ef.Op == view.OpOptimistic && !local:
			t.Fatal("an optimistic effect from a remote entry")
		case (ef.Authority == view.Authoritative) != (ef.Op == view.OpResult):
			t.Fatalf("authority %d for op %d", ef.Authority, ef.Op)
		case ef.Op != view.OpRollback && ef.Kind == "":
			t.Fatalf("op %d without a kind", ef.Op)
		case ef.Op < view.OpOptimistic || ef.Op > view.OpRollback:
			t.Fatalf("op %d", ef.Op)
		}
	})
}
