package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairAcceptLoss: acknowledged entries that vanished (the log's only
// segment emptied) make append, status and repair fail, naming the seqs and
// changing nothing; repair --accept-loss goes on without them, keeping their
// seqs: the next append gets a new one, and status shows the loss.
func TestRepairAcceptLoss(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", "append")
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "0*"))
	os.Truncate(segs[0], 0)

	for _, args := range [][]string{{"append", "--json", "4"}, {"status"}, {"repair"}} {
		r := sluice(t, dir, "", args...)
		if r.code != 1 || !strings.Contains(r.err, "1..3") || !strings.Contains(r.err, "accept-loss") {
			t.Fatalf("sluice %v: %+v; want exit 1 naming seqs 1..3 and --accept-loss", args, r)
		}
	}
	if got := ok(t, dir, "", "repair", "--accept-loss"); !strings.Contains(got, "accepted the loss of acknowledged seqs 1..3") {
		t.Fatalf("repair --accept-loss printed %q", got)
	}
	if got := ok(t, dir, "", "append", "--json", `{"n":4}`); got != "4\n" {
		t.Fatalf("append after the accepted loss printed %q, want seq 4", got)
	}
	if got := ok(t, dir, "", "cat"); got != "{\"n\":4}\n" {
		t.Fatalf("cat printed %q", got)
	}
	var st logStatus
	if err := json.Unmarshal([]byte(ok(t, dir, "", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Head != 4 || st.Mark != 4 || st.Remote != 1 || st.LostSeqs != 3 || len(st.Node) != 32 {
		t.Fatalf("status: %+v", st)
	}
	if got := ok(t, dir, "", "repair", "--json"); !strings.Contains(got, `"last": 4`) {
		t.Fatalf("repair --json printed %q", got)
	}
}
