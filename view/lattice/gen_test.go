package lattice_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// This file generates random lattice deltas as JSON text, and computes what
// the view must hold after them with a naive model of the merge rules
// written here, independently of the package: every value is generated
// together with its canonical JSON, written out by hand below.

// jsonText is a JSON value as a delta may write it, and its canonical
// form (what the view stores and returns).
type jsonText struct{ raw, canon string }

// scalars are set members and register values.
var scalars = []jsonText{
	{`"a"`, `"a"`},
	{`"b"`, `"b"`},
	{`""`, `""`},
	{`"a b"`, `"a b"`},
	{`"\u00e9t\u00e9"`, `"été"`},
	{`"<&>"`, `"\u003c\u0026\u003e"`},
	{`"line\nbreak"`, `"line\nbreak"`},
	{`1`, `1`},
	{`10`, `10`},
	{`9`, `9`},
	{`2.0`, `2`},
	{`-3`, `-3`},
	{`-0`, `0`},
	{`1.50`, `1.5`},
	{`1e2`, `100`},
	{`1E-7`, `1e-7`},
	{`true`, `true`},
	{`false`, `false`},
	{`null`, `null`},
}

// composites are register values that are not scalars.
var composites = []jsonText{
	{`{"b": 1, "a": [1, 2.0]}`, `{"a":[1,2],"b":1}`},
	{`[ ]`, `[]`},
	{`{"x": {"y": null}}`, `{"x":{"y":null}}`},
	{`["a", {"z": true, "b": "<"}]`, `["a",{"b":"\u003c","z":true}]`},
}

var (
	namespaces = []string{"chat.rooms", "ns.b"}
	users      = []string{"7777", "8734", "u3"}
	keys       = []string{"k1", "k2", "k3"}
	fields     = []string{"a_counter", "b_counter", "s_set", "t_set", "r_register", "q_register"}
)

// fieldID names one field of one owner ("" for shared keys).
type fieldID struct{ ns, owner, key, field string }

// register is a register's state in the model.
type register struct {
	version int64
	canon   string
}

// model is the merged state of a set of deltas, computed naively.
type model struct {
	counters  map[fieldID]int64
	sets      map[fieldID]map[string]bool
	registers map[fieldID]register
}

func newModel() *model {
	return &model{counters: map[fieldID]int64{}, sets: map[fieldID]map[string]bool{}, registers: map[fieldID]register{}}
}

// delta is a generated delta: its payload, and its fields for the model.
type delta struct {
	payload string
	apply   func(m *model)
}

// randomDelta returns a random delta, written with random spacing and
// member order.
func randomDelta(rng *rand.Rand) delta {
	ns := namespaces[rng.IntN(len(namespaces))]
	var applies []func(m *model)
	dict := func(owner string) string {
		var ks []string
		for _, k := range pick(rng, keys, 1+rng.IntN(2)) {
			var fs []string
			for _, f := range pick(rng, fields, 1+rng.IntN(3)) {
				id := fieldID{ns, owner, k, f}
				raw, apply := randomValue(rng, id)
				applies = append(applies, apply)
				fs = append(fs, fmt.Sprintf(`%q: %s`, f, raw))
			}
			ks = append(ks, fmt.Sprintf(`%q: {%s}`, k, strings.Join(fs, ", ")))
		}
		return "{" + strings.Join(ks, ", ") + "}"
	}
	members := []string{`"sluice": "lattice"`, fmt.Sprintf(`"namespace": %q`, ns)}
	if rng.IntN(4) != 0 {
		members = append(members, `"shared": `+dict(""))
	}
	if rng.IntN(3) != 0 {
		var ps []string
		for _, u := range pick(rng, users, 1+rng.IntN(2)) {
			ps = append(ps, fmt.Sprintf(`%q: %s`, u, dict(u)))
		}
		members = append(members, `"private": {`+strings.Join(ps, ", ")+"}")
	}
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	sep := []string{",", ", ", ",\n  "}[rng.IntN(3)]
	return delta{
		payload: "{" + strings.Join(members, sep) + "}",
		apply: func(m *model) {
			for _, a := range applies {
				a(m)
			}
		},
	}
}

