package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestPulledLostViewsAhead: an OS crash loses the pulled entries that no
// fsync covered yet (AppendNoSync), after the device's view applied them.
// The log opens with no loss (its durable mark never covered them), and
// the view, ahead of the log, is rebuilt — whether the indexer starts
// before the client pulls the same entries again (its since is past the
// log's end) or after (the log holds other entries at those seqs: appended
// at another time). Either way it ends equal to a view built from scratch.
func TestPulledLostViewsAhead(t *testing.T) {
	for _, pullFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("pull first %v", pullFirst), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			srv := openLog(t)
			for i := range 20 {
				if _, err := srv.Append(ctx, log.Record{Payload: viewtest.Payload(fmt.Sprintf("k%d", i%7), fmt.Sprintf("s%d", i))}); err != nil {
					t.Fatal(err)
				}
			}
			url, _ := serveLog(t, srv, ServerOptions{})

			// The device: one local entry (synced), then a pull (not).
			devDir := filepath.Join(dir, "dev")
			dev, err := log.Open(devDir, log.Options{Durability: log.SyncAlways})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			if _, err := dev.Append(ctx, log.Record{Payload: viewtest.Payload("k0", "local")}); err != nil {
				t.Fatal(err)
			}
			seg := filepath.Join(devDir, fmt.Sprintf("%020d", 1))
			st, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			synced := st.Size()
			if _, err := newClient(t, dev, ClientOptions{}).Pull(ctx, Peer{URL: url}); err != nil {
				t.Fatal(err)
			}
			if last, _ := dev.Last(); last != 21 || dev.Mark() != 1 {
				t.Fatalf("after the pull: last %d, mark %d; want 21 and 1", last, dev.Mark())
			}
			viewPath := filepath.Join(dir, "kv.db")
			indexInto(t, dev, viewPath, nil)

			// The OS crash: the disk holds the log as the last fsync left
			// it (the tail segment cut back to its synced size, HEAD as
			// is) and the view file as committed, ahead of it.
			crashDir := filepath.Join(dir, "crashed")
			copyDir(t, devDir, crashDir)
			if err := os.Truncate(filepath.Join(crashDir, filepath.Base(seg)), synced); err != nil {
				t.Fatal(err)
			}
			dev.Close()
			after, err := log.Open(crashDir, log.Options{Durability: log.SyncAlways})
			if err != nil {
				t.Fatalf("open the log after the crash: %v (nothing acknowledged was lost)", err)
			}
			defer after.Close()
			if last, _ := after.Last(); last != 1 {
				t.Fatalf("the crashed log ends at %d, want 1", last)
			}

			var notes []string
			logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
			pull := func() {
				if _, err := newClient(t, after, ClientOptions{}).Pull(ctx, Peer{URL: url}); err != nil {
					t.Fatal(err)
				}
			}
			if pullFirst {
				pull()
				indexInto(t, after, viewPath, logf)
			} else {
				indexInto(t, after, viewPath, logf)
				pull()
				indexInto(t, after, viewPath, logf)
			}
			if last, _ := after.Last(); last != 21 {
				t.Fatalf("after pulling again the log ends at %d, want 21", last)
			}
			t.Logf("notices: %q", notes)
			if len(notes) == 0 || !strings.Contains(strings.Join(notes, "\n"), "rebuil") {
				t.Fatalf("notices %q: want the view ahead of the log rebuilt", notes)
			}
			freshPath := filepath.Join(dir, "fresh.db")
			indexInto(t, after, freshPath, nil)
			got, err := viewtest.Dump(viewPath)
			if err != nil {
				t.Fatal(err)
			}
			want, err := viewtest.Dump(freshPath)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("the view after the crash differs from one built from scratch:\n%s", viewtest.Diff(got, want))
			}
		})
	}
}

// indexInto indexes l into a KV view file at path, up to l's end, and
// closes the file.
func indexInto(t *testing.T, l *log.Log, path string, logf func(string, ...any)) {
	t.Helper()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	f, err := view.OpenFile(path, []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}
