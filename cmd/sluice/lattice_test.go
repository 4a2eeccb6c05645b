package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// sameJSON fails the test unless got and want are the same JSON value
// (object members in any order).
func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: not JSON: %q: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the expected value is not JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, got, want)
	}
}

// TestLatticePutGet puts shared and private deltas (a smaller counter, a
// duplicate, registers of two versions, a set), indexes the lattice view
// and reads each user's dictionary. The expected dictionaries are merged
// by hand; the log is read back raw to check each entry's payload, origin
// and scope; refused deltas append nothing.
func TestLatticePutGet(t *testing.T) {
	dir := t.TempDir()
	puts := []struct{ user, delta string }{
		{"", `{"room1": {"last_message_counter": 123}, "room2": {"last_message_counter": 246}}`},
		{"7777", `{"room1": {"last_seen_counter": 120}, "room2": {"last_seen_counter": 246}}`},
		{"8734", `{"room1": {"last_seen_counter": 123}, "room2": {"last_seen_counter": 24}}`},
		{"", `{"room1": {"last_message_counter": 100, "topic_register": [1, "old"]}}`},
		{"7777", `{"room1": {"topic_register": [2, "mine"], "tags_set": ["x", 2]}}`},
		{"7777", `{"room1": {"last_seen_counter": 120}, "room2": {"last_seen_counter": 246}}`},
	}
	for i, p := range puts {
		args := []string{"lattice", "put", "chat.rooms", "--json", p.delta}
		if p.user != "" {
			args = append(args, "--user", p.user)
		}
		if got, want := ok(t, dir, "", args...), []string{"1", "2", "3", "4", "5", "6"}[i]+"\n"; got != want {
			t.Fatalf("put #%d printed %q, want %q", i+1, got, want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"chat.rooms", "--json", `{"room1": {"last_seen": 1}}`, "--user", "7777"}, `private user "7777" key "room1" field "last_seen": unknown suffix`},
		{[]string{"chat.rooms", "--json", `{"room1": {"n_counter": 1.5}}`}, `shared key "room1" field "n_counter": a _counter value must be an integer`},
		{[]string{"chat.rooms", "--json", `{}`}, "sets no field"},
		{[]string{"chat.rooms", "--json", `{"room1": {"n_counter": 1}}`, "--user", "a b"}, `--user "a b"`},
		{[]string{"", "--json", `{"room1": {"n_counter": 1}}`}, "empty namespace"},
		{[]string{"chat.rooms"}, "give the delta with --json"},
	} {
		r := sluice(t, dir, "", append([]string{"lattice", "put"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.err, c.want) {
			t.Errorf("lattice put %q: exit %d, %q; want exit 2 and %q", c.args, r.code, r.err, c.want)
		}
	}

	entries := readLogEntries(t, dir)
	if len(entries) != len(puts) {
		t.Fatalf("%d entries in the log, want %d (the refused deltas must append nothing)", len(entries), len(puts))
	}
	for i, e := range entries {
		want := `{"sluice": "lattice", "namespace": "chat.rooms", "shared": ` + puts[i].delta + `}`
		scope := ""
		if u := puts[i].user; u != "" {
			want = `{"sluice": "lattice", "namespace": "chat.rooms", "private": {"` + u + `": ` + puts[i].delta + `}}`
			scope = "user:" + u
		}
		sameJSON(t, fmt.Sprintf("payload of entry %d", e.Seq), string(e.Payload), want)
		if e.Origin != log.Local || e.Scope != scope {
			t.Errorf("entry %d: origin %v scope %q, want local and %q", e.Seq, e.Origin, e.Scope, scope)
		}
	}

	if r := sluice(t, dir, "", "lattice", "get", "chat.rooms"); r.code != 1 || !strings.Contains(r.err, "sluice index --view lattice") {
		t.Errorf("lattice get before any index: exit %d, %q; want exit 1 saying how to index it", r.code, r.err)
	}
	ok(t, dir, "", "index", "--view", "lattice")
	shared := `{"room1": {"last_message_counter": 123, "topic_register": [1, "old"]}, "room2": {"last_message_counter": 246}}`
	for _, c := range []struct{ user, want string }{
		{"", shared},
		{"9999", shared}, // no private keys
		// A set's members sort by their canonical JSON: "x" (0x22) before 2.
		{"7777", `{"room1": {"last_message_counter": 123, "last_seen_counter": 120, "tags_set": ["x", 2], "topic_register": [2, "mine"]},
		           "room2": {"last_message_counter": 246, "last_seen_counter": 246}}`},
	} {
		sameJSON(t, "lattice get --user "+c.user, ok(t, dir, "", "lattice", "get", "chat.rooms", "--json", "--user", c.user), c.want)
	}
	sameJSON(t, "an unknown namespace", ok(t, dir, "", "lattice", "get", "nope", "--json"), `{}`)
	wantTable := `key    field                 value
room1  last_message_counter  123
room1  last_seen_counter     123
room1  topic_register        [1,"old"]
room2  last_message_counter  246
room2  last_seen_counter     24
`
	if got := ok(t, dir, "", "lattice", "get", "chat.rooms", "--user", "8734"); got != wantTable {
		t.Errorf("lattice get --user 8734:\n%s\nwant:\n%s", got, wantTable)
	}
}

// TestLatticeGetWatch runs sluice index --follow --view lattice, and
// sluice lattice get --watch --json --verbose for user 7777, while sluice
// lattice put runs in other processes: deltas that do not change 7777's
// dictionary (another user's private keys, a smaller counter) print
// nothing (their runs are seen on stderr first, then the next change is
// the next line); those that do print the new dictionary; SIGINT ends the
// watch with exit 0.
func TestLatticeGetWatch(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "lattice", "put", "chat.rooms", "--json", `{"room1": {"last_message_counter": 1}}`)
	ok(t, dir, "", "index", "--view", "lattice")
	indexer, ixErr := process(t, dir, "index", "--follow", "--view", "lattice")
	w := startWatch(t, dir, "lattice", "get", "chat.rooms", "--user", "7777", "--watch", "--json", "--verbose")
	sameJSON(t, "first", nextLine(t, w.out, "stdout"), `{"room1": {"last_message_counter": 1}}`)

	runChild(t, dir, "lattice", "put", "chat.rooms", "--user", "8734", "--json", `{"room1": {"last_seen_counter": 5}}`)
	w.waitUnchanged(t, "sluice: watch: result unchanged at lattice since 2")
	runChild(t, dir, "lattice", "put", "chat.rooms", "--json", `{"room1": {"last_message_counter": 0}}`)
	w.waitUnchanged(t, "sluice: watch: result unchanged at lattice since 3")
	runChild(t, dir, "lattice", "put", "chat.rooms", "--user", "7777", "--json", `{"room1": {"last_seen_counter": 1}}`)
	sameJSON(t, "after 7777's own delta", nextLine(t, w.out, "stdout"), `{"room1": {"last_message_counter": 1, "last_seen_counter": 1}}`)
	runChild(t, dir, "lattice", "put", "chat.rooms", "--json", `{"room1": {"last_message_counter": 2}, "room2": {"members_set": ["a"]}}`)
	sameJSON(t, "after a shared delta", nextLine(t, w.out, "stdout"), `{"room1": {"last_message_counter": 2, "last_seen_counter": 1}, "room2": {"members_set": ["a"]}}`)
	w.stop(t)
	indexer.Process.Signal(os.Interrupt)
	if err := waitExit(t, indexer, ixErr, 30*time.Second); err != nil {
		t.Errorf("index --follow: %v", err)
	}
}

// TestLatticePutEmptyUser: --user "" (an unset variable, say) is a usage
// error, not shared keys every user would see; nothing is appended.
func TestLatticePutEmptyUser(t *testing.T) {
	dir := t.TempDir()
	r := sluice(t, dir, "", "lattice", "put", "prefs", "--user", "", "--json", `{"ui": {"theme_register": [1, "dark"]}}`)
	if r.code != 2 || !strings.Contains(r.err, `--user ""`) {
		t.Fatalf("lattice put --user \"\": %+v, want exit 2", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "log")); !os.IsNotExist(err) {
		t.Fatalf("lattice put --user \"\" touched the log (%v)", err)
	}
}
