package query_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestWaitForLooksOnce: with a context that has already ended, WaitFor
// still looks once: nil when the entry shows, the context's error when it
// does not. (Before, it failed at once in both cases, so a zero timeout
// could never succeed.)
func TestWaitForLooksOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	f, err := view.OpenFile(path, []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &view.Batch{From: 1, To: 2, Entries: []log.Entry{{Seq: 1, Payload: viewtest.Payload("a", "x")}, {Seq: 2, Payload: viewtest.Payload("b", "y")}}}
	if err := f.Apply(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	db, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.WaitFor(ended, 2); err != nil {
		t.Errorf("WaitFor(ended ctx, 2) on a view at since 2 = %v, want nil", err)
	}
	if err := db.WaitFor(ended, 2, "kv"); err != nil {
		t.Errorf("WaitFor(ended ctx, 2, kv) = %v, want nil", err)
	}
	if err := db.WaitFor(ended, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor(ended ctx, 3) = %v, want context.Canceled", err)
	}
}
