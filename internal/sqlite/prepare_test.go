package sqlite

import (
	"strings"
	"testing"
)

// TestPrepareOneStatement: Prepare takes one statement, with any trailing
// semicolons, whitespace and comments (-- and /* */); a second statement
// after it, or anything else that is not a comment, is refused. (Before, a
// trailing comment counted as a second statement.)
func TestPrepareOneStatement(t *testing.T) {
	c, err := Open(":memory:", OpenReadWrite|OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"SELECT 1", "SELECT 1;", "SELECT 1; -- c", "SELECT 1 -- c", "SELECT 1;\n-- a\n-- b\n", "SELECT 1; /* c */ ;; ",
		"SELECT 1; /* unterminated", "-- lead\nSELECT 1;"} {
		s, err := c.Prepare(q)
		if err != nil {
			t.Errorf("Prepare(%q) = %v, want one statement", q, err)
			continue
		}
		s.Close()
	}
	for _, q := range []string{"SELECT 1; SELECT 2", "SELECT 1; -- c\nSELECT 2", "SELECT 1; nonsense", "SELECT 1; /* c */ SELECT 2;", "SELECT 1; SELECT nope FROM nowhere"} {
		if _, err := c.Prepare(q); err == nil || !strings.Contains(err.Error(), "more than one statement") {
			t.Errorf("Prepare(%q) = %v, want more than one statement", q, err)
		}
	}
}
