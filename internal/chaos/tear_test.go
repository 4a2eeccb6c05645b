package chaos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// unsyncedTail makes a log whose durable mark is 3 and whose last 4
// entries (seqs 4–7, appended with durability none) are past it, as a
// writer killed before syncing them leaves it: the files are copied while
// the writer still holds the log, before Close would sync them. It returns
// the copy's directory.
func unsyncedTail(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "log")
	l, err := log.Open(src, log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 1; i <= 7; i++ {
		if _, err := l.Append(ctx, log.Record{Origin: log.Local, Payload: fmt.Appendf(nil, `{"chaos":"t","n":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	dst := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil && !errors.Is(err, fs.ErrInvalid) {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dst, "LOCK"))
	if m, err := log.ReadMark(dst); err != nil || m != 3 {
		t.Fatalf("the copy's mark is %d (%v), want 3", m, err)
	}
	return dst
}

// TestTearTail: a tear that may lose cuts a record past the mark in the
// middle, and Open keeps exactly the records before it; one that may not
// adds a partial record, which Open cuts off, keeping all seven. Open
// reports the repair and never a loss of acknowledged entries.
func TestTearTail(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		for _, mayLose := range []bool{true, false} {
			t.Run(fmt.Sprintf("seed%d/mayLose=%v", seed, mayLose), func(t *testing.T) {
				dir := unsyncedTail(t)
				tr, err := tearTail(dir, rand.New(rand.NewPCG(seed, 0)), mayLose)
				if err != nil {
					t.Fatal(err)
				}
				want := 7
				if mayLose {
					if tr.Cut < 4 || tr.Cut > 7 || tr.Bytes <= 0 {
						t.Fatalf("tear %s: want a cut in seqs 4-7", tr)
					}
					want = int(tr.Cut) - 1
				} else if tr.Cut != 0 || tr.Bytes >= 0 {
					t.Fatalf("tear %s: want a partial record added", tr)
				}
				l, err := log.Open(dir, log.Options{})
				if err != nil {
					t.Fatalf("open after %s: %v", tr, err)
				}
				defer l.Close()
				if len(l.Repairs()) == 0 {
					t.Fatalf("open after %s reported no repair", tr)
				}
				if last, _ := l.Last(); int(last) != want {
					t.Fatalf("after %s the log ends at %d, want %d", tr, last, want)
				}
			})
		}
	}
}
