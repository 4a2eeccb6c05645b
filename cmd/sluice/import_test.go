package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
)

// writeOffsetFile writes payloads as a flumelog-offset file with 4-byte
// trailers, framing them here (not with package log/offset):
// [u32 BE length][payload][u32 BE length][u32 BE offset of the next frame].
// It returns each frame's byte offset.
func writeOffsetFile(t *testing.T, path string, payloads [][]byte) []int64 {
	t.Helper()
	var b bytes.Buffer
	var offs []int64
	for _, p := range payloads {
		offs = append(offs, int64(b.Len()))
		binary.Write(&b, binary.BigEndian, uint32(len(p)))
		b.Write(p)
		binary.Write(&b, binary.BigEndian, uint32(len(p)))
		binary.Write(&b, binary.BigEndian, uint32(b.Len()+4))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return offs
}

// readLogEntries reads every entry of the native log in dir/log with a
// Reader.
func readLogEntries(t *testing.T, dir string) []log.Entry {
	t.Helper()
	_, es := readLog(t, dir)
	return es
}

// checkImported fails unless the log in dir holds base's payloads, then
// want's, as remote entries with dense seqs from 1: what a clean import of
// want after base gives.
func checkImported(t *testing.T, dir string, base, want [][]byte) {
	t.Helper()
	got := readLogEntries(t, dir)
	all := append(append([][]byte(nil), base...), want...)
	if len(got) != len(all) {
		t.Fatalf("the log holds %d entries, want %d (%d before the import + %d imported)", len(got), len(all), len(base), len(want))
	}
	for i, e := range got {
		if e.Seq != log.Seq(i+1) || !bytes.Equal(e.Payload, all[i]) {
			t.Fatalf("entry %d: seq %d, payload %.60q; want seq %d, payload %.60q", i+1, e.Seq, e.Payload, i+1, all[i])
		}
		if i >= len(base) && e.Origin != log.Remote {
			t.Fatalf("imported entry %d is %s, want remote", e.Seq, e.Origin)
		}
	}
}

// TestImportChecksWholeSource: a bad record anywhere in the source, even
// after several batches' worth of good ones, is named by its place in the
// source (record number and byte offset of a log.offset, line of JSON
// lines) and nothing is appended. (Before: the good records before it were
// committed, and a too-large record was named by its place in a batch.)
func TestImportChecksWholeSource(t *testing.T) {
	good := ssbtest.Generate(ssbtest.Options{Seed: 7, Messages: 2600, Authors: 3})
	big := []byte(`"` + strings.Repeat("x", maxPayload) + `"`) // 2 bytes over the limit
	deep := []byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001))
	cases := []struct {
		name string
		bad  []byte
		want string // besides the place
	}{
		{"not JSON", []byte(`{"a":`), "not a valid JSON value"},
		{"invalid UTF-8", []byte("{\"a\":\"\xc3\x28\"}"), "byte 7"},
		{"over the limit", big, fmt.Sprintf("%d bytes, over the log's limit of %d", len(big), maxPayload)},
		{"too deep", deep, "nested deeper than 10000 levels, the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ok(t, dir, "", "append", "--json", `{"before":1}`)
			payloads := append(append(append([][]byte(nil), good...), c.bad), good[:3]...)
			src := filepath.Join(t.TempDir(), "log.offset")
			offs := writeOffsetFile(t, src, payloads)
			r := sluice(t, dir, "", "import", "--batch", "1000", src)
			place := fmt.Sprintf("record %d (the frame at byte offset %d)", len(good)+1, offs[len(good)])
			if r.code != 1 || !strings.Contains(r.err, place) || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "nothing was imported") {
				t.Fatalf("import of a log.offset with a bad record %d: exit %d, %.400s\nwant %q and %q", len(good)+1, r.code, r.err, place, c.want)
			}
			r = sluice(t, dir, string(bytes.Join(compactAll(t, payloads), []byte("\n"))), "import", "-")
			line := fmt.Sprintf("standard input line %d", len(good)+1)
			if r.code != 1 || !strings.Contains(r.err, line) || !strings.Contains(r.err, c.want) {
				t.Fatalf("import - with a bad line %d: exit %d, %.400s", len(good)+1, r.code, r.err)
			}
			checkImported(t, dir, [][]byte{[]byte(`{"before":1}`)}, nil)
			if _, err := os.Stat(filepath.Join(dir, importStateFile)); err == nil {
				t.Fatal("a refused import left its state file")
			}
		})
	}
}

