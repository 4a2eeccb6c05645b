package lattice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Marker is the value of the top-level "sluice" member that marks a log
// entry as a lattice delta: {"sluice": "lattice", ...}. The project had no
// convention for its own entry kinds, so it takes a member name that an
// application's payloads ("type", "kind") are unlikely to use.
const Marker = "lattice"

// ErrNotDelta is returned by ParseDelta for a payload that is not a lattice
// delta (not a JSON object, or without "sluice": "lattice"; text that is
// not valid JSON only if it does not hold that member either): other views
// index it, the lattice view ignores it.
var ErrNotDelta = errors.New("not a lattice delta")

// ErrInvalid is matched (errors.Is) by every error about a malformed delta
// or dictionary: a payload marked as a delta that cannot be applied.
var ErrInvalid = errors.New("invalid lattice delta")

// FieldError is a malformed part of a delta or dictionary, named by where
// it is. It matches ErrInvalid.
type FieldError struct {
	Namespace string // the delta's namespace, if known
	Private   bool   // in the private part; User names the user
	User      string
	Key       string // with Field, meaningful as far as Level says
	Field     string
	// Level says what the error is about: LevelDelta (the delta as a
	// whole, or with Private the user), LevelKey or LevelField.
	Level int
	Err   error
}

// The levels of a FieldError.
const (
	LevelDelta = iota
	LevelKey
	LevelField
)

// Error names the namespace, user, key and field, then the problem:
// `lattice delta in namespace "chat.rooms": private user "7777" key
// "room1" field "seen_counter": a _counter value must be an integer: ...`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("lattice delta")
	if e.Namespace != "" {
		fmt.Fprintf(&b, " in namespace %q", e.Namespace)
	}
	b.WriteString(":")
	switch {
	case e.Private:
		fmt.Fprintf(&b, " private user %q", e.User)
	case e.Level >= LevelKey:
		b.WriteString(" shared")
	}
	if e.Level >= LevelKey {
		fmt.Fprintf(&b, " key %q", e.Key)
	}
	if e.Level >= LevelField {
		fmt.Fprintf(&b, " field %q", e.Field)
	}
	if e.Private || e.Level >= LevelKey {
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrInvalid and the cause.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// at returns a copy of the template e for an error about key (level
// LevelKey) or key and field (LevelField).
func (e FieldError) at(level int, key, field string, err error) *FieldError {
	e.Level, e.Key, e.Field, e.Err = level, key, field, err
	return &e
}

// Delta is one lattice update: for a namespace, shared keys (visible to
// every user) and private keys per user. Its JSON form, the payload of a
// log entry, is
//
//	{"sluice": "lattice", "namespace": "chat.rooms",
//	 "shared":  {KEY: {FIELD: VALUE, ...}, ...},
//	 "private": {USER: {KEY: {FIELD: VALUE, ...}, ...}, ...}}
//
// where "shared" and "private" may be left out. A key without fields, or a
// user without keys, adds nothing: ParseDelta leaves them out. Only the
// fields a delta names change, each merged with its current value by the field's suffix
// (see Merge), so deltas can be sent with just what changed, late, twice
// or in any order.
type Delta struct {
	Namespace string
	Shared    Dict
	// Private maps a user (a non-empty string, such as "7777") to the
	// keys only that user sees.
	Private map[string]Dict
}

// ParseDelta parses and validates a log entry's payload. It returns an
// error matching ErrNotDelta for a payload that is not a lattice delta, and
// a *FieldError (matching ErrInvalid) for one marked as a delta that is
// malformed: not valid JSON (saying at which byte), not UTF-8 or holding
// an escaped lone surrogate, an unknown member, a missing or empty
// namespace, a duplicate name, a field name without a known suffix, a
// value of the wrong type.
func ParseDelta(payload []byte) (*Delta, error) {
	if !maybeDelta(payload) {
		return nil, ErrNotDelta
	}
	if !json.Valid(payload) {
		if markedRE.Match(payload) {
			// Meant as a delta (a typo in a hand-built one): an error,
			// not another application's entry.
			return nil, &FieldError{Err: syntaxError(payload)}
		}
		return nil, ErrNotDelta
	}
	members, err := objectMembers(payload)
	if err != nil {
		return nil, ErrNotDelta // not a JSON object: not ours
	}
	marked := false
	for _, m := range members {
		if m.name == "sluice" {
			s, err := unquote(m.value)
			marked = err == nil && s == Marker
		}
	}
	if !marked {
		return nil, ErrNotDelta
	}
	if err := checkText(payload); err != nil {
		return nil, &FieldError{Err: err}
	}
	d := &Delta{}
	top := map[string]json.RawMessage{}
	for _, m := range members {
		if _, dup := top[m.name]; dup {
			return nil, &FieldError{Err: fmt.Errorf("member %q given twice", m.name)}
		}
		top[m.name] = m.value
		switch m.name {
		case "sluice", "namespace", "shared", "private":
		default:
			return nil, &FieldError{Err: fmt.Errorf("unknown member %q (a delta has sluice, namespace, shared and private)", m.name)}
		}
	}
	if d.Namespace, err = unquote(top["namespace"]); err != nil {
		return nil, &FieldError{Err: errors.New(`"namespace" must be a string`)}
	}
	if err := checkName("namespace", d.Namespace); err != nil {
		return nil, &FieldError{Err: err}
	}
	if raw, ok := top["shared"]; ok {
		if d.Shared, err = parseDict(raw, &FieldError{Namespace: d.Namespace}); err != nil {
			return nil, err
		}
	}
	if raw, ok := top["private"]; ok {
		if d.Private, err = parsePrivate(raw, d.Namespace); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// maybeDelta is a quick check that rules out most payloads without parsing
// them: a delta holds the string "lattice", written as such or with \u
// escapes.
func maybeDelta(p []byte) bool {
	return bytes.Contains(p, []byte(Marker)) || bytes.Contains(p, []byte(`\u`))
}

// ParseDict parses and validates a dictionary: key -> field -> value, in
// the JSON form of Dict. Errors are *FieldError values naming the key and
// field.
func ParseDict(b []byte) (Dict, error) {
	if !json.Valid(b) {
		return nil, &FieldError{Err: syntaxError(b)}
	}
	if err := checkText(b); err != nil {
		return nil, &FieldError{Err: err}
	}
	return parseDict(b, &FieldError{})
}

// UnmarshalJSON implements json.Unmarshaler with ParseDict.
func (d *Dict) UnmarshalJSON(b []byte) error {
	x, err := ParseDict(b)
	if err != nil {
		return err
	}
	*d = x
	return nil
}

// parseDict parses a dictionary, valid JSON; where says where it is, for
// errors (a template FieldError with Namespace, Private and User set).
func parseDict(raw []byte, where *FieldError) (Dict, error) {
	keys, err := objectMembers(raw)
	if err != nil {
		return nil, where.at(LevelDelta, "", "", fmt.Errorf("keys must be a JSON object: %w", err))
	}
	d := make(Dict, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := checkName("key", k.name); err != nil {
			return nil, where.at(LevelKey, k.name, "", err)
		}
		if seen[k.name] {
			return nil, where.at(LevelKey, k.name, "", errors.New("key given twice"))
		}
		seen[k.name] = true
		fields, err := objectMembers(k.value)
		if err != nil {
			return nil, where.at(LevelKey, k.name, "", fmt.Errorf("fields must be a JSON object: %w", err))
		}
		fm := make(map[string]Value, len(fields))
		for _, f := range fields {
			if err := checkName("field name", f.name); err != nil {
				return nil, where.at(LevelField, k.name, f.name, err)
			}
			if _, dup := fm[f.name]; dup {
				return nil, where.at(LevelField, k.name, f.name, errors.New("field given twice"))
			}
			v, err := parseValue(f.name, f.value)
			if err != nil {
				return nil, where.at(LevelField, k.name, f.name, err)
			}
			fm[f.name] = v
		}
		if len(fm) > 0 { // a key without fields adds nothing
			d[k.name] = fm
		}
	}
	return d, nil
}

// parsePrivate parses the private part of a delta, valid JSON: user ->
// dictionary.
func parsePrivate(raw []byte, ns string) (map[string]Dict, error) {
	users, err := objectMembers(raw)
	if err != nil {
		return nil, &FieldError{Namespace: ns, Err: fmt.Errorf(`"private" must be a JSON object of users: %w`, err)}
	}
	p := make(map[string]Dict, len(users))
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		where := &FieldError{Namespace: ns, Private: true, User: u.name}
		if err := checkName("user", u.name); err != nil {
			where.Err = err
			return nil, where
		}
		if seen[u.name] {
			where.Err = errors.New("user given twice")
			return nil, where
		}
		seen[u.name] = true
		d, err := parseDict(u.value, where)
		if err != nil {
			return nil, err
		}
		if len(d) > 0 { // a user without keys adds nothing
			p[u.name] = d
		}
	}
	return p, nil
}

// checkName refuses an empty name and one holding a NUL character (which
// C strings, and so some SQLite tools, would cut short).
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s %q holds a NUL character", what, s)
	}
	return nil
}

