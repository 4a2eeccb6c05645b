package replicate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzTaskRequest feeds arbitrary bodies to the POST /v1/tasks decoder and
// checks it against encoding/json's Decoder with DisallowUnknownFields
// (what the server used before): whatever it accepts, the Decoder accepts
// too and decodes alike (it may refuse more: names spelt in another case,
// data after the object); a task it reports too large is the one the
// Decoder finds at that place, with a payload that large. It never panics.
func FuzzTaskRequest(f *testing.F) {
	// Seeds besides testdata/fuzz/FuzzTaskRequest.
	for _, s := range []string{
		`{"node":"abababababababababababababababab","queue":"q","tasks":[{"id":"t1","kind":"k","seq":1,"scope":"user:1","payload":{"a":[1,2]}}]}`,
		`{"node":"ab","queue":"q","server":"cd","tasks":[{"id":"a","kind":"k","payload":"` + string(bytes.Repeat([]byte("x"), 40)) + `"},{"id":"b","kind":"k"}]}`,
		`{"node":"ab","tasks":[{"id":"a","nope":1}]}`,
		`{"Node":"ab","tasks":null}`,
		`[]`, `null`, `{"tasks":[1]}`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxPayload = 32
		got, big, err := decodeTaskRequest(body, maxPayload)
		var want TaskRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		werr := dec.Decode(&want)
		switch {
		case err != nil:
			return // refusing more than the Decoder is allowed
		case werr != nil:
			t.Fatalf("accepted a body the Decoder refuses (%v): %q", werr, body)
		case big != nil:
			i := -1
			for j, w := range want.Tasks {
				if len(w.Payload) > maxPayload {
					i = j
					break
				}
			}
			if i < 0 || want.Tasks[i].ID != big.id || len(want.Tasks[i].Payload) != big.size {
				t.Fatalf("reported task %q (%d bytes) too large; the Decoder's tasks: %+v", big.id, big.size, want.Tasks)
			}
		case !reflect.DeepEqual(got, want):
			t.Fatalf("decoded %+v, the Decoder %+v, from %q", got, want, body)
		}
	})
}
