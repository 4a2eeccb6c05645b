//go:build firstuser

package firstuser

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/lattice"
)

// TestLatticeMarkedMalformedJSONIsRejected: a payload that starts as a
// lattice delta, {"sluice":"lattice", …}, but is not valid JSON (a
// trailing comma, a leading zero, one brace too many — a typo in an
// application's hand-built delta) is silently ignored as "not a lattice
// delta": nothing is applied, and nothing in sluice_rejects says why.
// A marked delta with a wrong value type, by contrast, is rejected with a
// message naming the field.
//
// Expected: an entry marked as a delta that cannot be parsed is rejected
// (recorded in sluice_rejects), so the lost update can be found.
func TestLatticeMarkedMalformedJSONIsRejected(t *testing.T) {
	db := openDB(t, t.TempDir(), lattice.View{})
	ctx := timeout(t, 20*time.Second)
	bad := []string{
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1,}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":01}}}`,
		`{"sluice":"lattice","namespace":"n","shared":{"k":{"c_counter":1}}}}`,
	}
	var recs []log.Record
	for _, b := range bad {
		recs = append(recs, log.Record{Origin: log.Local, Payload: []byte(b)})
	}
	seqs, err := db.AppendAndWait(ctx, recs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, seq := range seqs {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM sluice_rejects WHERE seq = ?`, seq).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("malformed delta %s (seq %d): not rejected, silently ignored", bad[i], seq)
		}
	}
}

// TestLatticeInvalidUTF8KeysStayDistinct: deltas whose key names (or set
// members) hold invalid UTF-8 are accepted, and canonicalization turns
// each bad byte into U+FFFD: the keys "k\xff" and "k\xfe" become one key
// "k\uFFFD" and their fields merge. The Go API lets an application append
// such bytes (only the CLI checks UTF-8).
//
// Expected: a delta with invalid UTF-8 is rejected as malformed (JSON text
// must be UTF-8), or the two keys stay distinct.
func TestLatticeInvalidUTF8KeysStayDistinct(t *testing.T) {
	db := openDB(t, t.TempDir(), lattice.View{})
	ctx := timeout(t, 20*time.Second)
	seqs, err := db.AppendAndWait(ctx,
		log.Record{Origin: log.Local, Payload: []byte("{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\xff\":{\"s_set\":[\"a\"]}}}")},
		log.Record{Origin: log.Local, Payload: []byte("{\"sluice\":\"lattice\",\"namespace\":\"n\",\"shared\":{\"k\xfe\":{\"s_set\":[\"b\"]}}}")},
	)
	if err != nil {
		t.Fatal(err)
	}
	var rejected int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM sluice_rejects WHERE seq IN (?, ?)`, seqs[0], seqs[1]).Scan(&rejected); err != nil {
		t.Fatal(err)
	}
	d, err := lattice.Get(context.Background(), db.QueryDB().SQL(), "n", "")
	if err != nil {
		t.Fatal(err)
	}
	if rejected == 2 || len(d) == 2 {
		return
	}
	b, _ := json.Marshal(d)
	t.Errorf("two deltas with different keys (bytes ff and fe) gave %d key(s) and %d reject(s): %s", len(d), rejected, b)
}
