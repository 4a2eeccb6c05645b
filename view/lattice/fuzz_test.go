package lattice_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/view/lattice"
)

// FuzzParseDelta checks that ParseDelta never panics, sorts every payload
// the way encoding/json reads it (a JSON object whose "sluice" member is
// the string "lattice" is a delta, valid or not, and so is text that is
// not valid JSON but holds that member; anything else is not a delta), and that a valid delta's canonical form parses back to itself.
// Its seed corpus (testdata/fuzz/FuzzParseDelta) holds the seed's chat
// deltas, deltas with every kind of value, and broken ones.
func FuzzParseDelta(f *testing.F) {
	for _, b := range badDeltas {
		f.Add([]byte(b.payload))
	}
	for _, p := range notDeltas {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := lattice.ParseDelta(payload)
		marked := markedObject(payload)
		switch {
		case errors.Is(err, lattice.ErrNotDelta):
			if marked {
				t.Fatalf("ParseDelta(%q): not a delta, but encoding/json reads a marked object", payload)
			}
			return
		case !marked:
			t.Fatalf("ParseDelta(%q) = %v, but encoding/json reads no marked object", payload, err)
		case err != nil:
			var fe *lattice.FieldError
			if !errors.Is(err, lattice.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("ParseDelta(%q) = %v, neither ErrNotDelta nor a *FieldError", payload, err)
			}
			return
		}
		canon, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("ParseDelta(%q) gave a delta that does not marshal: %v", payload, err)
		}
		d2, err := lattice.ParseDelta(canon)
		if err != nil {
			t.Fatalf("the canonical form %s of %q does not parse: %v", canon, payload, err)
		}
		again, err := json.Marshal(d2)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical form not stable: %s, then %s (%v)", canon, again, err)
		}
		if in, out := fieldsOf(t, payload), fieldsOf(t, canon); in != out {
			t.Fatalf("ParseDelta(%q) read the fields\n%s\nencoding/json reads\n%s", payload, out, in)
		}
	})
}

// fieldsOf lists, as encoding/json reads a valid delta, every field of
// every owner and key, with a counter's value, sorted.
func fieldsOf(t *testing.T, payload []byte) string {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var top struct {
		Shared  map[string]map[string]any
		Private map[string]map[string]map[string]any
	}
	if err := dec.Decode(&top); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", payload, err)
	}
	var lines []string
	add := func(owner string, d map[string]map[string]any) {
		for key, fields := range d {
			for field, v := range fields {
				line := fmt.Sprintf("%q %q %q", owner, key, field)
				if n, ok := v.(json.Number); ok && strings.HasSuffix(field, "_counter") {
					i, err := strconv.ParseInt(string(n), 10, 64)
					if err != nil {
						t.Fatalf("counter %s of %q: %v", n, payload, err)
					}
					line += fmt.Sprint(" ", i)
				}
				lines = append(lines, line)
			}
		}
	}
	add("", top.Shared)
	for user, d := range top.Private {
		add(user, d)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// markedObject reports whether payload was meant as a delta: encoding/json
// reads it as one JSON object whose "sluice" member is the string
// "lattice", or it is not valid JSON but holds that member, written as
// such.
func markedObject(payload []byte) bool {
	if !json.Valid(payload) {
		return regexp.MustCompile(`"sluice"[ \t\r\n\f\v\x85\xa0]*:[ \t\r\n\f\v\x85\xa0]*"lattice"`).Match(payload)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // numbers too big for a float64 are still JSON
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false
	}
	return top["sluice"] == lattice.Marker
}
