//go:build firstuser

package firstuser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestAcceptLossKeepsIntactRecords: 20 records appended in one call, in
// sync mode, acknowledged (the durable mark says 20). Then the segment
// loses its last 3 bytes (damage to the last record only). Open fails with
// a LostError for seqs 1..20, and sluice repair --accept-loss (Options.
// AcceptLoss) then keeps all 20 as lost — though records 1..19 are intact
// and acknowledged: the atomic-append rule (an Append whose last record is
// missing is cut whole) is applied to an Append that was acknowledged, so
// 3 bytes of damage cost 19 intact entries. With sluice append, every line
// of stdin is one call: one damaged byte at the end can take thousands.
//
// Expected: an acknowledged Append (at or below the durable mark) is not
// cut whole for damage to its tail; AcceptLoss loses only seq 20.
func TestAcceptLossKeepsIntactRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := log.Open(dir, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []log.Record
	for i := 1; i <= 20; i++ {
		recs = append(recs, log.Record{Origin: log.Remote, Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	if _, err := l.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := lastSegment(t, dir)
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Open(dir, log.Options{}); !errors.Is(err, log.ErrLost) {
		t.Fatalf("Open of the damaged log: %v, want a LostError", err)
	}
	l, err = log.Open(dir, log.Options{AcceptLoss: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Logf("loss accepted: %v", l.Lost())
	var lost []int
	for i := 1; i <= 19; i++ {
		e, err := l.Get(log.Seq(i))
		if err != nil {
			lost = append(lost, i)
			continue
		}
		if want := fmt.Sprintf(`{"i":%d}`, i); string(e.Payload) != want {
			t.Errorf("seq %d: payload %q, want %q", i, e.Payload, want)
		}
	}
	if len(lost) > 0 {
		t.Errorf("accepting the loss of the damaged seq 20 also gave up %d intact acknowledged entries: seqs %v", len(lost), lost)
	}
}

// lastSegment returns the path of the segment file of the log in dir with
// the highest first seq (segments are named by 20 digits).
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seg := regexp.MustCompile(`^[0-9]{20}$`)
	last := ""
	for _, e := range ents {
		if seg.MatchString(e.Name()) && e.Name() > last {
			last = e.Name()
		}
	}
	if last == "" {
		t.Fatalf("no segment in %s", dir)
	}
	return filepath.Join(dir, last)
}
