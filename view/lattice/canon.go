package lattice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// canonical returns the canonical JSON text of the single JSON value raw:
// what encoding/json.Marshal writes for it (no spaces, object names sorted,
// strings escaped the way Go escapes them) after normalizing its numbers
// (see canonicalNumber). Two JSON texts with the same meaning get the same
// canonical text on every node, which is what set members and register
// values are compared by.
func canonical(raw []byte) (json.RawMessage, error) {
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	raw = trimSpace(raw)
	switch raw[0] {
	case 't', 'f', 'n':
		return bytes.Clone(raw), nil
	case '"':
		if plainString(raw) {
			return bytes.Clone(raw), nil
		}
	case '{', '[':
	default:
		n, err := canonicalNumber(string(raw))
		return json.RawMessage(n), err
	}
	return canonicalSlow(raw)
}

// canonicalSlow is canonical for any valid JSON value: decode, normalize
// the numbers, marshal.
func canonicalSlow(raw []byte) (json.RawMessage, error) {
	v, err := decodeValue(raw)
	if err != nil {
		return nil, err
	}
	if v, err = normalize(v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// plainString reports whether the valid JSON string raw is written as
// encoding/json writes it: no escapes, and no character it escapes (<, >,
// &, U+2028, U+2029) or replaces (invalid UTF-8).
func plainString(raw []byte) bool {
	ascii := true
	for _, c := range raw {
		switch {
		case c == '\\' || c == '<' || c == '>' || c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.Valid(raw) && !bytes.Contains(raw, []byte("\u2028")) && !bytes.Contains(raw, []byte("\u2029"))
}

// decodeValue decodes exactly one JSON value, keeping numbers as text.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the value")
	}
	return v, nil
}

// normalize replaces the numbers of a decoded JSON value by their canonical
// text.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s, err := canonicalNumber(string(x))
		return json.Number(s), err
	case []any:
		for i := range x {
			var err error
			if x[i], err = normalize(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			var err error
			if x[k], err = normalize(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// canonicalNumber returns the canonical text of a JSON number literal: an
// integer that fits in an int64 is written as one ("2.0", "1e3" and "-0"
// become "2", "1000" and "0"); any other number is an IEEE double, written
// as encoding/json writes a float64 ("1.50" becomes "1.5"). A number too
// large for a double (1e400) is an error.
func canonicalNumber(lit string) (string, error) {
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return "", fmt.Errorf("number %s is out of range", lit)
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	b, err := json.Marshal(f)
	return string(b), err
}

// parseInt reads a counter or a register version from a valid JSON value:
// an integer written without fraction or exponent, within the int64 range.
func parseInt(raw []byte) (int64, error) {
	s := string(trimSpace(raw))
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer between -2^63 and 2^63-1 written without fraction or exponent", abbrev(s))
	}
	return i, nil
}

// jsonKind names the kind of the JSON value raw starts with, for messages.
func jsonKind(raw []byte) string {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// abbrev shortens s for an error message, on a character boundary.
func abbrev(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
