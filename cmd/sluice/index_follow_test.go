package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIndexFollowThroughTheDB: sluice index --follow, which opens its
// views with package sluice (sluice.Open, reading the log it does not
// write), keeps what the command did when it opened them itself: a view
// whose version changed is rebuilt with the command's notice; another
// sluice index is refused naming the follower; entries another process
// appends are indexed; SIGINT ends it with its summary and no record left
// for waiters; and the .sql file of a view it created is recorded, so
// that sluice rebuild needs no --view.
func TestIndexFollowThroughTheDB(t *testing.T) {
	dir, defs := t.TempDir(), t.TempDir()
	ok(t, dir, `{"k":"a","v":"x"}`, "append")
	ok(t, dir, "", "index", "--view", writeView(t, defs, "old.sql", "old", "1"))
	cmd, stderr := process(t, dir, "index", "--follow", "--view", writeView(t, defs, "kv.sql", "kv", "1"), "--view", writeView(t, defs, "old.sql", "old", "2"))
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		for stderr.Scan() {
			lines <- stderr.Text()
		}
	}()
	var got []string
	notice := `sluice: view "old" in ` + filepath.Join(dir, "views", "old.db") + `: version changed from 1 to 2; rebuilding it from the log`
	for timeout := time.After(30 * time.Second); !slices.Contains(got, notice); {
		select {
		case l, open := <-lines:
			if !open {
				t.Fatalf("sluice index --follow ended; stderr:\n%s", strings.Join(got, "\n"))
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("no rebuild notice in 30 s; stderr:\n%s", strings.Join(got, "\n"))
		}
	}
	// The follower records what it maintains once its views are open.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(dir, "views", indexerInfoFile)); strings.Contains(string(b), "kv.db") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sluice index --follow recorded no views in 30 s")
		}
	}
	for _, args := range [][]string{{"index", "--view", filepath.Join(defs, "old.sql")}, {"index", "--follow", "--view", filepath.Join(defs, "kv.sql")}} {
		r := sluice(t, dir, "", args...)
		if want := "sluice index (pid " + strconv.Itoa(cmd.Process.Pid) + ", --follow) is writing the views in"; r.code != 1 || !strings.Contains(r.err, want) {
			t.Fatalf("sluice %s beside the follower: %+v, want exit 1 and %q", strings.Join(args, " "), r, want)
		}
	}
	if r := sluice(t, dir, "", "append", "--local", "--wait", "--timeout", "20s", "--json", `{"k":"b","v":"y"}`); r.code != 0 || r.out != "2\n" {
		t.Fatalf("append --wait beside the follower: %+v", r)
	}
	if got := ok(t, dir, "", "query", "--csv", "SELECT group_concat(k, '') AS ks FROM kv.kv"); got != "ks\nab\n" {
		t.Fatalf("kv after append --wait: %q", got)
	}
	cmd.Process.Signal(os.Interrupt)
	for l := range lines {
		got = append(got, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("index --follow after SIGINT: %v; stderr:\n%s", err, strings.Join(got, "\n"))
	}
	if last := got[len(got)-1]; !strings.HasPrefix(last, "indexed ") || !strings.Contains(last, "since 2;") {
		t.Fatalf("the summary of index --follow: %q", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "views", indexerInfoFile)); !os.IsNotExist(err) {
		t.Fatalf("the follower left its record: %v", err)
	}
	ok(t, dir, "", "rebuild", "kv")
	if got := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM kv.kv"); got != "count(*)\n2\n" {
		t.Fatalf("kv after sluice rebuild kv: %q", got)
	}
}
