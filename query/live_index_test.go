package query_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestLiveIndexerNotifier runs an index.Indexer in this process as the
// Live's Notifier, with the watch off and an hour-long poll: every result
// after the first can only come from the Indexer's commit notices.
func TestLiveIndexerNotifier(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Mkdir(filepath.Join(dir, "views"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := view.OpenFile(filepath.Join(dir, "views", "kv.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()

	_, live := openLive(t, filepath.Join(dir, "views"), query.LiveOptions{Notifier: ix, NoWatch: true, Poll: time.Hour})
	s, err := live.Subscribe(ctx, `SELECT group_concat(k || '=' || v, ' ') FROM (SELECT k, v FROM kv_kv ORDER BY k)`)
	if err != nil {
		t.Fatal(err)
	}
	if r := next(t, s); rowsOf(r) != "<nil>" {
		t.Fatalf("first result %q, want one NULL row", rowsOf(r))
	}
	want := []string{"a=1", "a=1 b=2", "a=1 b=3", "a=4 b=3"}
	for i, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"b", "3"}, {"a", "4"}} {
		seqs, err := l.Append(ctx, log.Record{Origin: log.Local, Payload: viewtest.Payload(kv[0], kv[1])})
		if err != nil {
			t.Fatal(err)
		}
		r := next(t, s)
		for !r.Shows("kv", seqs[0]) {
			r = next(t, s)
		}
		if rowsOf(r) != want[i] {
			t.Fatalf("after seq %d: %q, want %q", seqs[0], rowsOf(r), want[i])
		}
	}
}
