package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppendRefusesBadPayloads: append checks every value before writing
// (invalid UTF-8, nesting past the limit, not JSON, trailing data), names
// the line and the byte (counted from the start of the line, by hand
// here), and appends nothing. (Before: invalid UTF-8 was appended, and
// deep nesting was "not a valid JSON value".)
func TestAppendRefusesBadPayloads(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	cases := []struct {
		name, in string
		want     string
	}{
		{"invalid UTF-8", "{\"a\":1}\n  \"ok \xff\"\n", "standard input line 2, byte 7: invalid UTF-8"},
		{"a lone continuation byte", "\"\x80\"", "standard input line 1, byte 2: invalid UTF-8"},
		{"too deep", "1\n2\n" + deep + "\n", "standard input line 3, byte 10001: JSON nested deeper than 10000 levels, the limit"},
		{"not JSON", "{\"a\":1}\n{\"a\" 1}\n", "standard input line 2, byte 6: not a valid JSON value: invalid character '1' after object key"},
		{"two values on a line", "[1] [2]\n", "standard input line 1, byte 5: not a valid JSON value: invalid character '[' after top-level value"},
		{"cut short", "{\"a\":[1,\n", "standard input line 1: not a valid JSON value: it ends before the value does"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := sluice(t, dir, c.in, "append")
			if r.code != 1 || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "nothing was appended") {
				t.Fatalf("append of %.40q: exit %d, %q\nwant %q", c.in, r.code, r.err, c.want)
			}
			if r := sluice(t, dir, "", "cat"); r.code != 1 || !strings.Contains(r.err, "no log") {
				t.Fatalf("a refused append created a log: %+v", r)
			}
			// The same value with --json is a usage error saying the same.
			lines := strings.Split(strings.TrimSpace(c.in), "\n")
			v := strings.TrimSpace(lines[len(lines)-1]) // the bad one
			if r := sluice(t, dir, "", "append", "--json", v); r.code != 2 || !strings.Contains(r.err, "--json") {
				t.Fatalf("append --json %.40q: %+v", v, r)
			}
		})
	}
	if r := sluice(t, t.TempDir(), "", "append", "--json", deep); r.code != 2 || !strings.Contains(r.err, "nested deeper than 10000 levels, the limit") {
		t.Fatalf("append --json of deep nesting: exit %d, %.300s", r.code, r.err)
	}
	// 10000 levels are fine.
	ok(t, t.TempDir(), strings.Repeat("[", 10000)+strings.Repeat("]", 10000), "append")
}

// TestCatJSONAlwaysValid: cat --json prints valid JSON for every entry,
// whatever its payload holds (written here straight to the log, as a log
// from before append checked, or another program, may hold it): JSON as
// it is, other UTF-8 text as a string, other bytes in payload_base64.
func TestCatJSONAlwaysValid(t *testing.T) {
	dir := t.TempDir()
	payloads := [][]byte{[]byte(`{"a":1}`), []byte("\"bad \xff utf-8\""), []byte("plain text"), {0xc3, 0x28, 0, 1}, []byte(`[1,2]`)}
	writeLog(t, dir, payloads, nil)
	out := ok(t, dir, "", "cat", "--json")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(payloads) {
		t.Fatalf("cat --json printed %d lines, want %d:\n%s", len(lines), len(payloads), out)
	}
	for i, line := range lines {
		if !json.Valid([]byte(line)) || !utf8.ValidString(line) {
			t.Fatalf("line %d is not valid JSON in UTF-8: %q", i+1, line)
		}
		var e struct {
			Seq     int
			Payload json.RawMessage
			Base64  []byte `json:"payload_base64"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		var got []byte
		switch i {
		case 0, 4: // JSON, as it is
			got = e.Payload
		case 2: // a string
			var s string
			json.Unmarshal(e.Payload, &s)
			got = []byte(s)
		default: // not UTF-8: base64, and no payload
			if e.Payload != nil {
				t.Fatalf("line %d: payload %s beside payload_base64", i+1, e.Payload)
			}
			got = e.Base64
		}
		if e.Seq != i+1 || !bytes.Equal(got, payloads[i]) {
			t.Fatalf("line %d: seq %d, payload %q; want %d, %q", i+1, e.Seq, got, i+1, payloads[i])
		}
	}
}