// Validate checks the delta as ParseDelta would its JSON form.
func (d *Delta) Validate() error {
	if err := checkName("namespace", d.Namespace); err != nil {
		return &FieldError{Err: err}
	}
	if err := d.Shared.Validate(); err != nil {
		e := err.(*FieldError)
		e.Namespace = d.Namespace
		return e
	}
	for user, dict := range d.Private {
		where := &FieldError{Namespace: d.Namespace, Private: true, User: user}
		if err := checkName("user", user); err != nil {
			where.Err = err
			return where
		}
		if err := dict.Validate(); err != nil {
			e := err.(*FieldError)
			e.Namespace, e.Private, e.User = d.Namespace, true, user
			return e
		}
	}
	return nil
}

// MarshalJSON writes the delta's payload form, with the "sluice" marker:
// canonical JSON (no spaces, names sorted). It fails for a delta that does
// not pass Validate, so nothing invalid is appended to a log.
func (d *Delta) MarshalJSON() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	type payload struct {
		Namespace string          `json:"namespace"`
		Private   map[string]Dict `json:"private,omitempty"`
		Shared    Dict            `json:"shared,omitempty"`
		Sluice    string          `json:"sluice"`
	}
	return json.Marshal(payload{Namespace: d.Namespace, Private: d.Private, Shared: d.Shared, Sluice: Marker})
}

// UnmarshalJSON implements json.Unmarshaler with ParseDelta: a payload
// that is not a delta is an error matching ErrNotDelta.
func (d *Delta) UnmarshalJSON(b []byte) error {
	x, err := ParseDelta(b)
	if err != nil {
		return err
	}
	*d = *x
	return nil
}

// ForUser returns what the delta changes for user: its shared keys merged
// with user's private keys (shared and private values of one field merge
// by the same suffix rule). For user "" it is the shared part alone. The
// delta must be valid (as ParseDelta returns them).
func (d *Delta) ForUser(user string) (Dict, error) {
	out := d.Shared.clone()
	if user == "" {
		return out, nil
	}
	if err := out.Merge(d.Private[user]); err != nil {
		return nil, err
	}
	return out, nil
}
