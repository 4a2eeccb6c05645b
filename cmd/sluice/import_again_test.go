package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/ssbtest"
)

// TestImportAgain: a finished import of a source, run again, imports
// nothing and says so (before: every entry again, 3000 became 6000); a
// log.offset that grew since gets only its new records; a file replaced
// by other records is refused unless --again; standard input imports
// whatever differs from what it imported before. The log is read back and
// compared with the payloads written here.
func TestImportAgain(t *testing.T) {
	payloads := compactAll(t, ssbtest.Generate(ssbtest.Options{Seed: 11, Messages: 40, Authors: 2}))
	lines := func(ps [][]byte) string { return string(bytes.Join(ps, []byte("\n"))) + "\n" }

	t.Run("same file", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(t.TempDir(), "log.offset")
		writeOffsetFile(t, src, payloads)
		ok(t, dir, "", "import", src)
		r := sluice(t, dir, "", "import", src)
		if r.code != 0 || !strings.Contains(r.err, "nothing imported") || !strings.Contains(r.err, "seqs 1..40") {
			t.Fatalf("second import: %+v", r)
		}
		checkImported(t, dir, nil, payloads)
	})
	t.Run("file that grew", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(t.TempDir(), "log.offset")
		writeOffsetFile(t, src, payloads[:25])
		ok(t, dir, "", "import", src)
		mine := []byte(`{"mine":1}`)
		ok(t, dir, "", "append", "--local", "--json", string(mine))
		writeOffsetFile(t, src, payloads) // 15 more messages
		r := sluice(t, dir, "", "import", src)
		if r.code != 0 || !strings.Contains(r.err, "importing its 15 records after them") || !strings.Contains(r.err, "imported 15 entries") {
			t.Fatalf("import of the grown file: %+v", r)
		}
		want := append(append(append([][]byte(nil), payloads[:25]...), mine), payloads[25:]...)
		checkPayloads(t, dir, want)
		// And once more: nothing, the two imports together cover it.
		if r := sluice(t, dir, "", "import", src); r.code != 0 || !strings.Contains(r.err, "nothing imported") {
			t.Fatalf("third import: %+v", r)
		}
		checkPayloads(t, dir, want)
	})
	t.Run("file replaced", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(t.TempDir(), "log.offset")
		writeOffsetFile(t, src, payloads[:20])
		ok(t, dir, "", "import", src)
		writeOffsetFile(t, src, payloads[20:])
		r := sluice(t, dir, "", "import", src)
		if r.code != 1 || !strings.Contains(r.err, "differs from those entries now") || !strings.Contains(r.err, "--again") {
			t.Fatalf("import of a replaced file: %+v", r)
		}
		checkImported(t, dir, nil, payloads[:20])
		ok(t, dir, "", "import", "--again", src)
		checkImported(t, dir, nil, payloads)
	})
	t.Run("standard input", func(t *testing.T) {
		dir := t.TempDir()
		ok(t, dir, lines(payloads[:10]), "import", "-")
		if r := sluice(t, dir, lines(payloads[:10]), "import", "-"); r.code != 0 || !strings.Contains(r.err, "nothing imported") {
			t.Fatalf("the same input again: %+v", r)
		}
		ok(t, dir, lines(payloads[10:]), "import", "-") // other input: a new source
		checkImported(t, dir, nil, payloads)
	})
}

// checkPayloads checks that the log in dir holds exactly want, in order.
func checkPayloads(t *testing.T, dir string, want [][]byte) {
	t.Helper()
	got := readLogEntries(t, dir)
	if len(got) != len(want) {
		t.Fatalf("the log holds %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if !bytes.Equal(e.Payload, want[i]) {
			t.Fatalf("seq %d: %.60q, want %.60q", e.Seq, e.Payload, want[i])
		}
	}
}
