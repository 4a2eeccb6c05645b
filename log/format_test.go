package log

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dumpEntry is one line of testdata/v1log/dump.jsonl (sluice cat --json of
// format 1).
type dumpEntry struct {
	Seq     Seq             `json:"seq"`
	Origin  string          `json:"origin"`
	Time    time.Time       `json:"time"`
	Payload json.RawMessage `json:"payload"`
}

func readDump(t *testing.T) []dumpEntry {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "v1log", "dump.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dumpEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d dumpEntry
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if len(out) != 600 {
		t.Fatalf("dump holds %d entries, want 600", len(out))
	}
	return out
}

// checkAgainstDump reads src from 1 and compares the first len(dump)
// entries, field by field, with the dump made by the format 1 code; node is
// what their IDs must name. It returns the entries after them.
func checkAgainstDump(t *testing.T, src Source, dump []dumpEntry, node NodeID) []Entry {
	t.Helper()
	it, err := src.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var i int
	var rest []Entry
	for it.Next() {
		e := it.Entry()
		if i >= len(dump) {
			rest = append(rest, e)
			continue
		}
		d := dump[i]
		var p bytes.Buffer
		if err := json.Compact(&p, d.Payload); err != nil {
			t.Fatal(err)
		}
		if e.Seq != d.Seq || e.Origin.String() != d.Origin || !e.Time.Equal(d.Time) || !bytes.Equal(e.Payload, p.Bytes()) {
			t.Fatalf("entry %d: got seq %d %s %s %s, want %+v", i+1, e.Seq, e.Origin, e.Time.UTC(), e.Payload, d)
		}
		if e.ID != (ID{Node: node, Seq: e.Seq}) || !e.Via.IsZero() || e.Scope != "" {
			t.Fatalf("seq %d: ID %v via %v scope %q, want ID %v/%d", e.Seq, e.ID, e.Via, e.Scope, node, e.Seq)
		}
		i++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(dump) {
		t.Fatalf("read %d entries, want %d", i, len(dump))
	}
	return rest
}

// TestFormat1Log reads a log written by format 1 code, upgrades it by
// opening it for writing, appends and reads everything again.
func TestFormat1Log(t *testing.T) {
	dump := readDump(t)
	dir := copyDir(t, filepath.Join("testdata", "v1log", "log"))
	segs, _ := listSegments(dir)
	if len(segs) < 5 {
		t.Fatalf("fixture has %d segments, want several", len(segs))
	}

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Node().IsZero() {
		t.Fatalf("Node of a format 1 log = %v, want zero", r.Node())
	}
	if last, err := r.Last(); err != nil || last != 600 {
		t.Fatalf("Reader.Last = %d, %v", last, err)
	}
	checkAgainstDump(t, r, dump, NodeID{})
	r.Close()
	if m, err := ReadMark(dir); err != nil || m != 0 {
		t.Fatalf("ReadMark of a format 1 log = %d, %v; want 0", m, err)
	}

	// Open for writing upgrades it: NODE, then FORMAT 2; the records stay.
	before, _ := os.ReadFile(segs[0].path)
	l, err := Open(dir, Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Repairs()) != 0 {
		t.Fatalf("upgrade repaired: %v", l.Repairs())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, formatFile)); string(b) != "sluice-log 2\n" {
		t.Fatalf("FORMAT = %q after the upgrade", b)
	}
	b, _ := os.ReadFile(filepath.Join(dir, nodeFile))
	node, err := ParseNodeID(string(bytes.TrimSpace(b)))
	if err != nil || node != l.Node() || node.IsZero() {
		t.Fatalf("NODE %q (%v), Log.Node %v", b, err, l.Node())
	}
	if after, _ := os.ReadFile(segs[0].path); !bytes.Equal(before, after) {
		t.Fatal("the upgrade changed a format 1 segment")
	}
	if m := l.Mark(); m != 600 {
		t.Fatalf("mark after the upgrade = %d, want 600 (Open makes what it finds durable)", m)
	}
	checkAgainstDump(t, l, dump, node)
	other := NodeID{0xaa}
	seqs, err := l.Append(context.Background(),
		Record{Origin: Local, Payload: []byte(`{"v":2}`)},
		Record{Payload: []byte(`{"v":3}`), Author: ID{other, 12}, Scope: "user:1"})
	if err != nil || seqs[0] != 601 || seqs[1] != 602 {
		t.Fatalf("Append = %v, %v", seqs, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	for _, open := range []func() (Source, func()){
		func() (Source, func()) { r, err := OpenReader(dir); check(t, err); return r, func() { r.Close() } },
		func() (Source, func()) { l, err := Open(dir, Options{}); check(t, err); return l, func() { l.Close() } },
	} {
		src, done := open()
		rest := checkAgainstDump(t, src, dump, node)
		if len(rest) != 2 || string(rest[0].Payload) != `{"v":2}` || rest[0].ID != (ID{node, 601}) || rest[0].Origin != Local ||
			rest[1].ID != (ID{other, 12}) || rest[1].Scope != "user:1" || rest[1].Seq != 602 {
			t.Fatalf("entries after the format 1 ones: %+v", rest)
		}
		done()
	}
	if r, err := OpenReader(dir); err != nil || r.Node() != node {
		t.Fatalf("Reader.Node after the upgrade = %v, %v", r.Node(), err)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestInterruptedCreation: what a crash during the creation or the upgrade
// of a log leaves — our temporary files, a NODE or HEAD without FORMAT — is
// completed by the next Open, and a directory holding only LOCK and such
// files is an empty log to readers.
func TestInterruptedCreation(t *testing.T) {
	node := NodeID{7, 7, 7}
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"stale FORMAT temp (the issue's reproduction)", map[string]string{"LOCK": "", ".FORMAT.tmp1": "sluice-log 1\n"}},
		{"stale temps of every file", map[string]string{".FORMAT.tmp2": "x", ".NODE.tmp3": "", ".HEAD.tmp4": "y", ".LASTOPEN.tmp5": "{"}},
		{"NODE written, no FORMAT", map[string]string{"LOCK": "", "NODE": node.String() + "\n", ".HEAD.tmp9": ""}},
		{"NODE and HEAD written, no FORMAT", map[string]string{"NODE": node.String() + "\n", "HEAD": "garbage"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := OpenReader(dir)
			if !errors.Is(err, ErrNotLog) || !bytes.Contains([]byte(err.Error()), []byte("holds no log")) {
				t.Fatalf("OpenReader = %v, want an empty directory's ErrNotLog", err)
			}
			l := openT(t, dir, Options{})
			if _, ok := c.files["NODE"]; ok && l.Node() != node {
				t.Fatalf("node %v, want the NODE left behind, %v", l.Node(), node)
			}
			appendN(t, l, 1, 3, Local)
			l.Close()
			des, _ := os.ReadDir(dir)
			for _, de := range des {
				if isTemp(de.Name()) {
					t.Fatalf("temporary file %s left", de.Name())
				}
			}
			r := openReaderT(t, dir)
			if got := readAll(t, r, 1); len(got) != 3 {
				t.Fatalf("read %d entries", len(got))
			}
		})
	}
}
