package index_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/tmpfs"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// noticeHandler sends the messages of the records it handles to a channel.
type noticeHandler struct{ ch chan string }

func (h noticeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h noticeHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r.Message:
	default:
	}
	return nil
}
func (h noticeHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h noticeHandler) WithGroup(string) slog.Handler      { return h }

// TestFollowWaitsOutAFullDisk: when the disk of the view files fills while
// Run follows the log, Run says so and waits instead of failing; once space
// is free, it goes on and the views catch up with nothing lost.
func TestFollowWaitsOutAFullDisk(t *testing.T) {
	dir := tmpfs.Dir(t, 8<<20)
	if dir == "" {
		return
	}
	l := openLog(t, filepath.Join(t.TempDir(), "log")) // not on the tmpfs
	appendKV(t, l, 100, 7, log.Remote)
	path := filepath.Join(dir, "v.db")
	f := openView(t, path, kvView("a"))
	notices := make(chan string, 100)
	ix, _ := index.New(l, []*view.File{f}, index.Options{Logger: slog.New(noticeHandler{notices})})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	if err := ix.WaitFor(ctx, 100); err != nil {
		t.Fatal(err)
	}

	filler := tmpfs.Fill(t, dir)
	recs := make([]log.Record, 50)
	for j := range recs {
		recs[j] = log.Record{Origin: log.Remote, Payload: []byte(`{"k":"big","v":"` + strings.Repeat("x", 4000) + `"}`)}
	}
	seqs, err := l.Append(ctx, recs...)
	if err != nil {
		t.Fatal(err)
	}
	last := seqs[len(seqs)-1]
	// Two notices: Run found the disk full, and, still full after its
	// wait, found it again, without returning.
	for i := 0; i < 2; i++ {
		select {
		case msg := <-notices:
			if !strings.Contains(msg, "disk is full") {
				t.Fatalf("notice %q", msg)
			}
		case err := <-done:
			t.Fatalf("Run returned on a full disk: %v", err)
		case <-ctx.Done():
			t.Fatal("no notice of the full disk")
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := ix.WaitFor(ctx, last); err != nil {
		t.Fatalf("after space was freed: %v", err)
	}
	cancel()
	<-done
	checkKV(t, path, "a", l)
}
