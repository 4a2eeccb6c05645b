package lattice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of a field's value, given by the suffix of the field's
// name.
type Kind uint8

// The kinds of values, and the suffixes that mark them.
const (
	KindCounter  Kind = iota + 1 // a field named *_counter: an integer that only grows
	KindSet                      // a field named *_set: a set of JSON scalars that only grows
	KindRegister                 // a field named *_register: [version, value], the highest version wins
)

// The field name suffixes, one per kind.
const (
	SuffixCounter  = "_counter"
	SuffixSet      = "_set"
	SuffixRegister = "_register"
)

// String returns the kind's name as the tables store it: "counter", "set"
// or "register".
func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindSet:
		return "set"
	case KindRegister:
		return "register"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf returns the kind of the field named field, from its suffix, or
// false if the name ends in none of _counter, _set and _register.
func KindOf(field string) (Kind, bool) {
	switch {
	case strings.HasSuffix(field, SuffixCounter):
		return KindCounter, true
	case strings.HasSuffix(field, SuffixSet):
		return KindSet, true
	case strings.HasSuffix(field, SuffixRegister):
		return KindRegister, true
	}
	return 0, false
}

// errSuffix is the message for a field name without a known suffix.
var errSuffix = errors.New("unknown suffix: a field name must end in _counter, _set or _register")

// Value is the value of one field: a Counter, a Set or a Register. Values
// are immutable: the merge functions return new ones.
type Value interface {
	// Kind returns the value's kind.
	Kind() Kind
	value()
}

// Counter is the value of a _counter field: an int64 that merges by
// keeping the maximum. Negative values are allowed and merge the same way
// (there is no implicit zero: a field no delta set is absent, not 0).
// Counters are integers: a JSON number with a fraction or an exponent
// (1.5, 2.0, 1e3) is refused.
type Counter int64

// Kind implements Value.
func (Counter) Kind() Kind { return KindCounter }
func (Counter) value()     {}

// Set is the value of a _set field: distinct JSON scalars (strings,
// numbers, true, false, null) in canonical JSON, sorted by their bytes.
// Sets merge by union. Build one with NewSet or ParseValue, which make the
// members canonical.
type Set []json.RawMessage

// Kind implements Value.
func (Set) Kind() Kind { return KindSet }
func (Set) value()     {}

// MarshalJSON writes the set as a JSON array; an empty or nil set is [].
func (s Set) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, m := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, ']'), nil
}

// Register is the value of a _register field, written [version, value] in
// JSON. Registers merge by keeping the one with the highest Version; two
// with the same Version are ordered by the bytes of their canonical Value,
// the greater winning, so every node picks the same one.
type Register struct {
	Version int64
	// Value is any JSON value, in canonical form (see NewRegister).
	Value json.RawMessage
}

// Kind implements Value.
func (Register) Kind() Kind { return KindRegister }
func (Register) value()     {}

// MarshalJSON writes the register as [version, value].
func (r Register) MarshalJSON() ([]byte, error) {
	v := r.Value
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	b := append([]byte{'['}, strconv.FormatInt(r.Version, 10)...)
	b = append(append(append(b, ','), v...), ']')
	return b, nil
}

// NewSet returns the set of the given members, each a Go value that
// encodes to a JSON scalar (string, number, bool, nil), made canonical and
// sorted, duplicates removed.
func NewSet(members ...any) (Set, error) {
	var raws []json.RawMessage
	for i, m := range members {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("set member %d: %w", i+1, err)
		}
		raws = append(raws, b)
	}
	return newSet(raws)
}

// newSet checks that every member is a JSON scalar and returns them
// canonical, sorted and distinct.
func newSet(members []json.RawMessage) (Set, error) {
	s := make(Set, 0, len(members))
	for i, m := range members {
		c, err := canonical(m)
		if err != nil {
			return nil, fmt.Errorf("set member %d: %w", i+1, err)
		}
		if c[0] == '{' || c[0] == '[' {
			return nil, fmt.Errorf("set member %d is %s: set members are JSON scalars (string, number, true, false, null)", i+1, jsonKind(c))
		}
		s = append(s, c)
	}
	return sortSet(s), nil
}

// sortSet sorts canonical members by their bytes and removes duplicates,
// in place.
func sortSet(s Set) Set {
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	out := s[:0]
	for i, m := range s {
		if i == 0 || !bytes.Equal(m, s[i-1]) {
			out = append(out, m)
		}
	}
	return out
}

// NewRegister returns the register holding v (any Go value encoding/json
// can marshal) at version.
func NewRegister(version int64, v any) (Register, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Register{}, fmt.Errorf("register value: %w", err)
	}
	c, err := canonical(b)
	if err != nil {
		return Register{}, fmt.Errorf("register value: %w", err)
	}
	return Register{Version: version, Value: c}, nil
}

// ParseValue parses the JSON value raw of the field named field, by the
// field's suffix: a _counter field takes an integer, a _set field an array
// of scalars, a _register field [version, value] with an integer version.
// Set members and register values are made canonical.
func ParseValue(field string, raw []byte) (Value, error) {
	if _, ok := KindOf(field); !ok {
		return nil, errSuffix
	}
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	return parseValue(field, raw)
}

// parseValue is ParseValue for a value known to be valid JSON.
func parseValue(field string, raw []byte) (Value, error) {
	k, ok := KindOf(field)
	if !ok {
		return nil, errSuffix
	}
	switch k {
	case KindCounter:
		i, err := parseInt(raw)
		if err != nil {
			return nil, fmt.Errorf("a _counter value must be an integer: %w", err)
		}
		return Counter(i), nil
	case KindSet:
		members, ok := arrayElements(raw)
		if !ok {
			return nil, fmt.Errorf("a _set value must be an array of JSON scalars, not %s", jsonKind(raw))
		}
		return newSet(members)
	default:
		pair, ok := arrayElements(raw)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("a _register value must be [version, value], not %s", describe(raw, pair))
		}
		v, err := parseInt(pair[0])
		if err != nil {
			return nil, fmt.Errorf("register version: %w", err)
		}
		c, err := canonical(pair[1])
		if err != nil {
			return nil, fmt.Errorf("register value: %w", err)
		}
		return Register{Version: v, Value: c}, nil
	}
}

// describe names what a register value was, for an error message.
func describe(raw []byte, arr []json.RawMessage) string {
	if jsonKind(raw) == "an array" {
		return fmt.Sprintf("an array of %d elements", len(arr))
	}
	return jsonKind(raw)
}

// checkValue reports whether v is a valid value for the field named field:
// of the field's kind, with canonical set members and register values.
func checkValue(field string, v Value) error {
	k, ok := KindOf(field)
	if !ok {
		return errSuffix
	}
	if v == nil {
		return errors.New("no value")
	}
	if v.Kind() != k {
		return fmt.Errorf("a %s value in a %s field", v.Kind(), k)
	}
	switch x := v.(type) {
	case Set:
		c, err := newSet(x)
		if err != nil {
			return err
		}
		if len(c) != len(x) {
			return errors.New("set members are not distinct")
		}
		for i := range c {
			if !bytes.Equal(c[i], x[i]) {
				return fmt.Errorf("set member %s is not canonical or not in order (build sets with NewSet)", x[i])
			}
		}
	case Register:
		c, err := canonical(x.Value)
		if err != nil {
			return fmt.Errorf("register value: %w", err)
		}
		if !bytes.Equal(c, x.Value) {
			return fmt.Errorf("register value %s is not canonical (build registers with NewRegister)", x.Value)
		}
	}
	return nil
}
