package view_test

import (
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// smallPages is a KV view that asks for 512-byte pages.
type smallPages struct{ *viewtest.KV }

func (smallPages) PageSize() int { return 512 }

// badPages asks for a size SQLite has not: ignored.
type badPages struct{ *viewtest.KV }

func (badPages) PageSize() int { return 3000 }

// TestPageSize: a new file takes the smallest page size its views ask for
// (view.PageSizer), 16 KiB when none does; an existing file keeps its own.
// The size is read back with SQLite's own PRAGMA, not from the view package.
func TestPageSize(t *testing.T) {
	dir := t.TempDir()
	kv := func(name string) *viewtest.KV { return &viewtest.KV{ViewName: name, ViewVersion: 1} }
	for _, tc := range []struct {
		name  string
		views []view.View
		want  int
	}{
		{"default", []view.View{kv("a")}, 16384},
		{"asked", []view.View{smallPages{kv("a")}}, 512},
		{"smallest of the file's views", []view.View{kv("a"), smallPages{kv("b")}}, 512},
		{"invalid size ignored", []view.View{badPages{kv("a")}}, 16384},
	} {
		path := filepath.Join(dir, tc.name+".db")
		f, err := view.OpenFile(path, tc.views, view.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := pageSizeOf(t, path); got != tc.want {
			t.Errorf("%s: page size %d, want %d", tc.name, got, tc.want)
		}
	}
	// An existing file keeps its size, whatever its views ask for now.
	path := filepath.Join(dir, "default.db")
	f, err := view.OpenFile(path, []view.View{smallPages{kv("a")}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := pageSizeOf(t, path); got != 16384 {
		t.Errorf("existing file: page size %d, want its own 16384", got)
	}
}

func pageSizeOf(t *testing.T, path string) int {
	t.Helper()
	db := readDB(t, path)
	var n int
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
