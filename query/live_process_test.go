package query_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

// The sluice binary the cross-process tests run, built once per test run.
var sluiceBin struct {
	once sync.Once
	path string
	err  error
}

// sluiceBinary builds cmd/sluice into a directory removed at the end of
// the test run, once, and returns its path.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	sluiceBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-query-test-")
		if err != nil {
			sluiceBin.err = err
			return
		}
		binDirs = append(binDirs, dir)
		sluiceBin.path = filepath.Join(dir, "sluice")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", sluiceBin.path, "github.com/sluicedb/sluice/cmd/sluice").CombinedOutput()
		if err != nil {
			sluiceBin.err = fmt.Errorf("go build cmd/sluice: %v\n%s", err, out)
		}
	})
	if sluiceBin.err != nil {
		t.Fatal(sluiceBin.err)
	}
	return sluiceBin.path
}

// binDirs are removed by TestMain.
var binDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range binDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// runSluice runs the sluice binary over dir and returns its stdout.
func runSluice(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBinary(t), append([]string{"--dir", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// post is an SSB post by author, as testdata/views/posts.sql indexes it.
func post(key, author, text string) string {
	return fmt.Sprintf(`{"key":"%%%s","value":{"author":"%s","sequence":1,"timestamp":1,"content":{"type":"post","text":"%s"}}}`, key, author, text)
}

// appendEntry appends one entry with "sluice append" and returns its seq.
func appendEntry(t *testing.T, dir, payload string) log.Seq {
	t.Helper()
	out := runSluice(t, dir, "append", "--json", payload)
	n, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("sluice append printed %q", out)
	}
	return log.Seq(n)
}

// TestLiveAcrossProcesses watches a query in this process while other
// processes append (sluice append) and index (sluice index --follow): each
// entry that changes the result is delivered, entries the WHERE clause
// excludes are not, and closing leaves no goroutine behind. With the watch
// alone (an hour-long poll) and with the poll alone.
func TestLiveAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	for _, tc := range []struct {
		name string
		opts query.LiveOptions
	}{
		{"watch", query.LiveOptions{Poll: time.Hour}},
		{"poll", query.LiveOptions{NoWatch: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.opts.NoWatch && runtime.GOOS != "linux" {
				t.Skip("the watch is inotify, on Linux only")
			}
			testLiveAcrossProcesses(t, tc.opts)
		})
	}
}

func testLiveAcrossProcesses(t *testing.T, opts query.LiveOptions) {
	rl := newRunLog()
	dir := t.TempDir()
	posts, err := filepath.Abs(filepath.Join("..", "testdata", "views", "posts.sql"))
	if err != nil {
		t.Fatal(err)
	}
	appendEntry(t, dir, post("1", "@alice", "hello"))
	runSluice(t, dir, "index", "--view", posts) // creates views/posts.db

	follower := exec.Command(sluiceBinary(t), "--dir", dir, "index", "--follow", "--view", posts)
	var followErr bytes.Buffer
	follower.Stderr = &followErr
	if err := follower.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- follower.Wait() }()
	defer func() {
		follower.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			follower.Process.Kill()
			<-exited
			t.Errorf("sluice index --follow did not stop within 30 s of SIGINT:\n%s", followErr.String())
		}
	}()

	_, l := openLive(t, filepath.Join(dir, "views"), rl.opts(opts))
	base := runtime.NumGoroutine()
	s, err := l.Subscribe(t.Context(), `SELECT count(*), group_concat(text, '|') FROM (SELECT text FROM posts WHERE author = ? ORDER BY seq)`, "@alice")
	if err != nil {
		t.Fatal(err)
	}
	r := next(t, s)
	if rowsOf(r) != "1,hello" || since(t, r, "posts") != 1 {
		t.Fatalf("first result %q since %d, want 1,hello since 1", rowsOf(r), since(t, r, "posts"))
	}
	await := func(seq log.Seq) *query.Result {
		t.Helper()
		for !r.Shows("posts", seq) {
			r = next(t, s)
		}
		return r
	}
	seq := appendEntry(t, dir, post("2", "@alice", "again"))
	if r := await(seq); rowsOf(r) != "2,hello|again" || r.N != 2 {
		t.Fatalf("after seq %d: %q (result %d), want 2,hello|again (result 2)", seq, rowsOf(r), r.N)
	}
	for _, p := range []string{post("3", "@bob", "not alice"), `{"key":"%4","value":{"author":"@alice","content":{"type":"vote"}}}`} {
		seq := appendEntry(t, dir, p)
		if x := rl.waitRun(t, s, seq); x.delivered {
			t.Fatalf("seq %d does not change the result, but the run reflecting it was delivered: %+v", seq, x)
		}
	}
	seq = appendEntry(t, dir, post("5", "@alice", "third"))
	if r := await(seq); rowsOf(r) != "3,hello|again|third" || r.N != 3 {
		t.Fatalf("after seq %d: %q (result %d), want 3,hello|again|third (result 3: none for seqs 3 and 4)", seq, rowsOf(r), r.N)
	}
	s.Close()
	waitGoroutines(t, base)
}
