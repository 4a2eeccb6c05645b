package lattice_test

import (
	"encoding/json"
	"fmt"

	"github.com/sluicedb/sluice/view/lattice"
)

// Building a delta in Go: its JSON is the payload to append.
func ExampleDelta() {
	topic, _ := lattice.NewRegister(2, "Lunch plans")
	tags, _ := lattice.NewSet("food", "friday", "food")
	d := &lattice.Delta{
		Namespace: "chat.rooms",
		Shared:    lattice.Dict{"room3": {"topic_register": topic, "tags_set": tags, "last_message_counter": lattice.Counter(1)}},
		Private:   map[string]lattice.Dict{"7777": {"room3": {"last_seen_counter": lattice.Counter(1)}}},
	}
	payload, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(payload))

	// A field whose name has no known suffix is refused.
	d.Shared["room3"]["topic"] = topic
	_, err = json.Marshal(d)
	fmt.Println(err)
	// Output:
	// {"namespace":"chat.rooms","private":{"7777":{"room3":{"last_seen_counter":1}}},"shared":{"room3":{"last_message_counter":1,"tags_set":["food","friday"],"topic_register":[2,"Lunch plans"]}},"sluice":"lattice"}
	// json: error calling MarshalJSON for type *lattice.Delta: lattice delta in namespace "chat.rooms": shared key "room3" field "topic": unknown suffix: a field name must end in _counter, _set or _register
}

// Registers: the higher version wins; equal versions are decided by the
// bytes of the canonical value, the same on every node.
func ExampleMergeRegister() {
	a, _ := lattice.NewRegister(3, "tea")
	b, _ := lattice.NewRegister(2, "water")
	c, _ := lattice.NewRegister(3, "coffee")
	for _, r := range []lattice.Register{lattice.MergeRegister(a, b), lattice.MergeRegister(a, c), lattice.MergeRegister(c, a)} {
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
	// Output:
	// [3,"tea"]
	// [3,"tea"]
	// [3,"tea"]
}
