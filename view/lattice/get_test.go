package lattice_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestGetThroughQuery: Get reads through a query.DB that attaches the
// lattice view file beside another view file; a user without private keys
// and user "" get the shared keys, an unknown namespace an empty
// dictionary; without the lattice tables, Get fails saying so.
func TestGetThroughQuery(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	lf, _ := newFile(t, dir)
	kf, err := view.OpenFile(filepath.Join(dir, "kv.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries := []log.Entry{
		{Seq: 1, Payload: []byte(seedDeltas[0])},
		{Seq: 2, Payload: viewtest.Payload("k", "v")},
		{Seq: 3, Payload: []byte(seedDeltas[1])},
	}
	for _, f := range []*view.File{lf, kf} {
		if err := f.Apply(ctx, &view.Batch{Entries: entries, From: 1, To: 3}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := query.OpenDir(dir, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shared := `{"room1":{"last_message_counter":123},"room2":{"last_message_counter":246}}`
	for _, tc := range []struct{ ns, user, want string }{
		{"chat.rooms", "7777", `{"room1":{"last_message_counter":123,"last_seen_counter":120},"room2":{"last_message_counter":246,"last_seen_counter":246}}`},
		{"chat.rooms", "8734", `{"room1":{"last_message_counter":123,"last_seen_counter":123},"room2":{"last_message_counter":246,"last_seen_counter":24}}`},
		{"chat.rooms", "1234", shared},
		{"chat.rooms", "", shared},
		{"chat.other", "7777", `{}`},
	} {
		d, err := lattice.Get(ctx, db.SQL(), tc.ns, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, d); got != tc.want {
			t.Errorf("Get(%q, %q) = %s, want %s", tc.ns, tc.user, got, tc.want)
		}
	}

	kvOnly, err := query.Open([]string{filepath.Join(dir, "kv.db")}, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer kvOnly.Close()
	_, err = lattice.Get(ctx, kvOnly.SQL(), "chat.rooms", "7777")
	if err == nil || !strings.Contains(err.Error(), `lattice get "chat.rooms" for user "7777"`) || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("Get without the lattice view: %v", err)
	}
}
