package view_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sluicedb/sluice/internal/tmpfs"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestFullDiskKeepsViewFiles: on a full disk (a real tmpfs, filled), opening
// a healthy view file and writing to it fail with the disk's error; the file
// is never moved aside, and once space is free it opens, and a failed file
// recovers, with nothing lost.
func TestFullDiskKeepsViewFiles(t *testing.T) {
	dir := tmpfs.Dir(t, 4<<20)
	if dir == "" {
		return
	}
	path := filepath.Join(dir, "v.db")
	kv := &viewtest.KV{ViewName: "a", ViewVersion: 1}
	f := openFile(t, path, nil, kv)
	apply(t, f, backlog(1, 2000))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noCopies := func() {
		t.Helper()
		if m, _ := filepath.Glob(path + ".broken-*"); len(m) > 0 {
			t.Fatalf("a healthy file was moved aside: %q", m)
		}
	}

	filler := tmpfs.Fill(t, dir)
	for i := 0; i < 4; i++ { // each try used to move another copy aside
		f, err := view.OpenFile(path, []view.View{kv}, view.Options{})
		if err == nil {
			// Opening needed no space: it must still fail to write.
			err = f.Apply(context.Background(), backlog(2001, 3000))
			f.Close()
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("on a full disk: %v, want an error matching ENOSPC", err)
		}
		noCopies()
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the view file changed on a full disk")
	}

	// Space again: the file opens as it was; then a write fails on a full
	// disk, and the file recovers once space is back.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	f = openFile(t, path, nil, kv)
	if got := since(t, f, "a"); got != 2000 {
		t.Fatalf("since %d after the disk was full, want 2000", got)
	}
	filler = tmpfs.Fill(t, dir)
	err = f.Apply(context.Background(), backlog(2001, 6000))
	var ae *view.ApplyError
	if !errors.Is(err, syscall.ENOSPC) || errors.As(err, &ae) && !ae.Storage {
		t.Fatalf("writing on a full disk: %v", err)
	}
	if !errors.Is(f.Err(), view.ErrFailed) {
		t.Fatalf("Err after the failed write: %v", f.Err())
	}
	os.Remove(filler)
	if err := f.Recover(); err != nil {
		t.Fatal(err)
	}
	apply(t, f, backlog(2001, 6000))
	f.Close()
	noCopies()
	db := readDB(t, path)
	if n := queryInt(t, db, `SELECT count(*) FROM a_log`); n != 6000 {
		t.Fatalf("a_log has %d rows, want 6000", n)
	}
}
