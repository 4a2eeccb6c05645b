package sluice_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// panicky is a Go view whose Apply panics (a bug in the application).
type panicky struct{}

func (panicky) Name() string      { return "panicky" }
func (panicky) Version() int      { return 1 }
func (panicky) Schema() []string  { return []string{`CREATE TABLE panicky(x)`} }
func (panicky) Indexes() []string { return nil }
func (panicky) Open(c *view.Conn) (view.Writer, error) {
	return panickyWriter{}, nil
}

type panickyWriter struct{}

func (panickyWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	var m map[string]int
	m["boom"]++ // a nil map: panics
	return nil
}
func (panickyWriter) Close() error { return nil }

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPanicInApplyStopsIndexing: a panic in a Go view's Apply, which runs
// on the DB's goroutine, does not kill the program: AppendAndWait and Err
// return a *view.ApplyError naming the view and the entry, holding a
// *view.PanicError, and the stack goes to Options.Logger. (Before the fix
// the program died.)
func TestPanicInApplyStopsIndexing(t *testing.T) {
	var logged syncBuffer
	db := open(t, t.TempDir(), sluice.Options{Views: []view.View{panicky{}}, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seqs, err := db.AppendAndWait(ctx, log.Record{Origin: log.Local, Payload: []byte(`{}`)})
	var ae *view.ApplyError
	var pe *view.PanicError
	if !errors.As(err, &ae) || ae.View != "panicky" || ae.Seq != seqs[0] || !errors.As(err, &pe) {
		t.Fatalf("AppendAndWait: %v, want an ApplyError of view panicky at seq %d holding a PanicError", err, seqs[0])
	}
	select {
	case <-db.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
	if !errors.As(db.Err(), &pe) {
		t.Fatalf("Err: %v", db.Err())
	}
	if !strings.Contains(logged.String(), "panic_test.go") {
		t.Errorf("the logger did not receive the panic's stack: %s", logged.String())
	}
}
