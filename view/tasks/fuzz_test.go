package tasks

import (
	"errors"
	"testing"
)

// FuzzParse: Parse never panics; what it accepts has the fields its kind
// needs, and encodes to a payload that parses to the same kind and id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"sluice":"task","id":"a","queue":"q","kind":"k","payload":{"x":1}}`,
		`{"sluice":"task.answer","node":"0123456789abcdef0123456789abcdef","id":"a","outcome":"failed","reason":"no","results":0}`,
		`{"sluice":"task.result","task":{"node":"00","id":"a"},"payload":null}`,
		`{"sluice":"task.send","ids":["a","b"],"attempt":2}`,
		`{"sluice":"task.cancel"}`,
		`{"type":"post"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if errors.Is(err, ErrNotTask) || err != nil {
			return
		}
		if e.Kind == KindTask && (e.ID == "" || e.Queue == "" || e.Type == "") {
			t.Fatalf("accepted a task without id, queue or kind: %q", b)
		}
		again, err := Parse(e.Marshal())
		if err != nil || again.Kind != e.Kind || again.ID != e.ID {
			t.Fatalf("%q parses to %+v, which encodes to something else: %+v, %v", b, e, again, err)
		}
	})
}
