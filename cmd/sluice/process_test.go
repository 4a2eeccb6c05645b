package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
)

// writeLog appends payloads to the native log in dir/log; local says which
// are local entries.
func writeLog(t *testing.T, dir string, payloads [][]byte, local func(i int) bool) {
	t.Helper()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var recs []log.Record
	for i, p := range payloads {
		o := log.Remote
		if local != nil && local(i) {
			o = log.Local
		}
		recs = append(recs, log.Record{Origin: o, Payload: p})
	}
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		if _, err := l.Append(context.Background(), recs[:n]...); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

var sqlViews = []string{"--view", "ssb", "--view", "../../testdata/views/posts.sql", "--view", "../../testdata/views/votes.sql"}

func dumpViews(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"ssb", "posts", "votes"} {
		d, err := ssbtest.Dump(filepath.Join(dir, "views", name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = d
	}
	return out
}

func compareDumps(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Fatalf("view %s differs from the uninterrupted build:\n%s", name, ssbtest.Diff(w, got[name]))
		}
	}
}

// TestFollowAndWait runs sluice index --follow in one process and sluice
// append --local --wait in another (this one): the seq is printed once the
// views show it; with the follower watching the log (the default) and
// polling it (--no-watch).
func TestFollowAndWait(t *testing.T) {
	for _, flags := range [][]string{nil, {"--no-watch"}} {
		t.Run(strings.Join(append([]string{"index", "--follow"}, flags...), " "), func(t *testing.T) {
			testFollowAndWait(t, flags)
		})
	}
}

