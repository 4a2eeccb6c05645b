package lattice_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/lattice"
)

// TestParseDelta: valid payloads parse, and their canonical form (written
// out by hand) is what MarshalJSON writes.
func TestParseDelta(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"sluice":"lattice","namespace":"n"}`, `{"namespace":"n","sluice":"lattice"}`},
		{` { "namespace" : "n", "shared": {}, "private": {}, "sluice" : "lattice" } `, `{"namespace":"n","sluice":"lattice"}`},
		{`{"sluice":"l\u0061ttice","namespace":"chat.rooms","shared":{"room1":{"last_message_counter":123}}}`,
			`{"namespace":"chat.rooms","shared":{"room1":{"last_message_counter":123}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":-9223372036854775808,"d_counter":9223372036854775807}}}`,
			`{"namespace":"n","shared":{"k":{"c_counter":-9223372036854775808,"d_counter":9223372036854775807}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"t_set":["b", 10, 9, "b", 2.0, 2, null, true, "\u00e9", "<"]}}}`,
			`{"namespace":"n","shared":{"k":{"t_set":["\u003c","b","é",10,2,9,null,true]}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"e_set":[]}}}`, `{"namespace":"n","shared":{"k":{"e_set":[]}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","private":{"7777":{"k":{"r_register":[ 3 , {"z": 1.0, "a": [1e2, "x"]} ]}}}}`,
			`{"namespace":"n","private":{"7777":{"k":{"r_register":[3,{"a":[100,"x"],"z":1}]}}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":[-1, null], "f_register": [0, 1.25e-3]}}}`,
			`{"namespace":"n","shared":{"k":{"f_register":[0,0.00125],"r_register":[-1,null]}},"sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"empty":{}}}`, `{"namespace":"n","sluice":"lattice"}`},
		{`{"sluice":"lattice","namespace":"n","shared":{"e":{},"k":{"a_counter":1}},"private":{"u":{},"v":{"e":{}}}}`,
			`{"namespace":"n","shared":{"k":{"a_counter":1}},"sluice":"lattice"}`},
	} {
		d, err := lattice.ParseDelta([]byte(tc.in))
		if err != nil {
			t.Errorf("ParseDelta(%s): %v", tc.in, err)
			continue
		}
		got, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("ParseDelta(%s) writes\n  %s\nwant\n  %s", tc.in, got, tc.want)
		}
	}
}

// TestParseDeltaNotDelta: payloads without the marker are not deltas.
func TestParseDeltaNotDelta(t *testing.T) {
	for _, p := range append(notDeltas, ``, `null`, `{}`, `{"sluice":null}`, `{"sluice":["lattice"]}`, `{"namespace":"n","shared":{}}`) {
		_, err := lattice.ParseDelta([]byte(p))
		if !errors.Is(err, lattice.ErrNotDelta) || errors.Is(err, lattice.ErrInvalid) {
			t.Errorf("ParseDelta(%s) = %v, want ErrNotDelta", p, err)
		}
		v, err := lattice.View{}.Decode(log.Entry{Seq: 1, Payload: []byte(p)})
		if v != nil || err != nil {
			t.Errorf("Decode(%s) = %v, %v; want nil, nil (ignored)", p, v, err)
		}
	}
}

