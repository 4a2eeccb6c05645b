//go:build firstuser

package firstuser

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestImportTwiceDuplicates: sluice import of the same source, run a
// second time after the first finished, appends every entry again (the
// 3000-message fixture gives a log of 6000), without a word. The help
// speaks only of resuming an import that stopped part way; SQL views that
// count entries count everything twice.
//
// Expected: the second run finds the source already imported and imports
// nothing (or refuses without a flag that asks for a second copy).
func TestImportTwiceDuplicates(t *testing.T) {
	dir := t.TempDir()
	src, err := filepath.Abs("../../testdata/ssb")
	if err != nil {
		t.Fatal(err)
	}
	ok(t, dir, nil, "import", src)
	first := len(logEntries(t, dir))
	r := run(t, dir, nil, "import", src)
	if got := len(logEntries(t, dir)); got != first {
		t.Errorf("a second import of %s (exit %d, %q) took the log from %d to %d entries", src, r.code, strings.TrimSpace(r.out+r.err), first, got)
	}
}

// TestConcurrentAppendProcesses: 30 sluice append processes, 5 appends
// each, at once. Each process holds the log's lock only while it opens
// the log, appends one entry and closes it (about 60 ms, 8 fsyncs), but 13
// of the 150 appends failed: "log is locked by another process (waited
// for 5s …)". Waiting by polling the lock is unfair, so some process waits
// out its 5 s while others get in.
//
// Expected: every append succeeds (a fair wait for the lock, or a cheaper
// open), as the README says sluice append waits for the lock.
func TestConcurrentAppendProcesses(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, nil, "append", "--json", `{"init":true}`)
	const procs, each = 30, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := run(t, dir, nil, "append", "--local", "--json", fmt.Sprintf(`{"p":%d,"i":%d}`, p, i))
				if r.code != 0 {
					mu.Lock()
					failures = append(failures, strings.TrimSpace(r.err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d appends by %d concurrent processes failed; first: %s", len(failures), procs*each, procs, failures[0])
	}
	if got, want := len(logEntries(t, dir)), 1+procs*each-len(failures); got != want {
		t.Errorf("the log holds %d entries, want %d", got, want)
	}
}

// TestQueryTableControlBytes: sluice query prints values in a table built
// with text/tabwriter. A text value holding the byte 0xff (tabwriter's
// escape character; non-UTF-8 text reaches views from SSB logs and from
// Go programs) starts an "escaped" segment that runs to the next 0xff, so
// the rows between lose their alignment and print raw tabs. Control
// characters such as ESC go to the terminal raw: a replicated entry can
// carry terminal escape sequences that sluice query plays on the user's
// terminal. (Tabs and newlines are already replaced by spaces.)
//
// Expected: every row of the table is aligned and holds no control
// characters (shown escaped, as \x1b or the like).
func TestQueryTableControlBytes(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, nil, "append", "--json", `{"x":1}`)
	ok(t, dir, nil, "index")
	out := ok(t, dir, nil, "query", `SELECT CAST(x'ff41' AS TEXT) AS a, 1 AS b UNION ALL SELECT 'xyz', 2 UNION ALL SELECT CAST(x'ff' AS TEXT), 3 UNION ALL SELECT char(27) || '[31mred', 4`)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 rows, got %q", out)
	}
	col := strings.LastIndex(lines[0], "b")
	for _, l := range lines[1:] {
		if strings.ContainsAny(l, "\t\x1b") {
			t.Errorf("row %q holds a raw tab or ESC", l)
		}
	}
	// The second column starts where its header does, in bytes, on the
	// row holding only ASCII.
	if i := strings.Index(lines[2], "2"); i != col {
		t.Errorf("row %q: column b at byte %d, header at %d (the 0xff of another row broke the alignment)", lines[2], i, col)
	}
}
