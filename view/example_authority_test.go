package view_test

import (
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// A Go view showing tasks' effects reads what each entry means with
// ParseTask and writes rows under the rule of Overrides.
func ExampleParseTask() {
	me := log.NodeID{0xaa}
	task := log.Entry{Seq: 7, Origin: log.Local, ID: log.ID{Node: me, Seq: 7},
		Payload: []byte(`{"sluice":"task","id":"r1","queue":"reactions","kind":"reaction.add","payload":{"emoji":"👍"}}`)}
	ef, _ := view.ParseTask(task)
	fmt.Println(ef.Op == view.OpOptimistic, ef.Kind, string(ef.Payload), ef.Authority)

	result := log.Entry{Seq: 9, Origin: log.Remote,
		Payload: []byte(`{"sluice":"task.result","task":{"node":"aa000000000000000000000000000000","id":"r1","kind":"reaction.add"},"payload":{"emoji":"👍"}}`)}
	res, _ := view.ParseTask(result)
	fmt.Println(res.Op == view.OpResult, res.Task == ef.Task, res.Authority)

	// The result's row replaces the optimistic one; a later optimistic
	// write does not replace the authoritative row.
	fmt.Println(view.Overrides(res.Authority, 9, ef.Authority, 7), view.Overrides(view.Optimistic, 12, view.Authoritative, 9))

	_, ok := view.ParseTask(log.Entry{Payload: []byte(`{"text":"not a task"}`)})
	fmt.Println(ok)
	// Output:
	// true reaction.add {"emoji":"👍"} 0
	// true true 1
	// true false
	// false
}
