package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// watchChild is a sluice process that watches (query --watch, lattice get
// --watch): its stdout and stderr lines as they come, each channel closed
// at the end of its stream.
type watchChild struct {
	cmd       *exec.Cmd
	out, errs chan string
}

// startWatch starts sluice --dir dir args... as a child.
func startWatch(t *testing.T, dir string, args ...string) *watchChild {
	t.Helper()
	cmd := sluiceCmd(dir, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr := startProcess(t, cmd)
	w := &watchChild{cmd: cmd, out: make(chan string, 100), errs: make(chan string, 100)}
	go scanLines(bufio.NewScanner(stdout), w.out)
	go scanLines(stderr, w.errs)
	return w
}

func scanLines(s *bufio.Scanner, ch chan<- string) {
	for s.Scan() {
		ch <- s.Text()
	}
	close(ch)
}

// nextLine returns the next line from ch, failing the test if none comes
// within 30 s or the stream ends.
func nextLine(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatalf("%s ended", what)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("no line on %s within 30 s", what)
	}
	return ""
}

// block reads a result of the table output: the lines up to an empty one.
func (w *watchChild) block(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for {
		l := nextLine(t, w.out, "the table watcher's stdout")
		b.WriteString(l + "\n")
		if l == "" {
			return b.String()
		}
	}
}

// stop sends SIGINT and checks that the watcher exits 0 within 30 s with
// nothing more on stdout.
func (w *watchChild) stop(t *testing.T) {
	t.Helper()
	w.cmd.Process.Signal(os.Interrupt)
	for l := range w.out {
		t.Errorf("after the last result, stdout said %q", l)
	}
	for range w.errs {
	}
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("query --watch after SIGINT: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("query --watch did not exit within 30 s of SIGINT")
	}
}

// waitUnchanged waits (30 s at most) for the stderr line want of a
// --verbose watcher, failing the test if a result is printed first.
func (w *watchChild) waitUnchanged(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l := <-w.errs:
			if l == want {
				return
			}
			t.Logf("stderr: %s", l)
		case l := <-w.out:
			t.Fatalf("printed a result while waiting for %q: %q", want, l)
		case <-deadline:
			t.Fatalf("no %q on stderr within 30 s", want)
		}
	}
}

// runChild runs sluice args... in a child process and fails the test
// unless it exits 0 within 30 s.
func runChild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd, stderr := process(t, dir, args...)
	if err := waitExit(t, cmd, stderr, 30*time.Second); err != nil {
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
}

// watchLine is a line of sluice query --watch --json, as the help describes it.
type watchLine struct {
	N       uint64              `json:"n"`
	Time    time.Time           `json:"time"`
	Columns []string            `json:"columns"`
	Rows    []map[string]string `json:"rows"`
	Views   []struct {
		File  string  `json:"file"`
		View  string  `json:"view"`
		Since int64   `json:"since"`
		Ahead []int64 `json:"ahead"`
	} `json:"views"`
}

// checkLine parses a JSON line and compares it with the result numbered n,
// whose rows are k=v pairs ("a=x"), reflecting the kv view up to since.
func checkLine(t *testing.T, line string, n uint64, since int64, rows ...string) {
	t.Helper()
	var got watchLine
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not a JSON object: %q: %v", line, err)
	}
	var want []map[string]string
	for _, r := range rows {
		k, v, _ := strings.Cut(r, "=")
		want = append(want, map[string]string{"k": k, "v": v})
	}
	ok := got.N == n && reflect.DeepEqual(got.Columns, []string{"k", "v"}) && reflect.DeepEqual(got.Rows, want) &&
		len(got.Views) == 1 && got.Views[0].File == "kv" && got.Views[0].View == "kv" && got.Views[0].Since == since &&
		len(got.Views[0].Ahead) == 0 && time.Since(got.Time) < time.Minute
	if !ok {
		t.Fatalf("got %q\nwant result %d with rows %v, kv since %d", line, n, rows, since)
	}
}