// randomValue returns a random value for the field and what merging it
// does to the model.
func randomValue(rng *rand.Rand, id fieldID) (string, func(m *model)) {
	switch {
	case strings.HasSuffix(id.field, "_counter"):
		v := int64(rng.IntN(40) - 8)
		return fmt.Sprint(v), func(m *model) {
			if old, ok := m.counters[id]; !ok || v > old {
				m.counters[id] = v
			}
		}
	case strings.HasSuffix(id.field, "_set"):
		ms := pick(rng, scalars, rng.IntN(4))
		var raws []string
		for _, s := range ms {
			raws = append(raws, s.raw)
		}
		if len(ms) > 0 && rng.IntN(4) == 0 {
			raws = append(raws, ms[0].raw) // a member twice in one delta
		}
		return "[" + strings.Join(raws, ", ") + "]", func(m *model) {
			set := m.sets[id]
			if set == nil {
				set = map[string]bool{}
				m.sets[id] = set
			}
			for _, s := range ms {
				set[s.canon] = true
			}
		}
	default:
		pool := scalars
		if rng.IntN(4) == 0 {
			pool = composites
		}
		v := pool[rng.IntN(len(pool))]
		version := int64(rng.IntN(3))
		return fmt.Sprintf("[%d, %s]", version, v.raw), func(m *model) {
			r := register{version, v.canon}
			if old, ok := m.registers[id]; !ok || r.version > old.version || r.version == old.version && r.canon > old.canon {
				m.registers[id] = r
			}
		}
	}
}

// pick returns n distinct elements of list, in random order.
func pick[T any](rng *rand.Rand, list []T, n int) []T {
	idx := rng.Perm(len(list))[:min(n, len(list))]
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = list[j]
	}
	return out
}

// notDeltas are payloads the view must ignore.
var notDeltas = []string{
	`{"type": "post", "text": "a lattice of ideas"}`,
	`{"sluice": "task", "id": "lattice"}`,
	`{"sluice": "Lattice", "namespace": "chat.rooms"}`,
	`["sluice", "lattice"]`,
	`"lattice"`,
	`{"sluice" "lattice", "namespace": "n"`, // not JSON, and no "sluice": "lattice" member in it
	`{"key": "%x", "value": {"content": {"type": "vote"}}}`,
}

