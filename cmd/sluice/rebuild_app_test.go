package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	sluicedb "github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestRebuildAppView: sluice rebuild finds a view a Go program keeps in
// views/app.db (package sluice), drops its tables, and the program
// rebuilds it when it next opens the directory.
func TestRebuildAppView(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	opts := sluicedb.Options{Views: []view.View{&viewtest.KV{ViewName: "todos", ViewVersion: 1}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := sluicedb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendAndWait(ctx, log.Record{Origin: log.Local, Payload: viewtest.Payload("a", "b")}); err != nil {
		t.Fatal(err)
	}
	// While the program runs, it holds the views: rebuild is refused.
	if r := sluice(t, dir, "", "rebuild", "todos"); r.code != 1 || !strings.Contains(r.err, "another sluice process") {
		t.Fatalf("rebuild while the program runs: %+v", r)
	}
	db.Close()

	r := sluice(t, dir, "", "rebuild", "todos")
	if r.code != 0 || !strings.Contains(r.err, "app.db") || !strings.Contains(r.err, "when it next opens") {
		t.Fatalf("rebuild todos: %+v", r)
	}
	if out := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM sqlite_master WHERE name = 'todos_kv'"); strings.TrimSpace(out) != "count(*)\n0" {
		t.Fatalf("todos_kv after rebuild: %q", out)
	}
	db, err = sluicedb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow(ctx, `SELECT v FROM todos_kv WHERE k = 'a'`).Scan(&v); err != nil || v != "b" {
		t.Fatalf("todos after the program reopened: %q %v", v, err)
	}
}
