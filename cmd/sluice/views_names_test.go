package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeView writes a SQL view file named file in dir defining a view
// called name, which keeps one row per entry.
func writeView(t *testing.T, dir, file, name, version string) string {
	t.Helper()
	path := filepath.Join(dir, file)
	def := strings.NewReplacer("name=kv", "name="+name, "version=1", "version="+version).Replace(kvViewSQL)
	if err := os.WriteFile(path, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// viewState returns the view's version, and when and why it was last
// (re)built, from sluice views --json.
func viewState(t *testing.T, dir, name string) string {
	t.Helper()
	var infos []viewInfo
	if err := json.Unmarshal([]byte(ok(t, dir, "", "views", "--json")), &infos); err != nil {
		t.Fatal(err)
	}
	for _, v := range infos {
		if v.Name == name {
			return fmt.Sprintf("%s (%s) v%d", v.RebuiltAt, v.RebuildReason, v.Version)
		}
	}
	t.Fatalf("no view %q", name)
	return ""
}

// TestViewNames: a SQL view may not take a built-in view's name or one
// SQLite keeps (main, temp), nor a name that differs from another's only
// in case; a second .sql file defining a view already indexed from another
// is refused instead of rebuilding the view each time the two alternate,
// until sluice rebuild --view switches to it. (Before: a SQL view named ssb
// replaced the built-in one and the next run flipped it back, a view named
// main made sluice query fail, and one named APP did once a Go program
// opened the directory.)
func TestViewNames(t *testing.T) {
	dir := t.TempDir()
	defs := t.TempDir()
	ok(t, dir, "{\"k\":\"a\",\"v\":\"x\"}\n{\"k\":\"b\",\"v\":\"y\"}", "append")
	for _, c := range []struct{ name, want string }{
		{"ssb", "the name of a built-in view"},
		{"SSB", "the name of a built-in view"},
		{"main", "a name SQLite keeps for itself"},
		{"Temp", "a name SQLite keeps for itself"},
		// The Go views' file: a view named APP made the directory
		// unqueryable once a Go program created app.db beside APP.db.
		{"app", "the file Go programs keep their views in"},
		{"APP", "the file Go programs keep their views in"},
	} {
		r := sluice(t, dir, "", "index", "--view", writeView(t, defs, c.name+".sql", c.name, "1"))
		if r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("index of a SQL view named %s: %+v", c.name, r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "views", "ssb.db")); err == nil {
		t.Fatal("a refused view made a view file")
	}
	a := writeView(t, defs, "a.sql", "kv", "1")
	b := writeView(t, defs, "b.sql", "kv", "2")
	if r := sluice(t, dir, "", "index", "--view", a, "--view", writeView(t, defs, "KV.sql", "KV", "1")); r.code != 2 || !strings.Contains(r.err, "both define a view named") {
		t.Errorf("index of kv and KV: %+v", r)
	}
	ok(t, dir, "", "index", "--view", a)
	built := viewState(t, dir, "kv")
	r := sluice(t, dir, "", "index", "--view", b)
	if r.code != 1 || !strings.Contains(r.err, `two SQL files define the view "kv"`) || !strings.Contains(r.err, "sluice rebuild kv --view "+b) {
		t.Fatalf("index of another definition of kv: %+v", r)
	}
	if got := viewState(t, dir, "kv"); got != built {
		t.Fatalf("the refused definition rebuilt the view: %s, was %s", got, built)
	}
	// Across the case of the file name too.
	if r := sluice(t, dir, "", "index", "--view", writeView(t, defs, "upper.sql", "KV", "1")); r.code != 1 || !strings.Contains(r.err, "differs only in case") {
		t.Errorf("index of a view KV beside kv.db: %+v", r)
	}
	// A copy of a.sql, or a.sql moved, is the same definition.
	c := filepath.Join(defs, "copy.sql")
	data, _ := os.ReadFile(a)
	os.WriteFile(c, data, 0o644)
	ok(t, dir, "", "index", "--view", c)
	if err := os.Rename(a, filepath.Join(defs, "moved.sql")); err != nil {
		t.Fatal(err)
	}
	ok(t, dir, "", "index", "--view", filepath.Join(defs, "moved.sql"))
	if got := viewState(t, dir, "kv"); got != built {
		t.Fatalf("the same definition from another path rebuilt the view: %s, was %s", got, built)
	}
	// sluice rebuild --view switches; then b.sql is the definition.
	ok(t, dir, "", "rebuild", "kv", "--view", b)
	ok(t, dir, "", "index", "--view", b)
	if got := viewState(t, dir, "kv"); got == built || !strings.HasSuffix(got, "v2") {
		t.Fatalf("after rebuild --view b.sql: %s", got)
	}
	if got := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM kv"); got != "count(*)\n2\n" {
		t.Fatalf("after the switch: %q", got)
	}
}

// TestViewsAhead: a view ahead of the log (a log that lost entries, or
// another log) shows a negative lag and a note, not lag 0.
func TestViewsAhead(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`, `{"k":"b","v":"y"}`, `{"k":"c","v":"z"}`)
	short := t.TempDir()
	ok(t, short, `{"k":"a","v":"x"}`, "append")
	r := sluice(t, dir, "", "views", "--json", "--log", filepath.Join(short, "log"))
	var infos []viewInfo
	if r.code != 0 || json.Unmarshal([]byte(r.out), &infos) != nil || len(infos) != 1 || infos[0].Lag == nil || *infos[0].Lag != -2 {
		t.Fatalf("views --json against a shorter log: %+v", r)
	}
	if !strings.Contains(r.err, "view kv is 2 entries ahead of the log: it shows entries up to seq 3, the log ends at seq 1") {
		t.Fatalf("no note of the view ahead: %q", r.err)
	}
	if out := ok(t, dir, "", "views", "--log", filepath.Join(short, "log")); !strings.Contains(out, "-2 (ahead)") {
		t.Fatalf("views table:\n%s", out)
	}
}