// TestParseDeltaInvalid: a malformed delta is an error matching ErrInvalid
// whose message names where the problem is.
func TestParseDeltaInvalid(t *testing.T) {
	cases := []struct{ payload, msg string }{
		{`{"sluice":"lattice"}`, `lattice delta: "namespace" must be a string`},
		{`{"sluice":"lattice","namespace":""}`, `lattice delta: empty namespace`},
		{`{"sluice":"lattice","namespace":7}`, `"namespace" must be a string`},
		{`{"sluice":"lattice","namespace":"n\u0000"}`, `namespace "n\x00" holds a NUL character`},
		{`{"sluice":"lattice","sluice":"lattice","namespace":"n"}`, `member "sluice" given twice`},
		{`{"sluice":"lattice","namespace":"n","shared":[]}`, `lattice delta in namespace "n": keys must be a JSON object: found an array`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":[]}}`, `shared key "k": fields must be a JSON object`},
		{`{"sluice":"lattice","namespace":"n","shared":{"":{"a_counter":1}}}`, `shared key "": empty key`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":1},"k":{}}}`, `shared key "k": key given twice`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"":1}}}`, `shared key "k" field "": empty field name`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"count":1}}}`, `shared key "k" field "count": unknown suffix: a field name must end in _counter, _set or _register`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":"1"}}}`, `field "a_counter": a _counter value must be an integer: "1" is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":1.5}}}`, `1.5 is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":2.0}}}`, `2.0 is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":1e3}}}`, `1e3 is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":9223372036854775808}}}`, `9223372036854775808 is not an integer between -2^63 and 2^63-1`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"a_counter":null}}}`, `null is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"s_set":"a"}}}`, `field "s_set": a _set value must be an array of JSON scalars, not a string`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"s_set":null}}}`, `a _set value must be an array of JSON scalars, not null`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"s_set":["a",[1]]}}}`, `field "s_set": set member 2 is an array: set members are JSON scalars`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"s_set":[1e400]}}}`, `set member 1: number 1e400 is out of range`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":[1]}}}`, `field "r_register": a _register value must be [version, value], not an array of 1 elements`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":[1,2,3]}}}`, `not an array of 3 elements`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":{"version":1}}}}`, `not an object`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":["1","x"]}}}`, `register version: "1" is not an integer`},
		{`{"sluice":"lattice","namespace":"n","shared":{"k":{"r_register":[1,{"a":1e999}]}}}`, `register value: number 1e999 is out of range`},
		{`{"sluice":"lattice","namespace":"n","private":[]}`, `"private" must be a JSON object of users`},
		{`{"sluice":"lattice","namespace":"n","private":{"":{}}}`, `private user "": empty user`},
		{`{"sluice":"lattice","namespace":"n","private":{"u":{},"u":{}}}`, `private user "u": user given twice`},
		{`{"sluice":"lattice","namespace":"n","shared":{"e":{},"e":{}}}`, `shared key "e": key given twice`},
		{`{"sluice":"lattice","namespace":"n","private":{"u":{"k":{"x_counter":1,"y":2}}}}`, `lattice delta in namespace "n": private user "u" key "k" field "y": unknown suffix`},
		{`{"sluice":"lattice","namespace":"n","private":{"u":7}}`, `private user "u": keys must be a JSON object`},
		{`{"sluice":"lattice","namespace":"n","scope":"user:1"}`, `unknown member "scope" (a delta has sluice, namespace, shared and private)`},
	}
	for _, b := range badDeltas {
		cases = append(cases, struct{ payload, msg string }{b.payload, b.msg})
	}
	for _, tc := range cases {
		_, err := lattice.ParseDelta([]byte(tc.payload))
		var fe *lattice.FieldError
		if !errors.Is(err, lattice.ErrInvalid) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseDelta(%s) = %v\nwant a *FieldError matching ErrInvalid containing %q", tc.payload, err, tc.msg)
			continue
		}
		if _, err := (lattice.View{}).Decode(log.Entry{Seq: 9, Payload: []byte(tc.payload)}); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Decode(%s) = %v, want the same error", tc.payload, err)
		}
	}
}

// TestDictJSON: a Dict reads its own JSON back, and refuses what a delta
// refuses.
func TestDictJSON(t *testing.T) {
	in := `{"room1":{"last_message_counter":123,"tags_set":["a",1],"topic_register":[2,{"a":1}]}}`
	var d lattice.Dict
	if err := json.Unmarshal([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"room1":{"last_message_counter":123,"tags_set":["a",1],"topic_register":[2,{"a":1}]}}` {
		t.Fatalf("round trip: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"room1":{"unread":1}}`), &d); err == nil || !strings.Contains(err.Error(), `key "room1" field "unread": unknown suffix`) {
		t.Fatalf("a dict with an unknown suffix: %v", err)
	}
}

// TestForUser: what a delta changes for a user is its shared keys merged
// with that user's private keys.
func TestForUser(t *testing.T) {
	d, err := lattice.ParseDelta([]byte(`{"sluice":"lattice","namespace":"n",
		"shared":{"k":{"a_counter":5,"s_set":["x"],"r_register":[1,"shared"]},"j":{"b_counter":1}},
		"private":{"u":{"k":{"a_counter":3,"s_set":["y"],"r_register":[2,"mine"],"p_counter":7}},"v":{"l":{"c_counter":1}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{
		"u":     `{"j":{"b_counter":1},"k":{"a_counter":5,"p_counter":7,"r_register":[2,"mine"],"s_set":["x","y"]}}`,
		"v":     `{"j":{"b_counter":1},"k":{"a_counter":5,"r_register":[1,"shared"],"s_set":["x"]},"l":{"c_counter":1}}`,
		"other": `{"j":{"b_counter":1},"k":{"a_counter":5,"r_register":[1,"shared"],"s_set":["x"]}}`,
		"":      `{"j":{"b_counter":1},"k":{"a_counter":5,"r_register":[1,"shared"],"s_set":["x"]}}`,
	} {
		got, err := d.ForUser(user)
		if err != nil {
			t.Fatal(err)
		}
		if s := text(t, got); s != want {
			t.Errorf("ForUser(%q) = %s, want %s", user, s, want)
		}
	}
	// The delta itself is unchanged.
	if s := text(t, d.Shared); s != `{"j":{"b_counter":1},"k":{"a_counter":5,"r_register":[1,"shared"],"s_set":["x"]}}` {
		t.Fatalf("ForUser changed the delta: %s", s)
	}
}
