package view_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// refusing is viewtest.KV whose writer fails on every batch holding the
// entry at seq bad.
type refusing struct {
	viewtest.KV
	bad log.Seq
}

func (v *refusing) Open(c *view.Conn) (view.Writer, error) {
	w, err := v.KV.Open(c)
	return &refusingWriter{Writer: w, bad: v.bad}, err
}

type refusingWriter struct {
	view.Writer
	bad log.Seq
}

func (w *refusingWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		if it.Seq == w.bad {
			return errors.New("refused")
		}
	}
	return w.Writer.Apply(ctx, tx, items)
}

// TestErrWhileFailing reads File.Err on another goroutine while a batch
// fails: under -race, the failure's write and the read must be ordered.
func TestErrWhileFailing(t *testing.T) {
	f := openFile(t, filepath.Join(t.TempDir(), "v.db"), nil, &refusing{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}, bad: 7})
	seen := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; i < 10_000_000 && time.Now().Before(deadline); i++ {
			if err := f.Err(); err != nil {
				seen <- err
				return
			}
			runtime.Gosched()
		}
		seen <- nil
	}()
	err := f.Apply(context.Background(), backlog(1, 10))
	var ae *view.ApplyError
	if !errors.As(err, &ae) || ae.View != "a" || ae.Seq != 7 {
		t.Fatalf("Apply: %v, want an ApplyError for view a at seq 7", err)
	}
	if err := <-seen; !errors.Is(err, view.ErrFailed) || !errors.As(err, &ae) {
		t.Fatalf("Err seen by another goroutine: %v", err)
	}
}
