package lattice_test

import (
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestMarkedMalformedDeltasAreRejected: entries marked as deltas that are
// not valid JSON (a trailing comma, a leading zero, a brace too many),
// and deltas whose keys hold invalid UTF-8 or lone surrogates, are
// rejected into sluice_rejects; keys that differ only in such bytes never
// merge. (Before: the first three were ignored without a trace, and the
// keys "k\xff" and "k\xfe" merged into one key "k\uFFFD".)
func TestMarkedMalformedDeltasAreRejected(t *testing.T) {
	payloads := []string{
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1,}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":01}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1}}}}`,
		"{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\xff\":{\"s_set\":[\"a\"]}}}",
		"{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\xfe\":{\"s_set\":[\"b\"]}}}",
		`{"sluice":"lattice","namespace":"n","shared":{"k\udc01":{"s_set":["c"]}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"s_set":["\ud801"]}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"ok":{"c_counter":3}}}`, // the one good delta
	}
	var entries []log.Entry
	for i, p := range payloads {
		entries = append(entries, log.Entry{Seq: log.Seq(i + 1), Origin: log.Local, Payload: []byte(p)})
	}
	path := indexLog(t, entries, live, nil)
	db := openDB(t, path)
	var want rows
	for i := range payloads[:len(payloads)-1] {
		want = append(want, "lattice|"+string(rune('1'+i)))
	}
	if got := queryRows(t, db, `SELECT view, seq FROM sluice_rejects`); got.String() != want.String() {
		t.Errorf("rejected:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range queryRows(t, db, `SELECT error FROM sluice_rejects`) {
		if !strings.Contains(r, "not valid JSON") && !strings.Contains(r, "not UTF-8") && !strings.Contains(r, "lone surrogate") {
			t.Errorf("reject message %q says neither what nor where", r)
		}
	}
	if got := queryRows(t, db, `SELECT key, field FROM lattice_fields`).String(); got != "ok|c_counter" {
		t.Errorf("lattice_fields:\n%s\nwant only the good delta's ok|c_counter", got)
	}
}
