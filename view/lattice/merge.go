package lattice

import (
	"bytes"
	"fmt"
)

// The merge functions below are the lattice's joins: each is commutative
// (Merge(a, b) = Merge(b, a)), associative (Merge(Merge(a, b), c) =
// Merge(a, Merge(b, c))) and idempotent (Merge(a, a) = a). That is what
// makes the merged state independent of the order deltas arrive in, of
// duplicates, and of local entries applied ahead of the backlog. The view's
// SQL (the upserts of its writer, the lattice_for_user VIEW) applies the
// same rules.

// MergeCounter merges two counters: the greater wins.
func MergeCounter(a, b Counter) Counter { return max(a, b) }

// MergeSet merges two sets by union. a and b must be canonical (as NewSet
// and ParseValue make them: sorted by bytes, distinct); so is the result,
// which is a new slice (the members' bytes are shared).
func MergeSet(a, b Set) Set {
	out := make(Set, 0, max(len(a), len(b)))
	for len(a) > 0 && len(b) > 0 {
		switch c := bytes.Compare(a[0], b[0]); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// MergeRegister merges two registers: the higher Version wins; for equal
// versions, the greater canonical Value, compared byte by byte, wins.
func MergeRegister(a, b Register) Register {
	if registerLess(a, b) {
		return b
	}
	return a
}

// registerLess orders registers by version, then by value bytes.
func registerLess(a, b Register) bool {
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	return bytes.Compare(a.Value, b.Value) < 0
}

// Merge merges two values of the same kind with the kind's merge function.
// Values of different kinds are an error.
func Merge(a, b Value) (Value, error) {
	switch x := a.(type) {
	case Counter:
		if y, ok := b.(Counter); ok {
			return MergeCounter(x, y), nil
		}
	case Set:
		if y, ok := b.(Set); ok {
			return MergeSet(x, y), nil
		}
	case Register:
		if y, ok := b.(Register); ok {
			return MergeRegister(x, y), nil
		}
	}
	return nil, fmt.Errorf("merge a %s with a %s", kindName(a), kindName(b))
}

func kindName(v Value) string {
	if v == nil {
		return "nil value"
	}
	return v.Kind().String()
}

// Dict is a lattice dictionary: key -> field -> value. Each field's kind
// is given by its name's suffix (see KindOf). Its JSON form is an object of
// objects, for example {"room1": {"last_seen_counter": 120}}: a register is
// written [version, value] and a set as an array, so a Dict's JSON is
// itself a valid delta for the same keys.
type Dict map[string]map[string]Value

// Merge merges o into d, field by field: fields only o has are copied,
// fields both have are merged with Merge. It fails, changing nothing, if a
// value of o is not valid for its field (see Validate) or the two disagree
// on a field's kind.
func (d Dict) Merge(o Dict) error {
	if err := o.Validate(); err != nil {
		return err
	}
	for key, fields := range o {
		for field, v := range fields {
			if old, ok := d[key][field]; ok && old.Kind() != v.Kind() {
				return FieldError{}.at(LevelField, key, field, fmt.Errorf("merge a %s with a %s", old.Kind(), v.Kind()))
			}
		}
	}
	for key, fields := range o {
		for field, v := range fields {
			d.merge(key, field, v)
		}
	}
	return nil
}

// merge merges one valid value into d.
func (d Dict) merge(key, field string, v Value) {
	fields := d[key]
	if fields == nil {
		fields = map[string]Value{}
		d[key] = fields
	}
	if old, ok := fields[field]; ok {
		v, _ = Merge(old, v)
	}
	fields[field] = v
}

// Validate checks every key, field and value of d: non-empty names, a
// known suffix, a value of the field's kind, canonical set members and
// register values. The error is a *FieldError naming the key and field.
func (d Dict) Validate() error {
	for key, fields := range d {
		if err := checkName("key", key); err != nil {
			return FieldError{}.at(LevelKey, key, "", err)
		}
		for field, v := range fields {
			if err := checkName("field name", field); err != nil {
				return FieldError{}.at(LevelField, key, field, err)
			}
			if err := checkValue(field, v); err != nil {
				return FieldError{}.at(LevelField, key, field, err)
			}
		}
	}
	return nil
}

// clone returns a copy of d sharing the values (which are immutable),
// without keys that have no fields.
func (d Dict) clone() Dict {
	c := make(Dict, len(d))
	for key, fields := range d {
		if len(fields) == 0 {
			continue
		}
		f := make(map[string]Value, len(fields))
		for field, v := range fields {
			f[field] = v
		}
		c[key] = f
	}
	return c
}
