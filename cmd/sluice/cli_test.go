package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
)

const fixture = "../../testdata/ssb/flume/log.offset"

func TestAppendCatTailStatus(t *testing.T) {
	dir := t.TempDir()
	if got := ok(t, dir, "", "append", "--local", "--json", `{"n":1}`); got != "1\n" {
		t.Fatalf("append --json printed %q", got)
	}
	if got := ok(t, dir, "{\"n\":2}\n\n  {\"n\":3}  \n{\"n\":4}", "append"); got != "2\n3\n4\n" {
		t.Fatalf("append from stdin printed %q", got)
	}
	// One bad line: nothing is appended, the error names the line.
	r := sluice(t, dir, "{\"n\":5}\n{\"n\":\n", "append")
	if r.code != 1 || !strings.Contains(r.err, "line 2") || !strings.Contains(r.err, "nothing was appended") {
		t.Fatalf("bad line: %+v", r)
	}
	for _, bad := range [][]string{{"append", "--json", "{oops"}, {"append", "--durability", "sometimes", "--json", "1"}, {"append", "extra"}, {"cat", "--bogus"},
		{"index", "--poll", "0s"}, {"index", "--stats-every", "0s"}, {"index", "--backlog-share", "2"}, {"index", "--backlog-share", "0"}, {"index", "--batch", "-1"}, {"index", "--tx-entries", "-5"}} {
		if r := sluice(t, dir, "", bad...); r.code != 2 {
			t.Fatalf("sluice %v: exit %d, want 2 (usage)", bad, r.code)
		}
	}
	if got := ok(t, dir, "", "cat"); got != "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n" {
		t.Fatalf("cat printed %q", got)
	}
	if got := ok(t, dir, "", "cat", "--from", "3"); got != "{\"n\":3}\n{\"n\":4}\n" {
		t.Fatalf("cat --from 3 printed %q", got)
	}
	lines := strings.Split(strings.TrimSpace(ok(t, dir, "", "tail", "-n", "2", "--json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail -n 2 printed %q", lines)
	}
	var e struct {
		Seq     int
		Origin  string
		Time    string
		Payload struct{ N int }
	}
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Seq != 4 || e.Origin != "remote" || e.Payload.N != 4 || e.Time == "" {
		t.Fatalf("tail --json line %q: %+v %v", lines[1], e, err)
	}
	var st logStatus
	if err := json.Unmarshal([]byte(ok(t, dir, "", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Head != 4 || st.Local != 1 || st.Remote != 3 || st.Bytes == 0 || len(st.Repairs) != 0 {
		t.Fatalf("status: %+v", st)
	}
}

func TestStatusReportsRepair(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "append", "--json", `{"a":1}`)
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "0*"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write(make([]byte, 100)) // a zero-filled tail, as a crash can leave
	f.Close()
	ok(t, dir, "", "append", "--json", `{"a":2}`)
	out := ok(t, dir, "", "status")
	if !strings.Contains(out, "dropped 100 bytes after seq 1") {
		t.Fatalf("status does not report the repair:\n%s", out)
	}
	if got := ok(t, dir, "", "cat"); got != "{\"a\":1}\n{\"a\":2}\n" {
		t.Fatalf("after repair the log holds %q", got)
	}
}

func TestImport(t *testing.T) {
	frames := ssbtest.OffsetPayloads(t, fixture)
	dir := t.TempDir()
	r := sluice(t, dir, "", "import", "../../testdata/ssb")
	if r.code != 0 || !strings.Contains(r.err, fmt.Sprintf("imported %d entries", len(frames))) {
		t.Fatalf("import: %+v", r)
	}
	got := strings.Split(strings.TrimSuffix(ok(t, dir, "", "cat"), "\n"), "\n")
	if len(got) != len(frames) {
		t.Fatalf("cat after import: %d entries, want %d", len(got), len(frames))
	}
	for i := range frames {
		if got[i] != string(frames[i]) {
			t.Fatalf("entry %d differs from frame %d", i+1, i+1)
		}
	}
	// JSON lines: a bad one imports nothing.
	r = sluice(t, dir, "{\"x\":1}\n[1,2\n", "import", "-")
	if r.code != 1 || !strings.Contains(r.err, "line 2") {
		t.Fatalf("import - with a bad line: %+v", r)
	}
	r = sluice(t, dir, "{\"x\":1}\n{\"x\":2}\n", "import", "-")
	if r.code != 0 || !strings.Contains(r.err, "imported 2 entries") {
		t.Fatalf("import -: %+v", r)
	}
	var st logStatus
	json.Unmarshal([]byte(ok(t, dir, "", "status", "--json")), &st)
	if st.Head != log.Seq(len(frames)+2) || st.Remote != int64(len(frames)+2) {
		t.Fatalf("status after imports: %+v", st)
	}
	// A file that is not a log.offset changes nothing.
	bad := filepath.Join(t.TempDir(), "log.offset")
	os.WriteFile(bad, []byte("this is not a flumelog"), 0o644)
	if r := sluice(t, dir, "", "import", bad); r.code != 1 || !strings.Contains(r.err, bad) {
		t.Fatalf("import of a foreign file: %+v", r)
	}
	json.Unmarshal([]byte(ok(t, dir, "", "status", "--json")), &st)
	if st.Head != log.Seq(len(frames)+2) {
		t.Fatalf("a failed import changed the log: head %d", st.Head)
	}
}

// reportCounts reads the per-type counts from the fixture's report.md,
// named as the messages table's type column names them.
func reportCounts(t *testing.T) map[string]int {
	t.Helper()
	out := ssbtest.ReadReport(t, "../../testdata/ssb/report.md").ByType
	out["NULL"] = out["private"] // the messages table has no type for private messages
	delete(out, "private")
	return out
}

func TestIndexAndQuery(t *testing.T) {
	dir := t.TempDir()
	r := sluice(t, dir, "", "index", "--ssb", fixture, "--view", "ssb", "--view", "../../testdata/views/posts.sql")
	if r.code != 0 || !strings.Contains(r.err, "indexed 3000 entries") {
		t.Fatalf("index: %+v", r)
	}
	want := reportCounts(t)

	// Table output.
	out := ok(t, dir, "", "query", "SELECT type, count(*) AS n FROM messages GROUP BY type")
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Scan()
	if f := strings.Fields(sc.Text()); len(f) != 2 || f[0] != "type" || f[1] != "n" {
		t.Fatalf("header %q", sc.Text())
	}
	got := map[string]int{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		got[f[0]], _ = strconv.Atoi(f[1])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages per type: %v, report.md says %v", got, want)
	}
	// JSON and CSV agree with it.
	var rows []struct {
		Type *string
		N    int
	}
	if err := json.Unmarshal([]byte(ok(t, dir, "", "query", "--json", "SELECT type, count(*) AS n FROM messages GROUP BY type")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		k := "NULL"
		if r.Type != nil {
			k = *r.Type
		}
		if want[k] != r.N {
			t.Fatalf("--json: %s = %d, want %d", k, r.N, want[k])
		}
	}
	recs, err := csv.NewReader(strings.NewReader(ok(t, dir, "", "query", "--csv", "SELECT count(*) AS posts, 'a,b' AS s FROM posts.posts"))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "posts" || recs[1][0] != strconv.Itoa(want["post"]) || recs[1][1] != "a,b" {
		t.Fatalf("--csv: %v %v", recs, err)
	}
	// Empty results still print the header.
	if out := ok(t, dir, "", "query", "SELECT seq FROM messages WHERE 0"); strings.TrimSpace(out) != "seq" {
		t.Fatalf("empty result printed %q", out)
	}
	if out := ok(t, dir, "", "query", "--json", "SELECT seq FROM messages WHERE 0"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty --json printed %q", out)
	}
	// Writes are refused, and change nothing.
	for _, q := range []string{"DELETE FROM messages", "INSERT INTO authors VALUES (1, 'x')", "DROP TABLE links", "CREATE TABLE t(x)", "ATTACH 'x.db' AS x", "PRAGMA user_version = 3"} {
		r := sluice(t, dir, "", "query", q)
		if r.code != 1 || !strings.Contains(r.err, "read-only") {
			t.Fatalf("query %q: %+v", q, r)
		}
	}
	if n := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM messages"); n != "count(*)\n3000\n" {
		t.Fatalf("after refused writes: %q", n)
	}
	if r := sluice(t, dir, "", "query", "SELECT nope FROM messages"); r.code != 1 || !strings.Contains(r.err, "no such column") {
		t.Fatalf("bad column: %+v", r)
	}
	if r := sluice(t, dir, "", "query", "--json", "--csv", "SELECT 1"); r.code != 2 {
		t.Fatalf("--json --csv: %+v", r)
	}
}

func TestViewsAndRebuild(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "index", "--ssb", fixture, "--view", "ssb", "--view", "../../testdata/views/votes.sql")
	var infos []viewInfo
	if err := json.Unmarshal([]byte(ok(t, dir, "", "views", "--json", "--ssb", fixture)), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("views: %+v", infos)
	}
	for _, v := range infos {
		if v.Since != 3000 || v.Lag == nil || *v.Lag != 0 || !v.IndexesBuilt {
			t.Fatalf("view %+v", v)
		}
	}
	before := ok(t, dir, "", "query", "--csv", "SELECT count(*), sum(value) FROM votes")
	r := sluice(t, dir, "", "rebuild", "votes", "--ssb", fixture)
	if r.code != 0 || !strings.Contains(r.err, "indexed 3000 entries") {
		t.Fatalf("rebuild: %+v", r)
	}
	if after := ok(t, dir, "", "query", "--csv", "SELECT count(*), sum(value) FROM votes"); after != before {
		t.Fatalf("rebuilt view differs: %q vs %q", after, before)
	}
	json.Unmarshal([]byte(ok(t, dir, "", "views", "--json", "--ssb", fixture)), &infos)
	for _, v := range infos {
		if v.Name == "votes" && !strings.Contains(v.RebuildReason, "sluice rebuild") {
			t.Fatalf("votes: %+v", v)
		}
	}
	if r := sluice(t, dir, "", "rebuild", "nope"); r.code != 1 || !strings.Contains(r.err, "no view") {
		t.Fatalf("rebuild of a missing view: %+v", r)
	}
}

func TestQueryCannotAttach(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "index", "--ssb", fixture)
	other := filepath.Join(t.TempDir(), "other.db")
	for _, q := range []string{"ATTACH '" + other + "' AS o", "/* hidden */ ATTACH '" + other + "' AS o", "DETACH ssb"} {
		if r := sluice(t, dir, "", "query", q); r.code != 1 {
			t.Fatalf("query %q: %+v", q, r)
		}
	}
	if _, err := os.Stat(other); err == nil {
		t.Fatal("a query created a file")
	}
}

func TestQueryWait(t *testing.T) {
	dir := t.TempDir()
	// Before any view exists, --wait waits for the views to come (an
	// indexer may have just started), then says what it waited for.
	r := sluice(t, dir, "", "query", "--wait", "1", "--timeout", "200ms", "SELECT count(*) FROM messages")
	if r.code != 1 || !strings.Contains(r.err, "did not show seq 1 within 200ms") || !strings.Contains(r.err, "no view files") {
		t.Fatalf("query --wait with no views yet: %+v", r)
	}
	// The same, with the indexer starting meanwhile: it prints the rows.
	// The indexer starts once the query is waiting for the views to come
	// (the hook says so), not before.
	waiting := make(chan struct{})
	var once sync.Once
	waitingForViews = func() { once.Do(func() { close(waiting) }) }
	waited := make(chan result, 1)
	go func() {
		waited <- sluice(t, dir, "", "query", "--csv", "--wait", "3000", "--timeout", "30s", "SELECT count(*) FROM messages")
	}()
	select {
	case <-waiting:
	case r := <-waited:
		t.Fatalf("query --wait 3000 ended before waiting for views: %+v", r)
	}
	ok(t, dir, "", "index", "--ssb", fixture)
	r = <-waited
	waitingForViews = nil
	if r.code != 0 || r.out != "count(*)\n3000\n" {
		t.Fatalf("query --wait 3000 started before the indexer: %+v", r)
	}

	if got := ok(t, dir, "", "query", "--csv", "--wait", "3000", "SELECT count(*) FROM messages"); got != "count(*)\n3000\n" {
		t.Fatalf("query --wait 3000 printed %q", got)
	}
	r = sluice(t, dir, "", "query", "--wait", "3001", "--timeout", "200ms", "SELECT 1")
	if r.code != 1 || !strings.Contains(r.err, "did not show seq 3001 within 200ms") || r.out != "" {
		t.Fatalf("query --wait beyond the log: %+v", r)
	}
	if r := sluice(t, dir, "", "query", "--wait", "1", "--wait-view", "nope", "SELECT 1"); r.code != 1 || !strings.Contains(r.err, `no view named "nope"`) {
		t.Fatalf("query --wait-view nope: %+v", r)
	}
	// A statement that would write fails before the wait, not at its end.
	if r := sluice(t, dir, "", "query", "--wait", "3001", "--timeout", "20s", "DELETE FROM messages"); r.code != 1 || !strings.Contains(r.err, "read-only") || strings.Contains(r.err, "did not show") {
		t.Fatalf("query --wait with a DELETE: %+v", r)
	}
}

// TestRejectedFirstAppend: a record over the default 16 MiB limit is refused
// with an error naming it and the limit, before the log is touched; on an
// empty log (as a refused first append once left), status, cat and index
// return at once (a Reader at an empty segment once reopened it forever).
func TestRejectedFirstAppend(t *testing.T) {
	dir := t.TempDir()
	big := `"` + strings.Repeat("a", 17<<20) + `"`
	r := sluice(t, dir, big, "append")
	if r.code != 1 || !strings.Contains(r.err, "line 1") || !strings.Contains(r.err, "over the log's limit of 16777216 bytes") {
		t.Fatalf("append of a 17 MiB record: %+v", result{r.out, r.err[:min(len(r.err), 300)], r.code})
	}
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	done := make(chan string, 1)
	go func() {
		var got []string
		for _, args := range [][]string{{"status"}, {"cat"}, {"index"}} {
			r := sluice(t, dir, "", args...)
			got = append(got, fmt.Sprintf("%s: exit %d, %q", args[0], r.code, r.out))
		}
		done <- strings.Join(got, "; ")
	}()
	select {
	case got := <-done:
		if !strings.Contains(got, "status: exit 0") || !strings.Contains(got, "head seq:   0") ||
			!strings.Contains(got, `cat: exit 0, ""`) || !strings.Contains(got, "index: exit 0") {
			t.Fatalf("on the empty log: %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("status, cat or index on an empty log did not return within 30s")
	}
}

// TestIndexLog: sluice index --log reads a native log in another directory;
// given a file, it says that a sluice log is a directory and points to
// --ssb.
func TestIndexLog(t *testing.T) {
	src := t.TempDir()
	ok(t, src, "", "import", "../../testdata/ssb")
	dir := t.TempDir()
	n := len(ssbtest.OffsetPayloads(t, fixture))
	r := sluice(t, dir, "", "index", "--log", filepath.Join(src, "log"))
	if r.code != 0 || !strings.Contains(r.err, fmt.Sprintf("indexed %d entries", n)) {
		t.Fatalf("index --log: %+v", r)
	}
	if got := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM messages"); got != fmt.Sprintf("count(*)\n%d\n", n) {
		t.Fatalf("messages after index --log: %q", got)
	}
	r = sluice(t, t.TempDir(), "", "index", "--log", fixture)
	if r.code != 1 || !strings.Contains(r.err, "is a directory") || !strings.Contains(r.err, "--ssb") {
		t.Fatalf("index --log FILE: %+v", r)
	}
}

// TestBenchCommandLine checks the command line a bench report records: the
// flags set, a repeatable one once per value, quoted for a shell.
func TestBenchCommandLine(t *testing.T) {
	root := newRootCmd(newEnv(strings.NewReader(""), io.Discard, io.Discard))
	c, _, err := root.Find([]string{"bench", "local"})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--runs", "5", "--no-watch=false", "--modes", "priority,priority+writer", "--index-flag=--poll=250us", "--index-flag", "--no-watch", "--out", "my results.md"}
	if err := c.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	want := "sluice bench local --index-flag=--poll=250us --index-flag=--no-watch --modes=priority,priority+writer --no-watch=false --out='my results.md' --runs=5"
	if got := benchCommandLine(c); got != want {
		t.Fatalf("benchCommandLine =\n%s\nwant\n%s", got, want)
	}
}
