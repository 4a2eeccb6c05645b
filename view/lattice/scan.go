package lattice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The functions below split JSON text that is known to be valid (checked
// once, with json.Valid, for a whole payload) into its parts, without
// checking it again: a delta is three levels of objects, and splitting
// them with a json.Decoder per level scanned every byte once per level.

// member is a name and its raw value in a JSON object. value shares the
// memory of the text it was split from.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers returns the members of raw, a valid JSON value that must
// be an object, in order, duplicates included.
func objectMembers(raw []byte) ([]member, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return nil, fmt.Errorf("found %s", jsonKind(raw))
	}
	var ms []member
	i = skipSpace(raw, i+1)
	if raw[i] == '}' {
		return ms, nil
	}
	for {
		end := skipString(raw, i)
		name, err := unquote(raw[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
		end = skipValue(raw, i)
		ms = append(ms, member{name: name, value: raw[i:end]})
		i = skipSpace(raw, end)
		if raw[i] == '}' {
			return ms, nil
		}
		i = skipSpace(raw, i+1) // past the comma
	}
}

// arrayElements returns the elements of raw, a valid JSON value, or false
// if it is not an array.
func arrayElements(raw []byte) ([]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return nil, false
	}
	es := []json.RawMessage{}
	i = skipSpace(raw, i+1)
	if raw[i] == ']' {
		return es, true
	}
	for {
		end := skipValue(raw, i)
		es = append(es, raw[i:end])
		i = skipSpace(raw, end)
		if raw[i] == ']' {
			return es, true
		}
		i = skipSpace(raw, i+1) // past the comma
	}
}

// unquote returns the string a valid JSON value holds, or an error if it
// is not a string. Like encoding/json, it turns invalid UTF-8 into U+FFFD.
func unquote(raw []byte) (string, error) {
	raw = trimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// trimSpace removes JSON's white space (space, tab, newline, carriage
// return: not bytes.TrimSpace's wider set) around b.
func trimSpace(b []byte) []byte {
	b = b[skipSpace(b, 0):]
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}
