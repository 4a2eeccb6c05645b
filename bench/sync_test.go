package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// TestRunSyncFixture runs the whole harness once over the fixture: sluice
// index and both floors in child processes of a freshly built binary.
func TestRunSyncFixture(t *testing.T) {
	bin := sluiceBinary(t)
	tmp := t.TempDir()
	var logged []string
	rep, err := RunSync(testContext(t, 2*time.Minute), SyncConfig{
		Binary: bin, Logs: []string{fixture}, Runs: 1, TempDir: tmp,
		Logf: func(format string, args ...any) { logged = append(logged, format) },
	})
	if err != nil {
		t.Fatal(err)
	}
	emptyDir(t, tmp)
	if len(rep.Logs) != 1 {
		t.Fatalf("got %d logs", len(rep.Logs))
	}
	lr := rep.Logs[0]
	if lr.Messages != fixtureMessages || lr.Bytes == 0 {
		t.Errorf("log: %d messages, %d bytes", lr.Messages, lr.Bytes)
	}
	if len(lr.Sluice) != 1 || len(lr.Decode) != 1 || len(lr.Insert) != 1 || len(lr.JS) != 0 {
		t.Fatalf("runs: %d sluice, %d decode, %d insert, %d js", len(lr.Sluice), len(lr.Decode), len(lr.Insert), len(lr.JS))
	}
	if len(logged) != 4 {
		t.Errorf("logged %d lines, want 4 (the log and three runs)", len(logged))
	}
	r := lr.Sluice[0]
	if r.Wall <= 0 || r.MaxRSS < 1<<20 || r.ViewBytes <= 0 || r.CPU <= 0 {
		t.Errorf("sluice run: %+v", r.SyncProc)
	}
	if !strings.Contains(r.Summary, "indexed 3000 entries") {
		t.Errorf("summary line: %q", r.Summary)
	}
	if n := len(r.Samples); n == 0 || r.Samples[n-1].Entries != fixtureMessages {
		t.Errorf("samples: %+v", r.Samples)
	}
	// The floors did the same work as the full path.
	if lr.Rows.Messages != fixtureMessages || lr.Rows.Links == 0 || lr.Rows.Authors == 0 || lr.Rows.Contacts == 0 || lr.Rows.Abouts == 0 {
		t.Errorf("rows: %v", lr.Rows)
	}
	if lr.Decoded.Messages != lr.Rows.Messages || lr.Decoded.Links != lr.Rows.Links || lr.Decoded.Entries != fixtureMessages {
		t.Errorf("floor decode counted %+v; the views hold %v", lr.Decoded, lr.Rows)
	}
	for _, f := range append(append([]FloorRun(nil), lr.Decode...), lr.Insert...) {
		if f.TimedNS <= 0 || f.Messages != fixtureMessages || f.RowsInNS > f.TimedNS {
			t.Errorf("floor run: %+v", f)
		}
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	rows := checkTable(t, md.String(), syncColumns)
	if len(rows) != 3 {
		t.Errorf("main table has %d rows, want 3 (sluice and two floors):\n%s", len(rows), md.String())
	}
	out := t.TempDir()
	paths, err := SaveSync(out, rep)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(out, "sync-3000.md"), filepath.Join(out, "sync-3000.svg")}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("wrote %v, want %v", paths, want)
	}
	svg, err := os.ReadFile(want[1])
	if err != nil {
		t.Fatal(err)
	}
	if n := checkSVG(t, svg); n != 2 {
		t.Errorf("the plot has %d lines, want 2 (progress and rate of sluice)", n)
	}
	saved, err := os.ReadFile(want[0])
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, string(saved), syncColumns)
	if !strings.Contains(string(saved), "](sync-3000.svg)") {
		t.Errorf("sync-3000.md does not show the plot")
	}
}

// TestFloorsInProcess runs the floors in this process and checks that
// floor (b) writes what floor (a) decodes, and builds the secondary
// indexes.
func TestFloorsInProcess(t *testing.T) {
	ctx := testContext(t, time.Minute)
	dec, err := RunFloor(ctx, FloorConfig{Kind: FloorDecode, Log: fixture})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ins, err := RunFloor(ctx, FloorConfig{Kind: FloorInsert, Log: fixture, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if dec.Messages != fixtureMessages || ins.Messages != dec.Messages || ins.Links != dec.Links || dec.Rejected != 0 {
		t.Errorf("decode %+v, insert %+v", dec, ins)
	}
	rows, err := CountSSBRows(ViewFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if rows.Messages != dec.Messages || rows.Links != dec.Links {
		t.Errorf("rows %v, decoded %d messages and %d links", rows, dec.Messages, dec.Links)
	}
	c, err := sqlite.Open(ViewFile(dir), sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
  ('messages_key', 'messages_author_sequence', 'messages_type', 'links_to_key', 'contacts_contact')`)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Query()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if !res.Next() || res.Int(0) != 5 {
		t.Errorf("floor insert did not build the five secondary indexes")
	}
	if _, err := RunFloor(ctx, FloorConfig{Kind: "nope", Log: fixture}); err == nil {
		t.Error("an unknown floor ran")
	}
	if _, err := RunFloor(ctx, FloorConfig{Kind: FloorInsert, Log: fixture}); err == nil {
		t.Error("floor insert ran without a directory")
	}
}

// TestBenchSyncCLI runs the cobra command end to end, writing its files.
func TestBenchSyncCLI(t *testing.T) {
	bin := sluiceBinary(t)
	out, tmp := t.TempDir(), t.TempDir()
	ctx := testContext(t, 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "bench", "sync", "--log", fixture, "--runs", "1", "--no-floors", "--quiet-wait", "0", "--out", out, "--tmp", tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if rows := checkTable(t, stdout.String(), syncColumns); len(rows) != 1 {
		t.Errorf("got %d rows without floors, want 1:\n%s", len(rows), stdout.String())
	}
	if !strings.Contains(stdout.String(), "Command: `sluice bench sync --log="+fixture+" --no-floors") {
		t.Errorf("the report does not record the command:\n%s", stdout.String())
	}
	for _, name := range []string{"sync-3000.md", "sync-3000.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	emptyDir(t, tmp)

	// Bad flags are usage errors (exit status 2).
	cmd = exec.CommandContext(ctx, bin, "bench", "sync", "--log", fixture, "--messages", "10", "--no-save")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("--log with --messages: %v", err)
	}
}

// checkTable finds the Markdown table whose header is cols and returns
// its rows, checking that each has one cell per column.
func checkTable(t *testing.T, md string, cols []string) [][]string {
	t.Helper()
	header := "| " + strings.Join(cols, " | ") + " |"
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		if l != header {
			continue
		}
		if i+1 >= len(lines) || strings.Count(lines[i+1], "---") != len(cols) {
			t.Fatalf("table %q has no separator line", header)
		}
		var rows [][]string
		for _, l := range lines[i+2:] {
			if !strings.HasPrefix(l, "|") {
				break
			}
			cells := strings.Split(strings.Trim(l, "|"), "|")
			if len(cells) != len(cols) {
				t.Errorf("row %q has %d cells, want %d", l, len(cells), len(cols))
			}
			rows = append(rows, cells)
		}
		return rows
	}
	t.Fatalf("no table with header %q in:\n%s", header, md)
	return nil
}

// checkSVG checks that b is well-formed XML with an svg root element and
// returns the number of polylines.
func checkSVG(t *testing.T, b []byte) int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root, lines := "", 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
				if se.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root element in namespace %q", se.Name.Space)
				}
			}
			if se.Name.Local == "polyline" {
				lines++
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	return lines
}
