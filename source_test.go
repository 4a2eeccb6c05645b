package sluice_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// TestSourceIndexesALogAnotherWriterAppends: a DB opened on a log it only
// reads (Options.Source) indexes what another writer appends, before and
// after Open, keeps each view in its own file (FilePerView), does not
// open DIR/log, and refuses Append with ErrReadOnly.
func TestSourceIndexesALogAnotherWriterAppends(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logDir := filepath.Join(t.TempDir(), "log")
	w, err := log.Open(logDir, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(ctx, local("x", "1"), local("y", "2")); err != nil {
		t.Fatal(err)
	}
	r, err := log.OpenReader(logDir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db := open(t, dir, sluice.Options{Views: []view.View{kv("a"), kv("b")}, Source: r, FilePerView: true})
	seqs, err := w.Append(ctx, local("x", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.WaitFor(ctx, seqs[0]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ q, want string }{
		{`SELECT group_concat(k || '=' || v, ' ') FROM (SELECT k, v FROM a.a_kv ORDER BY k)`, "x=3 y=2"},
		{`SELECT group_concat(k || '=' || v, ' ') FROM (SELECT k, v FROM b.b_kv ORDER BY k)`, "x=3 y=2"},
	} {
		var got string
		if err := db.QueryRow(ctx, tc.q).Scan(&got); err != nil || got != tc.want {
			t.Fatalf("%s: %q, %v; want %q", tc.q, got, err, tc.want)
		}
	}
	if _, err := db.Append(ctx, local("z", "4")); !errors.Is(err, sluice.ErrReadOnly) {
		t.Fatalf("Append to a DB reading Options.Source: %v, want ErrReadOnly", err)
	}
	if db.Log() != nil {
		t.Fatal("Log() of a DB reading Options.Source is not nil")
	}
	for name, want := range map[string]bool{"log": false, "views/a.db": true, "views/b.db": true, "views/app.db": false} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
	if _, err := sluice.Open(dir, sluice.Options{Views: []view.View{kv("a")}, Source: r}); !errors.Is(err, sluice.ErrLocked) {
		t.Fatalf("a second Open of the same directory: %v, want ErrLocked", err)
	}
}

// TestPrepareFile: what PrepareFile records in a view file is there after
// Close; an error from it fails Open and leaves the directory unlocked.
func TestPrepareFile(t *testing.T) {
	dir := t.TempDir()
	record := func(f *view.File) error { return f.SetInfo("built-by", "test "+f.Names()[0]) }
	db := open(t, dir, sluice.Options{Views: []view.View{kv("a")}, FilePerView: true, PrepareFile: record})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := view.OpenFile(filepath.Join(dir, "views", "a.db"), []view.View{kv("a")}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Info("built-by")
	f.Close()
	if err != nil || got != "test a" {
		t.Fatalf("info built-by: %q, %v; want %q", got, err, "test a")
	}
	boom := errors.New("boom")
	_, err = sluice.Open(dir, sluice.Options{Views: []view.View{kv("a")}, PrepareFile: func(*view.File) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("Open with a failing PrepareFile: %v", err)
	}
	open(t, dir, sluice.Options{Views: []view.View{kv("a")}, FilePerView: true})
}
