package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONLines checks the JSON lines reader against a plain reading of
// the same bytes (split at '\n', trimmed, blank lines skipped, each line
// checked with encoding/json and unicode/utf8): the same values in the
// same order, and an error exactly when a line fails, naming that line;
// a byte it names lies within the line. It never panics.
func FuzzJSONLines(f *testing.F) {
	for _, s := range []string{"", "1\n2\n", "{\"a\":1}\n\n  [1,2] \r\n", "\"\xff\"\n", "[1] [2]", "{\"a\":\n", "  \n\t\n", strings.Repeat("[", 10001)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want [][]byte
		bad := 0 // line number of the first bad line, 0 if none
		for i, line := range bytes.Split(in, []byte("\n")) {
			v := bytes.TrimSpace(line)
			if len(v) == 0 {
				continue
			}
			if !json.Valid(v) || !utf8.Valid(v) || len(v) > maxPayload {
				bad = i + 1
				break
			}
			want = append(want, v)
		}
		r := newJSONLines(bytes.NewReader(in), "input")
		var got [][]byte
		var err error
		for {
			v, ok, e := r.next()
			if e != nil || !ok {
				err = e
				break
			}
			got = append(got, bytes.Clone(v))
		}
		if (err != nil) != (bad != 0) {
			t.Fatalf("error %v, want a bad line %d", err, bad)
		}
		if err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("input line %d", bad)) {
			t.Fatalf("error %q, want it to name line %d", err, bad)
		}
		if len(got) != len(want) {
			t.Fatalf("%d values, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("value %d = %q, want %q", i+1, got[i], want[i])
			}
		}
		if err != nil && strings.Contains(err.Error(), ", byte ") {
			line := bytes.Split(in, []byte("\n"))[bad-1]
			var at int
			fmt.Sscanf(err.Error()[strings.Index(err.Error(), ", byte ")+len(", byte "):], "%d", &at)
			if at < 1 || at > len(line)+1 {
				t.Fatalf("error %q names byte %d of a %d-byte line", err, at, len(line))
			}
		}
	})
}