func testFollowAndWait(t *testing.T, flags []string) {
	dir := t.TempDir()
	writeLog(t, dir, ssbtest.Generate(ssbtest.Options{Seed: 1, Messages: 2000, Authors: 5}), nil)
	cmd, stderr := process(t, dir, append(append([]string{"index", "--follow"}, flags...), sqlViews...)...)
	// Wait (bounded) for the first view file to exist before --wait
	// looks for views.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, err := os.Stat(filepath.Join(dir, "views", "votes.db")); err != nil; _, err = os.Stat(filepath.Join(dir, "views", "votes.db")) {
		if ctx.Err() != nil {
			t.Fatal("no view files after 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	msgs := ssbtest.Generate(ssbtest.Options{Seed: 2, Messages: 5, Authors: 1})
	for i, m := range msgs {
		r := sluice(t, dir, "", "append", "--local", "--wait", "--wait-view", "ssb", "--timeout", "20s", "--json", string(m))
		if r.code != 0 {
			t.Fatalf("append --wait #%d: %+v", i, r)
		}
		seq := strings.TrimSpace(r.out)
		if want := strconv.Itoa(2000 + i + 1); seq != want {
			t.Fatalf("append printed %q, want %s", seq, want)
		}
		// Visible to a query at once.
		if got := ok(t, dir, "", "query", "--csv", "SELECT count(*) FROM messages WHERE seq = "+seq); got != "count(*)\n1\n" {
			t.Fatalf("seq %s not in messages after --wait: %q", seq, got)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if err := waitExit(t, cmd, stderr, 30*time.Second); err != nil {
		t.Fatalf("index --follow after SIGINT: %v", err)
	}
}

// TestFollowSSB runs sluice index --follow --ssb over a log.offset the way
// an ssb-server grows it: empty at the start, then the fixture's bytes
// appended by another process (this one) in pieces that end on a frame
// boundary, inside a frame's length, payload or trailer, or one frame at
// a time. After each piece the views show exactly the complete frames (a
// torn last frame is not indexed, and is once completed); at the end they
// are identical, table by table and row by row, to a one-shot index of the
// whole fixture.
func TestFollowSSB(t *testing.T) {
	frames := ssbtest.OffsetPayloads(t, fixture)
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]int, len(frames)) // ends[i]: offset after frame i+1
	for i, off := 0, 0; i < len(frames); i++ {
		off += 12 + len(frames[i])
		ends[i] = off
	}
	once := t.TempDir()
	ok(t, once, "", "index", "--ssb", fixture)
	want, err := ssbtest.Dump(filepath.Join(once, "views", "ssb.db"))
	if err != nil {
		t.Fatal(err)
	}

	// The pieces: the first frames one at a time, each in two parts, then
	// cuts at random places of random frames, then the rest.
	rng := rand.New(rand.NewPCG(16, 16))
	var cuts []int
	for i := 0; i < 4; i++ {
		cuts = append(cuts, ends[i]-len(frames[i])/2, ends[i])
	}
	for f := 4; f < len(frames)-1; f += 1 + rng.IntN(150) {
		start := ends[f-1]
		switch rng.IntN(4) {
		case 0: // a frame boundary
			cuts = append(cuts, ends[f])
		case 1: // inside the length
			cuts = append(cuts, start+1+rng.IntN(3))
		case 2: // inside the payload
			cuts = append(cuts, start+4+rng.IntN(len(frames[f])))
		default: // inside the trailing length and next-frame offset
			cuts = append(cuts, ends[f]-1-rng.IntN(8))
		}
	}
	cuts = append(cuts, len(data))

	dir := t.TempDir()
	path := filepath.Join(dir, "log.offset")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := process(t, dir, "index", "--follow", "--ssb", path)
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(filepath.Join(dir, "views", "ssb.db")); err != nil; _, err = os.Stat(filepath.Join(dir, "views", "ssb.db")) {
		if time.Now().After(deadline) {
			t.Fatal("no view file after 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	written, torn := 0, 0
	for _, cut := range cuts {
		if _, err := f.Write(data[written:cut]); err != nil {
			t.Fatal(err)
		}
		written = cut
		complete := sort.SearchInts(ends, cut+1) // frames ending at or before cut
		if ends[max(complete-1, 0)] != cut {
			torn++
		}
		if complete == 0 {
			continue
		}
		got := ok(t, dir, "", "query", "--wait", strconv.Itoa(complete), "--timeout", "20s", "--csv", "SELECT count(*), max(seq) FROM messages")
		if exp := fmt.Sprintf("count(*),max(seq)\n%d,%d\n", complete, complete); got != exp {
			t.Fatalf("the file ends at byte %d, after frame %d: the views hold %q, want %q", cut, complete, got, exp)
		}
	}
	if torn < 10 {
		t.Fatalf("only %d of %d pieces ended inside a frame", torn, len(cuts))
	}
	cmd.Process.Signal(os.Interrupt)
	if err := waitExit(t, cmd, stderr, 30*time.Second); err != nil {
		t.Fatalf("index --follow --ssb after SIGINT: %v", err)
	}
	got, err := ssbtest.Dump(filepath.Join(dir, "views", "ssb.db"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("following the growing log.offset (%d pieces, %d ending inside a frame) gave other tables than a one-shot index:\n%s", len(cuts), torn, ssbtest.Diff(want, got))
	}
	t.Logf("%d pieces, %d ending inside a frame", len(cuts), torn)
}

// TestReadWhileIndexing reads a view file with the sqlite3 shell and with a
// second database connection while sluice index writes it: every read
// succeeds and sees the table grow, never shrink.
func TestReadWhileIndexing(t *testing.T) {
	dir := t.TempDir()
	const n = 60000
	writeLog(t, dir, ssbtest.Generate(ssbtest.Options{Seed: 3, Messages: n, Authors: 30}), nil)
	cmd, stderr := process(t, dir, "index", "--batch", "100")
	path := filepath.Join(dir, "views", "ssb.db")
	deadline := time.Now().Add(60 * time.Second)
	for _, err := os.Stat(path); err != nil; _, err = os.Stat(path) {
		if time.Now().After(deadline) {
			t.Fatal("no view file")
		}
		time.Sleep(time.Millisecond)
	}
	exited := make(chan error, 1)
	go func() { exited <- waitExit(t, cmd, stderr, 60*time.Second) }()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shell, _ := exec.LookPath("sqlite3")
	if shell == "" {
		t.Log("no sqlite3 shell on this machine: reading with database/sql only")
	}
	last, reads, shellReads := 0, 0, 0
	for done := false; !done; {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("sluice index: %v", err)
			}
			done = true
		default:
		}
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM messages`).Scan(&c); err != nil {
			if strings.Contains(err.Error(), "no such table") && last == 0 {
				continue // the schema is being created
			}
			t.Fatalf("read %d during indexing: %v", reads, err)
		}
		if c < last {
			t.Fatalf("messages went from %d to %d rows", last, c)
		}
		last = c
		reads++
		if shell != "" && reads%10 == 0 {
			out, err := exec.Command(shell, path, "SELECT count(*) FROM messages;").CombinedOutput()
			if err != nil && !strings.Contains(string(out), "no such table") {
				t.Fatalf("sqlite3 shell during indexing: %v: %s", err, out)
			}
			shellReads++
		}
	}
	if last != n {
		t.Fatalf("after indexing: %d messages, want %d", last, n)
	}
	t.Logf("%d reads (%d with the sqlite3 shell) during indexing", reads, shellReads)
}

// TestIndexCrashWithLocalAhead kills sluice index --follow while this
// process appends local entries, which the indexer applies ahead of the
// backlog and records in the views' meta: after restarts, every entry is
// applied exactly once and the views equal a build in seq order.
func TestIndexCrashWithLocalAhead(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	backlog := ssbtest.Generate(ssbtest.Options{Seed: 5, Messages: 30000, Authors: 20})
	locals := ssbtest.Generate(ssbtest.Options{Seed: 6, Messages: 400, Authors: 2})
	dir := t.TempDir()
	writeLog(t, dir, backlog, nil)
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	appended, maxAhead := 0, 0
	stats := filepath.Join(t.TempDir(), "stats")
	for round := 0; round < 60 && appended < len(locals); round++ {
		os.Remove(stats)
		cmd, stderr := process(t, dir, append([]string{"index", "--follow", "--stats-file", stats, "--batch", strconv.Itoa(50 + rng.IntN(500))}, sqlViews...)...)
		go func() {
			for stderr.Scan() {
			}
		}()
		// Once it is indexing, append a few local entries, then kill it.
		waitIndexing(t, stats)
		for k := 1 + rng.IntN(12); k > 0 && appended < len(locals); k-- {
			if _, err := l.Append(context.Background(), log.Record{Origin: log.Local, Payload: locals[appended]}); err != nil {
				t.Fatal(err)
			}
			appended++
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond) // pacing of the workload
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond) // a random point to crash at
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if fileExists(filepath.Join(dir, "views", "ssb.db")) {
			var n int
			db, _ := sql.Open("sqlite3", "file:"+filepath.Join(dir, "views", "ssb.db")+"?mode=ro")
			if db.QueryRow(`SELECT count(*) FROM sluice_ahead`).Scan(&n) == nil && n > maxAhead {
				maxAhead = n
			}
			db.Close()
		}
	}
	for ; appended < len(locals); appended++ {
		l.Append(context.Background(), log.Record{Origin: log.Local, Payload: locals[appended]})
	}
	l.Close()
	ok(t, dir, "", append([]string{"index"}, sqlViews...)...)
	if maxAhead == 0 {
		t.Fatal("no local entry was ever applied ahead of the backlog: the test proved nothing")
	}
	t.Logf("up to %d local entries were ahead of since at a kill", maxAhead)

	ref := t.TempDir()
	all := append(append([][]byte(nil), backlog...), locals...)
	writeLog(t, ref, all, func(i int) bool { return i >= len(backlog) })
	ok(t, ref, "", append([]string{"index"}, sqlViews...)...)
	compareDumps(t, dumpViews(t, dir), dumpViews(t, ref))
}

// waitIndexing waits (bounded) until a --stats-file shows the indexer at
// work: its first sample is written after the views are open.
func waitIndexing(t *testing.T, stats string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(stats); err == nil && len(b) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the indexer wrote no progress in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}