// badDeltas are payloads marked as deltas that the view must reject, and
// part of the message it must give.
var badDeltas = []struct{ payload, msg string }{
	{`{"sluice": "lattice", "namespace": "chat.rooms", "shared": {"k1": {"a_counter": 1.5}}}`, `shared key "k1" field "a_counter": a _counter value must be an integer`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "shared": {"k1": {"a_counter": 2, "topic": 1}}}`, `shared key "k1" field "topic": unknown suffix`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "private": {"7777": {"k2": {"s_set": [1, {"a": 2}]}}}}`, `private user "7777" key "k2" field "s_set": set member 2 is an object`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "private": {"8734": {"k1": {"r_register": "x"}}}}`, `private user "8734" key "k1" field "r_register": a _register value must be [version, value], not a string`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "private": {"8734": {"k1": {"r_register": [1.5, "x"]}}}}`, `field "r_register": register version: 1.5 is not an integer`},
	{`{"sluice": "lattice", "shared": {"k1": {"a_counter": 1}}}`, `"namespace" must be a string`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "shared": {"k1": {"a_counter": 1}}, "extra": 1}`, `unknown member "extra"`},
	{`{"sluice": "lattice", "namespace": "chat.rooms", "shared": {"k1": {"a_counter": 1, "a_counter": 2}}}`, `shared key "k1" field "a_counter": field given twice`},
	// Marked, but not valid JSON (typos in a hand-built delta), or text
	// encoding/json would read with a loss: errors, not someone else's
	// entries.
	{`{"sluice": "lattice", "namespace": `, `not valid JSON: at byte 35`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1,}}}`, `not valid JSON: at byte 66: invalid character '}'`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":01}}}`, `not valid JSON`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1}}}}`, `not valid JSON: at byte 68: invalid character '}' after top-level value`},
	{`{"shared":{"k":{"c_counter":1,}},"namespace":"n", "sluice" : "lattice"}`, `not valid JSON`},
	{`{"sluice":"lattice"} {"x":1}`, `not valid JSON: at byte 22: invalid character '{' after top-level value`},
	{"{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\xff\":{\"s_set\":[\"a\"]}}}", `not UTF-8 at byte 48 (0xff)`},
	{"{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\":{\"s_set\":[\"\xfe\"]}}}", `not UTF-8 at byte 61 (0xfe)`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k\ud800":{"s_set":["a"]}}}`, `a lone surrogate \ud800 at byte 48`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k\udc00x":{"s_set":["a"]}}}`, `a lone surrogate \udc00 at byte 48`},
	{`{"sluice":"lattice","namespace":"n","shared":{"k\ud800\u0041":{"s_set":["a"]}}}`, `a lone surrogate \ud800 at byte 48`},
}

// row is one expected row of a table or VIEW, as "col|col|...".
type rows []string

func (r rows) String() string {
	sort.Strings(r)
	return strings.Join(r, "\n")
}

// state returns the expected rows of lattice_state.
func (m *model) state() rows {
	var out rows
	for id := range m.allFields() {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s", id.ns, id.owner, id.key, id.field, m.value(id)))
	}
	return out
}

// allFields returns the ids of every field some delta set.
func (m *model) allFields() map[fieldID]bool {
	ids := map[fieldID]bool{}
	for id := range m.counters {
		ids[id] = true
	}
	for id := range m.sets {
		ids[id] = true
	}
	for id := range m.registers {
		ids[id] = true
	}
	return ids
}

// value returns the canonical JSON of a field's merged value.
func (m *model) value(id fieldID) string {
	if v, ok := m.counters[id]; ok {
		return fmt.Sprint(v)
	}
	if r, ok := m.registers[id]; ok {
		return fmt.Sprintf("[%d,%s]", r.version, r.canon)
	}
	var members []string
	for s := range m.sets[id] {
		members = append(members, s)
	}
	sort.Strings(members) // Go compares strings by their bytes
	return "[" + strings.Join(members, ",") + "]"
}

// forUser returns the merged dictionary of ns for user as canonical JSON
// text per key and field: shared fields and user's private fields merged.
func (m *model) forUser(ns, user string) map[string]map[string]string {
	merged := newModel()
	for id := range m.allFields() {
		if id.ns != ns || (id.owner != "" && id.owner != user) {
			continue
		}
		to := fieldID{ns, "", id.key, id.field}
		if v, ok := m.counters[id]; ok {
			if old, ok := merged.counters[to]; !ok || v > old {
				merged.counters[to] = v
			}
		}
		if r, ok := m.registers[id]; ok {
			if old, ok := merged.registers[to]; !ok || r.version > old.version || r.version == old.version && r.canon > old.canon {
				merged.registers[to] = r
			}
		}
		if s, ok := m.sets[id]; ok {
			if merged.sets[to] == nil {
				merged.sets[to] = map[string]bool{}
			}
			for x := range s {
				merged.sets[to][x] = true
			}
		}
	}
	out := map[string]map[string]string{}
	for id := range merged.allFields() {
		if out[id.key] == nil {
			out[id.key] = map[string]string{}
		}
		out[id.key][id.field] = merged.value(id)
	}
	return out
}

// owners returns the users with private fields in ns.
func (m *model) owners(ns string) []string {
	seen := map[string]bool{}
	for id := range m.allFields() {
		if id.ns == ns && id.owner != "" {
			seen[id.owner] = true
		}
	}
	var out []string
	for u := range seen {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// dictJSON writes a forUser result as the JSON of a Dict: keys and fields
// sorted, values as they are.
func dictJSON(d map[string]map[string]string) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range sortedKeys(d) {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteString(":{")
		for j, f := range sortedKeys(d[k]) {
			if j > 0 {
				b.WriteByte(',')
			}
			fj, _ := json.Marshal(f)
			b.Write(fj)
			b.WriteByte(':')
			b.WriteString(d[k][f])
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
