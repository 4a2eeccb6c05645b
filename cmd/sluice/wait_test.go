package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAppendWaitMaintainedViews: with a view file in views/ that no
// indexer maintains (left from another run), append --wait waits only for
// the views the running sluice index --follow maintains, and returns. With
// no indexer running, the timeout names the view that does not show the
// entry and says that no indexer runs. (Before: --wait waited for every
// file in views/ and timed out blaming the follower.)
func TestAppendWaitMaintainedViews(t *testing.T) {
	dir := t.TempDir()
	defs := t.TempDir()
	ok(t, dir, `{"k":"a","v":"x"}`, "append")
	// An old view, indexed once and then left behind.
	ok(t, dir, "", "index", "--view", writeView(t, defs, "old.sql", "old", "1"))
	cmd, stderr := process(t, dir, "index", "--follow", "--view", writeView(t, defs, "kv.sql", "kv", "1"))
	// The follower records what it maintains once its views are open.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "views", indexerInfoFile)); strings.Contains(string(b), "kv.db") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sluice index --follow recorded no views in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := sluice(t, dir, "", "append", "--local", "--wait", "--timeout", "20s", "--json", `{"k":"b","v":"y"}`)
	if r.code != 0 || r.out != "2\n" {
		t.Fatalf("append --wait with a view no indexer maintains beside: %+v", r)
	}
	if got := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM kv.kv"); got != "count(*)\n2\n" {
		t.Fatalf("kv after append --wait: %q", got)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := waitExit(t, cmd, stderr, 30*time.Second); err != nil {
		t.Fatalf("index --follow after SIGINT: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "views", indexerInfoFile)); !os.IsNotExist(err) {
		t.Fatalf("the indexer left its record: %v", err)
	}
	// No indexer: the timeout names what does not show the entry.
	r = sluice(t, dir, "", "append", "--wait", "--timeout", "200ms", "--json", `{"k":"c","v":"z"}`)
	if r.code != 1 || !strings.Contains(r.err, "appended seq 3..3") || !strings.Contains(r.err, "not shown by kv (since 2), old (since 1)") ||
		!strings.Contains(r.err, "no sluice index is running") {
		t.Fatalf("append --wait with no indexer: %+v", r)
	}
}
