package main

import (
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/ssbtest"
)

// serverTaskEntries counts the task entries (results, answers) in the log
// of the node in dir, decoded here.
func serverTaskEntries(t *testing.T, dir string) int {
	t.Helper()
	_, es := readLog(t, dir)
	n := 0
	for _, e := range es {
		if _, ok := decodeTaskEntry(t, e); ok {
			n++
		}
	}
	return n
}

// TestSyncTasksReplacedServer: sync sends no task to a server whose log
// was replaced (another node at the URL the pull recorded): the request is
// refused as the pull is, nothing is applied there, the task stays pending
// (not "sending") and can be cancelled.
func TestSyncTasksReplacedServer(t *testing.T) {
	a, b, dev := t.TempDir(), t.TempDir(), t.TempDir()
	writeBatches(t, a, ssbtest.Generate(ssbtest.Options{Seed: 22, Messages: 20, Authors: 2}), 10)
	sa, url := serveNode(t, a, "", "--no-index")
	r := sluice(t, dev, "", "sync", "--from", url)
	if r.code != 0 || !strings.Contains(r.err, "tasks go to "+url+" (not contacted yet)") {
		t.Fatalf("first sync: %+v", r)
	}
	aNode, _ := readLog(t, a)
	sa.stop(t)
	sb, _ := serveNode(t, b, strings.TrimPrefix(url, "http://"), "--no-index")
	defer sb.stop(t)
	id := strings.Fields(ok(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--json", `{"n":1}`))[0]
	r = sluice(t, dev, "", "sync")
	if r.code != 1 || !strings.Contains(r.err, "tasks go to "+url+" (node "+aNode.String()+")") || !strings.Contains(r.err, "node_mismatch") {
		t.Fatalf("sync with the replaced server: %+v", r)
	}
	if n := serverTaskEntries(t, b); n != 0 {
		t.Fatalf("the replaced server holds %d task entries", n)
	}
	if out := ok(t, dev, "", "tasks", "--json"); !strings.Contains(out, `"state": "pending"`) {
		t.Fatalf("the task after the refused send: %s", out)
	}
	if r := sluice(t, dev, "", "task", "cancel", id); r.code != 0 {
		t.Fatalf("cancel the task the replaced server refused: %+v", r)
	}
}

// TestSyncTypoPeerNotRemembered: a first --from that never answers (a
// mistyped port) is not remembered: sync alone then pulls from, and sends
// tasks to, the server that answered.
func TestSyncTypoPeerNotRemembered(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	s, url := serveNode(t, srv, "")
	defer s.stop(t)
	if r := sluice(t, dev, "", "sync", "--from", "http://127.0.0.1:1"); r.code != 1 {
		t.Fatalf("sync from a port nothing listens on: %+v", r)
	}
	ok(t, dev, "", "sync", "--from", url)
	id := strings.Fields(ok(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--json", `{"n":1}`))[0]
	r := sluice(t, dev, "", "sync")
	if r.code != 0 || !strings.Contains(r.err, "tasks go to "+url) || strings.Contains(r.err, "127.0.0.1:1") {
		t.Fatalf("sync alone: %+v", r)
	}
	if got := serverAnswers(t, srv); len(got["q"]) != 1 || got["q"][0] != id {
		t.Fatalf("the server answered %v, want task %s", got, id)
	}
}