// compactAll puts each JSON payload on one line (the generator indents
// some), leaving payloads that are not JSON as they are.
func compactAll(t *testing.T, payloads [][]byte) [][]byte {
	t.Helper()
	out := make([][]byte, len(payloads))
	for i, p := range payloads {
		var b bytes.Buffer
		if err := json.Compact(&b, p); err != nil {
			out[i] = p
			continue
		}
		out[i] = b.Bytes()
	}
	return out
}

// interruptedImport makes the state an import of src that stopped after k
// of payloads leaves: the log in dir holds base (local entries), then the
// first k payloads, and DIR/importing.json records the import.
func interruptedImport(t *testing.T, dir, src string, base, payloads [][]byte, k int) {
	t.Helper()
	all := append(append([][]byte(nil), base...), payloads[:k]...)
	writeLog(t, dir, all, func(i int) bool { return i < len(base) })
	st := fmt.Sprintf(`{"source": %q, "base": %d, "records": %d, "started": "2026-01-02T03:04:05Z"}`, src, len(base), len(payloads))
	if err := os.WriteFile(filepath.Join(dir, importStateFile), []byte(st), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportResume resumes imports that stopped part-way (the state is
// made here, so every case is deterministic): the same source, a file or
// standard input, finishes the import with no duplicate and no gap; a log
// appended to since, another source, or other input is refused with a
// message that says why and what to do, and changes nothing.
func TestImportResume(t *testing.T) {
	payloads := compactAll(t, ssbtest.Generate(ssbtest.Options{Seed: 9, Messages: 40, Authors: 2}))
	base := [][]byte{[]byte(`{"mine":1}`), []byte(`{"mine":2}`)}
	src := filepath.Join(t.TempDir(), "log.offset")
	writeOffsetFile(t, src, payloads)
	other := filepath.Join(t.TempDir(), "log.offset")
	writeOffsetFile(t, other, payloads[:5])
	lines := string(bytes.Join(payloads, []byte("\n"))) + "\n"

	t.Run("same file", func(t *testing.T) {
		dir := t.TempDir()
		interruptedImport(t, dir, src, base, payloads, 17)
		r := sluice(t, dir, "", "import", src)
		if r.code != 0 || !strings.Contains(r.err, "its first 17 entries are in the log (seqs 3..19)") || !strings.Contains(r.err, "imported 23 entries") {
			t.Fatalf("resume: %+v", r)
		}
		checkImported(t, dir, base, payloads)
		if _, err := os.Stat(filepath.Join(dir, importStateFile)); !os.IsNotExist(err) {
			t.Fatalf("the finished import left its state: %v", err)
		}
	})
	t.Run("all imported, state left", func(t *testing.T) {
		dir := t.TempDir()
		interruptedImport(t, dir, src, base, payloads, len(payloads))
		if r := sluice(t, dir, "", "import", src); r.code != 0 || !strings.Contains(r.err, "imported 0 entries") {
			t.Fatalf("resume of a complete import: %+v", r)
		}
		checkImported(t, dir, base, payloads)
	})
	t.Run("standard input", func(t *testing.T) {
		dir := t.TempDir()
		interruptedImport(t, dir, "-", base, payloads, 30)
		// Other input: refused, nothing written.
		r := sluice(t, dir, "{\"other\":1}\n"+lines, "import", "-")
		if r.code != 1 || !strings.Contains(r.err, "cannot resume") || !strings.Contains(r.err, "seq 3 is not record 1 of standard input") {
			t.Fatalf("resume with other input: %+v", r)
		}
		checkImported(t, dir, base, payloads[:30])
		r = sluice(t, dir, lines, "import", "-")
		if r.code != 0 || !strings.Contains(r.err, "imported 10 entries") {
			t.Fatalf("resume with the same input: %+v", r)
		}
		checkImported(t, dir, base, payloads)
	})
	t.Run("log appended to since", func(t *testing.T) {
		dir := t.TempDir()
		interruptedImport(t, dir, src, base, payloads, 17)
		if r := sluice(t, dir, "", "append", "--json", `{"later":1}`); r.code != 0 || !strings.Contains(r.err, "was interrupted; after this append it cannot resume") {
			t.Fatalf("append during an interrupted import: %+v", r)
		}
		r := sluice(t, dir, "", "import", src)
		if r.code != 1 || !strings.Contains(r.err, "seq 20 is not record 18") || !strings.Contains(r.err, "remove "+importStateFile) {
			t.Fatalf("resume after an append: %+v", r)
		}
		checkImported(t, dir, append(append(append([][]byte(nil), base...), payloads[:17]...), []byte(`{"later":1}`)), nil)
	})
	t.Run("another source", func(t *testing.T) {
		dir := t.TempDir()
		interruptedImport(t, dir, src, base, payloads, 17)
		r := sluice(t, dir, "", "import", other)
		if r.code != 1 || !strings.Contains(r.err, "was interrupted; finish it first") || !strings.Contains(r.err, "import "+src) {
			t.Fatalf("import of another source: %+v", r)
		}
		if r := sluice(t, dir, "{\"x\":1}\n", "import", "-"); r.code != 1 || !strings.Contains(r.err, "was interrupted") {
			t.Fatalf("import - during another import: %+v", r)
		}
		checkImported(t, dir, base, payloads[:17])
	})
}

// logLast returns the last seq of the log in dir/log, 0 while there is no
// log yet.
func logLast(t *testing.T, dir string) log.Seq {
	t.Helper()
	r, err := log.OpenReader(filepath.Join(dir, "log"))
	if err != nil {
		return 0 // not created yet (a kill during the check), or being created
	}
	defer r.Close()
	last, err := r.Last()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// TestImportKilled kills sluice import with SIGKILL at random points, in
// its check of the source and while it appends, and runs the same import
// again each time: the log ends equal to one clean import of the source
// (compared with the payloads written into it here), the entries before
// the import untouched. Both kinds of source: a log.offset, and JSON lines
// on standard input fed again after each kill.
func TestImportKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	payloads := compactAll(t, ssbtest.Generate(ssbtest.Options{Seed: 8, Messages: 3000, Authors: 10}))
	srcDir := t.TempDir()
	offsetPath := filepath.Join(srcDir, "log.offset")
	writeOffsetFile(t, offsetPath, payloads)
	linesPath := filepath.Join(srcDir, "in.jsonl")
	if err := os.WriteFile(linesPath, append(bytes.Join(payloads, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	base := [][]byte{[]byte(`{"mine":1}`)}
	for _, c := range []struct{ name, arg, stdin string }{{"log.offset", offsetPath, ""}, {"stdin", "-", linesPath}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, base, func(int) bool { return true })
			rng := rand.New(rand.NewPCG(8, 8))
			mid, kills, finished := 0, 0, false
			for round := 0; round < 16 && !finished; round++ {
				// Two kills in three come from the import itself, right
				// after its first or second append of the run (a real
				// SIGKILL at a point a busy machine cannot make us miss);
				// the others at a random time, often during the check.
				aimed := round%3 != 0
				var env []string
				if aimed {
					env = []string{fmt.Sprintf("%s=%d", importKillAfterAppendEnv, 1+rng.IntN(2))}
				}
				cmd := importChild(t, dir, c.arg, c.stdin, 50+rng.IntN(200), env...)
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				var err error
				if aimed {
					err = <-exited
				} else {
					select {
					case err = <-exited:
					case <-time.After(time.Duration(rng.IntN(40)) * time.Millisecond):
						cmd.Process.Signal(syscall.SIGKILL)
						err = <-exited
					}
				}
				var ee *exec.ExitError
				if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
					kills++
				} else if err != nil {
					t.Fatalf("sluice import exited: %v", err)
				}
				n := int(logLast(t, dir)) - len(base)
				if err != nil && n > 0 && n < len(payloads) {
					mid++
				}
				// Finished, or killed after it removed its state (then
				// another run would find the import done).
				_, serr := os.Stat(filepath.Join(dir, importStateFile))
				finished = os.IsNotExist(serr) && n == len(payloads)
			}
			if !finished {
				if r := sluice(t, dir, readFile(t, c.stdin), "import", c.arg); r.code != 0 {
					t.Fatalf("the last import: %+v", r)
				}
			}
			checkImported(t, dir, base, payloads)
			t.Logf("%d kills, %d of them with the import part-way", kills, mid)
			if mid < 3 {
				t.Fatalf("only %d kills landed with the import part-way: the test proved little", mid)
			}
		})
	}
}

// importChild starts sluice import SRC as a child process, with standard
// input from the file stdin if not empty and env added to its environment.
func importChild(t *testing.T, dir, src, stdin string, batch int, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--dir", dir, "import", "--batch", fmt.Sprint(batch), src)
	cmd.Env = append(append(os.Environ(), "SLUICE_TEST_MAIN=1"), env...)
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() // the child has its own descriptor
		cmd.Stdin = f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
