package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTaskAddPayloadSources: --json takes the payload itself, - (standard
// input) or @FILE; a payload whose result entry on the server could not
// fit a log record is refused at add (usage, exit 2) and nothing is
// appended.
func TestTaskAddPayloadSources(t *testing.T) {
	dev := t.TempDir()
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--id", "arg", "--json", `{"from":"arg"}`)
	ok(t, dev, " {\"from\":\"stdin\"}\n", "task", "add", "--queue", "q", "--kind", "k", "--id", "stdin", "--json", "-")
	ok(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--id", "file", "--json", "@"+file)

	// A task entry of this payload fits a record (its envelope is about 50
	// bytes); the server's result entry (about 100) would not.
	big := `"` + strings.Repeat("x", maxPayload-70) + `"`
	if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	r := sluice(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--id", "big", "--json", "@"+file)
	if r.code != 2 || !strings.Contains(r.err, "16777216") {
		t.Fatalf("an oversized task: %+v, want exit 2 naming the limit", r)
	}
	if r := sluice(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--json", "@"+filepath.Join(dev, "nope")); r.code != 2 {
		t.Fatalf("--json @ a missing file: %+v", r)
	}

	_, es := readLog(t, dev)
	got := map[string]string{}
	for _, e := range es {
		var p struct {
			ID      string `json:"id"`
			Payload struct{ From string }
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		got[p.ID] = p.Payload.From
	}
	if len(got) != 3 || got["arg"] != "arg" || got["stdin"] != "stdin" || got["file"] != "file" {
		t.Fatalf("the log holds tasks %v, want arg, stdin and file, each with its payload", got)
	}
}

// TestTaskAddWaitTimeout: a --wait that times out says that it timed out
// and that the task is still pending (queued, to be sent), exit 1.
func TestTaskAddWaitTimeout(t *testing.T) {
	srv, dev := t.TempDir(), t.TempDir()
	s, url := serveNode(t, srv, "", "--tasks", "off") // /v1/tasks answers 404: retried
	defer s.stop(t)
	d := start(t, dev, "sync", "--from", url, "--follow")
	defer d.stop(t)
	d.waitLine(t, "caught up")
	r := sluice(t, dev, "", "task", "add", "--queue", "q", "--kind", "k", "--wait", "--timeout", "500ms")
	if r.code != 1 || !strings.Contains(r.err, "--wait timed out after 500ms") || !strings.Contains(r.err, "still pending") {
		t.Fatalf("task add --wait with no answer: %+v", r)
	}
}
