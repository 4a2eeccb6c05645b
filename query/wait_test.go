package query_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestWaitForNewFile waits on a view file an indexer has only just
// created (empty): WaitFor waits for its views instead of failing, and
// returns once they show the entry.
func TestWaitForNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = db.WaitFor(short, 2)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "holds no sluice view yet") {
		t.Fatalf("WaitFor on a file without views = %v, want the deadline, saying why", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- db.WaitFor(ctx, 2, "kv") }()
	f, err := view.OpenFile(path, []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for seq := log.Seq(1); seq <= 2; seq++ {
		b := &view.Batch{From: seq, To: seq, Entries: []log.Entry{{Seq: seq, Payload: viewtest.Payload("k", "v")}}}
		if err := f.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitFor(2) = %v once the view shows seq 2", err)
	}

	// Now that the file holds its views, an unknown name fails at once.
	if err := db.WaitFor(ctx, 1, "nope"); err == nil || !strings.Contains(err.Error(), `no view named "nope"`) {
		t.Fatalf("WaitFor with an unknown view = %v", err)
	}
}
