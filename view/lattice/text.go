package lattice

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"
)

// markedRE finds the marker member in a payload that is not valid JSON:
// such a payload was meant as a delta, and is malformed rather than
// someone else's.
var markedRE = regexp.MustCompile(`"sluice"\s*:\s*"` + Marker + `"`)

// syntaxError says why b, which json.Valid refused, is not valid JSON, and
// where.
func syntaxError(b []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON: at byte %d: %v", se.Offset, se)
	}
	return fmt.Errorf("not valid JSON: %v", err)
}

// checkText refuses valid JSON text that encoding/json would still read
// with a loss: bytes that are not UTF-8 (JSON text must be UTF-8) and
// \u escapes of lone surrogates. Both decode to U+FFFD, so two keys, fields
// or set members that differ only there would merge into one.
func checkText(b []byte) error {
	if !utf8.Valid(b) {
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return fmt.Errorf("not UTF-8 at byte %d (0x%02x): JSON text must be UTF-8", i, b[i])
			}
			i += n
		}
	}
	// In valid JSON a backslash is always inside a string, and starts an
	// escape: the byte after it says which.
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++
		if b[i] != 'u' {
			continue
		}
		r := hex4(b[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return fmt.Errorf("a lone surrogate \\u%04x at byte %d", r, i-5)
		case r >= 0xd800 && r <= 0xdbff:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return fmt.Errorf("a lone surrogate \\u%04x at byte %d", r, i-5)
			}
			if lo := hex4(b[i+3 : i+7]); lo < 0xdc00 || lo > 0xdfff {
				return fmt.Errorf("a lone surrogate \\u%04x at byte %d", r, i-5)
			}
			i += 6
		}
	}
	return nil
}

// hex4 returns the value of four hex digits (valid JSON has them after \u).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}
