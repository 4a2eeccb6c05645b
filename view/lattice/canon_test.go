package lattice

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCanonical checks canonical's fast paths (scalars written as
// encoding/json writes them are kept as they are) against the slow path
// that decodes and marshals every value.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`"a"`, `"é"`, `"<"`, `"a\u0062"`, `"\u2028"`, "\"\xff\"", `1`, `-0`, `1.50`, `1e400`,
		`12345678901234567890`, `true`, `null`, ` "x" `, `{"b":1,"a":2}`, `[1, 2.0]`, `"a`, `+1`, `0x10`, `Infinity`, `1_000`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := canonical(raw)
		if !json.Valid(raw) {
			if err == nil {
				t.Fatalf("canonical(%q) = %s, but it is not JSON", raw, got)
			}
			return
		}
		want, werr := canonicalSlow(raw)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("canonical(%q) = %s, %v; the slow path gives %s, %v", raw, got, err, want, werr)
		}
		if err == nil {
			if again, err := canonical(got); err != nil || !bytes.Equal(again, got) {
				t.Fatalf("canonical(%q) = %s, not a fixpoint: %s, %v", raw, got, again, err)
			}
		}
	})
}