// TestQueryWatchAcrossProcesses runs sluice index --follow and two sluice
// query --watch processes (JSON lines with --verbose, and the table) while
// sluice append adds entries from other processes: each result comes with
// the seq it reflects; an entry the query's WHERE excludes prints nothing
// (its run is seen on stderr first, then the next change comes as the
// next result); SIGINT ends the watchers with exit 0. Expected results are
// written out by hand.
func TestQueryWatchAcrossProcesses(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	indexer, ixErr := process(t, dir, "index", "--follow", "--view", filepath.Join(dir, "kv.sql"))
	q := `SELECT k, v FROM kv WHERE k <> 'skip' ORDER BY seq`
	js := startWatch(t, dir, "query", "--watch", "--json", "--verbose", q)
	table := startWatch(t, dir, "query", "--watch", q)

	checkLine(t, nextLine(t, js.out, "stdout"), 1, 1, "a=x")
	blocks := []string{table.block(t)}
	runChild(t, dir, "append", "--json", `{"k":"b","v":"y"}`) // seq 2
	checkLine(t, nextLine(t, js.out, "stdout"), 2, 2, "a=x", "b=y")
	blocks = append(blocks, table.block(t))

	runChild(t, dir, "append", "--json", `{"k":"skip","v":"z"}`) // seq 3: the same result
	js.waitUnchanged(t, "sluice: watch: result unchanged at kv since 3")
	runChild(t, dir, "append", "--json", `{"k":"c","v":"w"}`) // seq 4
	checkLine(t, nextLine(t, js.out, "stdout"), 3, 4, "a=x", "b=y", "c=w")
	blocks = append(blocks, table.block(t))
	js.stop(t)
	table.stop(t)

	want := `-- result 1 at T: kv since 1
k  v
a  x

-- result 2 at T: kv since 2
k  v
a  x
b  y

-- result 3 at T: kv since 4
k  v
a  x
b  y
c  w

`
	stamp := regexp.MustCompile(`(?m)^(-- result \d+ at )\d\d:\d\d:\d\d\.\d\d\d:`)
	if got := stamp.ReplaceAllString(strings.Join(blocks, ""), "${1}T:"); got != want {
		t.Errorf("table output:\n%s\nwant:\n%s", got, want)
	}
	indexer.Process.Signal(os.Interrupt)
	if err := waitExit(t, indexer, ixErr, 30*time.Second); err != nil {
		t.Errorf("index --follow: %v", err)
	}
}

// TestQueryWatchRefuses: a statement that would write, or --csv, is
// refused before anything starts, and the view is as it was.
func TestQueryWatchRefuses(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"query", "--watch", "DELETE FROM kv"}, 1, "read-only"},
		{[]string{"query", "--watch", "--json", "UPDATE kv SET v = 'y'"}, 1, "read-only"},
		{[]string{"query", "--watch", "--csv", "SELECT * FROM kv"}, 2, "not CSV"},
		{[]string{"query", "--watch", "SELECT nope FROM kv"}, 1, "no such column: nope"},
	} {
		r := sluice(t, dir, "", c.args...)
		if r.code != c.code || r.out != "" || !strings.Contains(r.err, c.want) {
			t.Errorf("sluice %q: exit %d, stdout %q, stderr %q; want exit %d, no output, an error saying %q", c.args, r.code, r.out, r.err, c.code, c.want)
		}
	}
	if got := ok(t, dir, "", "query", "--csv", "SELECT k, v FROM kv"); got != "k,v\na,x\n" {
		t.Errorf("kv after the refused statements: %q", got)
	}
}

// firstWrite is an io.Writer that closes written on its first write.
type firstWrite struct {
	written chan struct{}
	n       int
}

func (w *firstWrite) Write(p []byte) (int, error) {
	if w.n++; w.n == 1 {
		close(w.written)
	}
	return len(p), nil
}

// TestQueryWatchCancelled runs query --watch in this process: once its
// first result is printed, the context ends (as on SIGINT); it returns
// exit 0 and leaves no goroutine behind.
func TestQueryWatchCancelled(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	out := &firstWrite{written: make(chan struct{})}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--dir", dir, "query", "--watch", "SELECT count(*) FROM kv"}, newEnv(strings.NewReader(""), out, os.Stderr))
	}()
	select {
	case <-out.written:
	case <-time.After(30 * time.Second):
		t.Fatal("no result within 30 s")
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d after the context ended, want 0", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("query --watch did not return within 30 s of the end of its context")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
